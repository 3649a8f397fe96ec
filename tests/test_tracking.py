"""Accelerate's trackers: a run with log_with tensorboard writes event files into its own folder."""

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from core.engine.config import TrainConfig
from core.engine.run_store import RunStore
from core.engine.tracking import tracker_arguments, tracker_problem
from core.engine.trainer import Trainer


def test_a_run_logged_to_tensorboard_can_be_read_back(tmp_path, make_random_mnist):
    config = TrainConfig(epochs=2, batch_size=50, train_subset=1000, log_with="tensorboard", device="cpu")
    recorder = RunStore(tmp_path / "runs").create(config)
    result = Trainer(config, make_random_mnist(1000, 200), callbacks=[recorder], run_folder=recorder.path).fit()
    assert result.status == "finished"
    events = EventAccumulator(str(recorder.path)).Reload()  # the run's own folder: runs/<id>/
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "epoch/test_accuracy", "grad_norm/hidden 1", "dead_fraction/hidden 2",
            "update_ratio/output"} <= tags
    assert "dead_fraction/output" not in tags  # the output layer has no ReLUs
    accuracy = events.Scalars("epoch/test_accuracy")
    assert [e.step for e in accuracy] == [20, 40]
    assert [e.value for e in accuracy] == pytest.approx([epoch.test_accuracy for epoch in result.epochs])
    logged = [e.step for e in events.Scalars("train/loss")]  # at most every LOG_SECONDS, and at each epoch's end
    assert logged == sorted(set(logged)) and {20, 40} <= set(logged)


def test_without_a_tracker_nothing_is_written(tmp_path, make_random_mnist):
    config = TrainConfig(epochs=1, batch_size=50, train_subset=500, device="cpu")
    recorder = RunStore(tmp_path / "runs").create(config)
    Trainer(config, make_random_mnist(500, 100), callbacks=[recorder], run_folder=recorder.path).fit()
    assert not list(recorder.path.rglob("events.out.tfevents*"))


def test_a_tracker_without_its_package_or_folder_is_refused_in_words():
    assert tracker_problem("none") is None and tracker_problem("tensorboard") is None
    assert tracker_problem("wandb") == "logging with wandb needs its package: pip install wandb"
    assert tracker_arguments("none", None) == {}
    with pytest.raises(ValueError, match="needs a folder"):
        tracker_arguments("tensorboard", None)
