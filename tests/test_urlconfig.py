"""core.lab.urlconfig and core.engine.presets: settings to URL text and back; a bad link never raises."""

import random
from dataclasses import replace

import pytest

from core.engine.config import ACTIVATIONS, SETTINGS, TrainConfig
from core.engine.presets import DEFAULT, LECTURE, PRESETS, QUICK, preset_name
from core.lab.urlconfig import config_params, from_query, to_query

parse_hidden, format_hidden = SETTINGS["hidden"].kind.parse, SETTINGS["hidden"].kind.to_url  # a link's spelling


@pytest.mark.parametrize("config", [QUICK, LECTURE, TrainConfig(
    lr=1e-05, batch_size=1, epochs=100, hidden=(), optimizer="momentum", weight_decay=0.0001, seed=2**31 - 1,
    normalize="standard", train_subset=1234, overfit_one_batch=True, overfit_steps=7, mixed_precision="bf16",
    device="cpu"), TrainConfig(lr=0.1 + 0.2, hidden=(1,) * 16)])
def test_every_config_survives_a_round_trip_through_the_url(config):
    params = to_query(config)
    assert all(isinstance(v, str) for v in params.values())
    assert from_query(params) == (config, [])


def test_the_main_settings_are_always_written_the_rest_only_when_changed():
    assert set(to_query(QUICK)) == {"lr", "batch_size", "epochs", "hidden", "optimizer", "normalize", "seed"}
    assert to_query(QUICK)["hidden"] == "256-128"
    assert to_query(TrainConfig(train_subset=5000))["train_subset"] == "5000"


def test_no_parameters_mean_the_default_preset():
    assert from_query({}) == (DEFAULT, [])
    assert DEFAULT == QUICK


def test_a_partial_link_changes_only_what_it_names():
    config, warnings = from_query({"lr": "0.05", "optimizer": "SGD", "hidden": "64, 32", "job": "x"})
    assert warnings == []
    assert (config.lr, config.optimizer, config.hidden, config.batch_size) == (0.05, "sgd", (64, 32), QUICK.batch_size)


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("lr", "abc", "not a number"),
    ("lr", "nan", "not a finite number"),
    ("lr", "1000", "0.000001 to 100"),
    ("batch_size", "1.5", "not a whole number"),
    ("batch_size", "0", "1 to 8,192"),
    ("epochs", "", "not a whole number"),
    ("hidden", "12-x", "whole numbers separated by commas"),
    ("hidden", "5000", "1 to 1024 units"),
    ("optimizer", "rmsprop", "one of sgd, momentum, adam"),
    ("overfit_one_batch", "maybe", "true or false"),
    ("train_subset", "70000", "1 to 60,000"),
    ("device", "tpu", "one of auto, cpu"),
    ("hidden", "²", "whole numbers separated by commas"),  # a digit to str.isdigit, not to int()
    ("hidden", "128 ⁶⁴", "whole numbers separated by commas"),
    ("hidden", "9" * 5000, "far too many digits"),  # int() reads at most 4,300
    ("seed", "+" + "9" * 5000, "far too many digits"),
    ("lr", "1e999", "not a finite number"),
])
def test_a_bad_value_gives_a_warning_and_keeps_the_default(key, value, reason):
    config, warnings = from_query({key: value, "epochs": "2"} if key != "epochs" else {key: value})
    assert getattr(config, key) == getattr(DEFAULT, key)
    assert len(warnings) == 1 and key in warnings[0] and reason in warnings[0]
    assert "instead" in warnings[0]


def test_repeated_keys_take_the_last_value_and_long_junk_is_shortened():
    assert from_query({"lr": ["0.1", "0.2"]})[0].lr == 0.2
    config, (warning,) = from_query({"optimizer": "x" * 500})
    assert config == DEFAULT and len(warning) < 200


def test_random_junk_never_raises():
    rng = random.Random(0)
    alphabet = "0123456789.-e,abc nN"
    keys = list(to_query(TrainConfig(train_subset=5, overfit_one_batch=True, weight_decay=0.1)))
    for _ in range(500):
        params = {rng.choice(keys): "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))}
        config, warnings = from_query(params)
        assert isinstance(config, TrainConfig) and len(warnings) <= 1


def test_unusual_digits_are_read_or_explained_in_plain_words():
    assert from_query({"hidden": "１２８", "epochs": "５"})[0].hidden == (128,)  # full-width digits are digits
    for key in ("hidden", "epochs", "lr", "train_subset"):
        for text in ("²", "½", "Ⅻ", "9" * 5000, "inf", "nan"):
            _, (warning,) = from_query({key: text})
            assert "int()" not in warning and "literal" not in warning and "4300" not in warning, warning


def test_hidden_text_forms():
    assert parse_hidden("128, 64") == parse_hidden("128-64") == parse_hidden(" 128 64 ") == (128, 64)
    assert parse_hidden("none") == parse_hidden("") == ()
    assert format_hidden(()) == "none" and format_hidden((3,)) == "3"
    with pytest.raises(ValueError):
        parse_hidden("1.5")


def test_config_params_keeps_only_settings():
    assert config_params({"lr": "1", "job": "abc", "hidden": ["1", "2"]}) == {"lr": "1", "hidden": "2"}


def test_presets_have_names_and_the_lecture_is_the_lecture():
    assert (LECTURE.optimizer, LECTURE.lr, LECTURE.batch_size, LECTURE.epochs) == ("sgd", 0.01, 64, 3)
    assert LECTURE.to_dict() == TrainConfig().to_dict()
    assert {preset_name(p) for p in PRESETS.values()} == set(PRESETS)
    assert preset_name(TrainConfig(lr=0.5)) is None


@pytest.mark.parametrize(("name", "value"), [*(("activation", a) for a in ACTIVATIONS),
                                             *(("dropout", d) for d in (0.0, 0.1, 0.25, 0.5, 0.8))])
def test_every_activation_and_dropout_survives_a_link(name, value):
    config = replace(TrainConfig(), **{name: value})
    assert from_query(to_query(config)) == (config, [])


def test_a_link_with_a_bad_activation_or_dropout_keeps_the_default_and_says_why():
    config, warnings = from_query({"activation": "swish", "dropout": "0.9"})
    assert (config.activation, config.dropout) == ("relu", 0.0)
    assert "one of relu, tanh, sigmoid, gelu, leaky_relu" in warnings[0] and "0 to 0.8" in warnings[1]
