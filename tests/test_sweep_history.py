"""core.lab.sweep (configs, results, best) and core.views.history (the run table)."""

import pytest

from core.engine.config import TrainConfig
from core.engine.presets import QUICK
from core.engine.run_store import RunStore
from core.lab.sweep import SWEEPABLE, SweepJobs, SweepRow, best, format_param_value, sweep_configs
from core.views.history import history_rows, network_words, run_title, settings_text


def test_sweep_configs_change_one_setting_and_shorten_the_run():
    configs = sweep_configs(QUICK, "lr", [0.001, 0.01])
    assert [c.lr for c in configs] == [0.001, 0.01]
    assert all(c.epochs == 1 and c.train_subset == 10_000 and c.optimizer == "adam" for c in configs)
    assert [c.hidden for c in sweep_configs(QUICK, "hidden", [(32,), (64, 32)], epochs=2)] == [(32,), (64, 32)]


@pytest.mark.parametrize(("param", "values", "message"), [
    ("lr", [0.1], "2 to 6"),
    ("lr", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], "2 to 6"),
    ("lr", [0.1, 0.1], "only once"),
    ("seed", [1, 2], "cannot sweep"),
    ("lr", [0.1, 500.0], "lr = 500.0"),
])
def test_bad_sweeps_are_refused_with_a_reason(param, values, message):
    with pytest.raises(ValueError, match=message):
        sweep_configs(QUICK, param, values)


def test_every_sweepable_default_is_a_valid_sweep():
    for param, spec in SWEEPABLE.items():
        assert set(spec.default) <= set(spec.options)
        assert len(sweep_configs(TrainConfig(), param, list(spec.default))) == len(spec.default)


def test_best_is_the_most_accurate_finished_run():
    rows = [SweepRow(0.1, "finished", 90.0, 2.0, "a"), SweepRow(1.0, "diverged", None, 1.0, "b"),
            SweepRow(0.01, "finished", 95.0, 3.0, "c"), SweepRow(0.03, "stopped", 99.0, 1.0, "d"),
            SweepRow(0.02, "finished", 95.0, 2.5, "e")]
    assert best(rows).job_id == "e"  # a tie goes to the faster one
    assert best(rows[1:2]) is None and best([]) is None


def test_sweep_labels_and_values_read_well():
    sweep = SweepJobs("s", "hidden", ((128, 64),), "ann")
    assert sweep.label_for((128, 64)) == "sweep: hidden layers 128-64"
    assert format_param_value("lr", 0.0003) == "0.0003" and format_param_value("optimizer", "adam") == "adam"


def test_settings_text_names_what_differs_from_the_lecture():
    assert settings_text(TrainConfig()) == "the lecture's setup"
    text = settings_text(QUICK)
    assert "adam" in text and "lr 0.002" in text and "784 → 256 → 128 → 10" in text and "batch 256" in text
    assert "5,000 images" in settings_text(TrainConfig(train_subset=5000))
    assert "one batch only" in settings_text(TrainConfig(overfit_one_batch=True))


def test_history_rows_from_the_run_store(tmp_path):
    store = RunStore(tmp_path)
    recorder = store.create(QUICK, label="mine")
    recorder.fail("no data")
    store.create(TrainConfig(), label="")
    rows = {r["status"]: r for r in history_rows(store.list())}
    assert set(rows) == {"running", "failed"}  # the running one's writer (this process) is alive
    failed = rows["failed"]
    assert failed["settings"] == settings_text(QUICK) and failed["epochs"] == "0 of 4"
    assert failed["test accuracy (%)"] is None and failed["run"].startswith("mine (")
    assert run_title({"created": 0, "label": ""}) != ""


def test_activation_and_dropout_can_be_swept_and_read_in_words():
    runs = sweep_configs(TrainConfig(), "activation", ["relu", "leaky_relu"])
    assert [c.activation for c in runs] == ["relu", "leaky_relu"] and runs[0].epochs == 1
    assert format_param_value("activation", "leaky_relu") == "leaky ReLU"
    assert [c.dropout for c in sweep_configs(TrainConfig(), "dropout", [0.0, 0.5])] == [0.0, 0.5]
    assert settings_text(TrainConfig(activation="leaky_relu", dropout=0.3)) == "leaky ReLU activation · dropout 0.3"


def test_the_preview_names_the_activation_and_dropout_after_each_hidden_layer():
    assert network_words(TrainConfig()) == "with ReLU after every hidden layer"
    assert (network_words(TrainConfig(activation="gelu", dropout=0.2))
            == "with GELU, then dropout 0.2 after every hidden layer")
    assert network_words(TrainConfig(hidden=())) == "with no hidden layer: a linear classifier"
