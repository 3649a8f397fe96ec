import pytest

from core.engine.config import ConfigError, TrainConfig


def test_defaults_are_the_lectures_setup():
    c = TrainConfig()
    settings = (c.optimizer, c.lr, c.batch_size, c.epochs, c.hidden, c.normalize)
    assert settings == ("sgd", 0.01, 64, 3, (128, 64), "plain")
    assert c.layers_text() == "784 → 128 → 64 → 10"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("lr", -1.0, "0.000001 to 100"),
        ("lr", float("nan"), "0.000001 to 100"),
        ("lr", "0.1", "0.000001 to 100"),
        ("batch_size", 0, "1 to 8,192"),
        ("batch_size", 2.5, "whole number"),
        ("epochs", 101, "1 to 100"),
        ("hidden", (128, 0), "1 to 1024 units"),
        ("hidden", (2000,), "1 to 1024 units"),
        ("hidden", (8,) * 17, "at most 16"),
        ("optimizer", "rmsprop", "sgd, momentum, adam"),
        ("weight_decay", 2.0, "0 to 1"),
        ("seed", -3, "whole number"),
        ("normalize", "zscore", "plain, standard"),
        ("train_subset", 0, "1 to 60,000"),
        ("train_subset", 70_000, "1 to 60,000"),
        ("overfit_one_batch", "yes", "true or false"),
        ("mixed_precision", "fp8", "no, fp16, bf16"),
        ("device", "tpu", "auto, cpu"),
    ],
)
def test_a_bad_value_names_field_value_and_allowed_range(field, value, words):
    with pytest.raises(ConfigError) as info:
        TrainConfig(**{field: value})
    message = str(info.value)
    assert info.value.field == field
    assert message.startswith(f"{field} = {value!r}")
    assert words in message


def test_round_trip_through_a_dict_and_differences():
    c = TrainConfig(lr=0.001, optimizer="adam", hidden=[256], train_subset=1000)
    assert c.hidden == (256,)
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert c.differences() == {"lr": 0.001, "optimizer": "adam", "hidden": [256], "train_subset": 1000}


def test_unknown_setting_is_refused():
    with pytest.raises(ConfigError, match="not a setting"):
        TrainConfig.from_dict({"learning_rate": 0.1})


def test_an_old_runs_settings_without_activation_or_dropout_read_as_relu_without_dropout():
    old = {k: v for k, v in TrainConfig().to_dict().items() if k not in ("activation", "dropout")}
    config = TrainConfig.from_dict({**old, "lr": 0.1})
    assert (config.activation, config.dropout) == ("relu", 0.0) and config.differences() == {"lr": 0.1}
