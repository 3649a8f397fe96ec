import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from core.engine.config import TrainConfig
from core.engine.run_store import RunStore
from core.engine.trainer import Trainer, predict
from tests.lab_helpers import REPO, wait_until


def test_a_finished_run_loads_back_with_a_model_ready_to_predict(mnist, runs_dir):
    store = RunStore()
    config = TrainConfig(epochs=2, train_subset=2000, optimizer="adam", lr=0.002, normalize="standard")
    recorder = store.create(config, label="adam test")
    result = Trainer(config, mnist, callbacks=[recorder]).fit()
    (run,) = store.list()
    assert run.id == recorder.id and run.status == "finished" and run.record["label"] == "adam test"
    assert run.config == config
    assert [e["epoch"] for e in run.epochs] == [1, 2]
    assert run.epochs[-1]["test_accuracy"] == pytest.approx(result.test_accuracy)
    assert len(run.steps) == result.steps == 64
    model = run.model()
    assert torch.equal(predict(model, mnist.test_images, "standard").argmax(1), result.evaluation.predicted)
    p = run.predictions()
    assert np.array_equal(p.labels, mnist.test_labels.numpy())
    assert np.array_equal(p.predicted, result.evaluation.predicted.numpy())
    assert p.probs.shape == (10_000, 10)
    csv_lines = run.metrics_csv().splitlines()
    assert csv_lines[0] == "epoch,train_loss,test_loss,test_accuracy,seconds,eval_seconds,lr" and len(csv_lines) == 3
    # Nothing half-written is left beside the files.
    assert not [n for n in os.listdir(run.path) if n.endswith(".tmp")]


def test_a_diverged_run_keeps_its_record_but_no_weights(mnist, runs_dir):
    store = RunStore()
    config = TrainConfig(lr=100.0, train_subset=1000)
    Trainer(config, mnist, callbacks=[store.create(config)]).fit()
    (run,) = store.list()
    assert run.status == "diverged" and "lower the learning rate" in run.record["message"]
    assert not run.has_model and not run.has_predictions
    with pytest.raises(FileNotFoundError, match="no saved weights"):
        run.model()


def test_delete_removes_a_run_but_not_a_live_one(mnist, runs_dir):
    store = RunStore()
    live = store.create(TrainConfig())
    with pytest.raises(ValueError, match="still training"):
        store.delete(live.id)
    config = TrainConfig(train_subset=500, epochs=1)
    done = store.create(config)
    Trainer(config, mnist, callbacks=[done]).fit()
    store.delete(done.id)
    assert [r.id for r in store.list()] == [live.id]
    with pytest.raises(ValueError, match="not a run id"):
        store.load("../../etc")


@pytest.mark.slow  # trains on the real MNIST in a process it then kills
def test_a_run_killed_midway_reads_back_as_interrupted_with_its_finished_epochs(runs_dir):
    cmd = [sys.executable, "-m", "core.train", "--epochs", "100", "--train-subset", "3000", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:

        def two_epochs_run():
            found = list(runs_dir.glob("*/epochs.json")) if runs_dir.exists() else []
            return found[0].parent if found and len(json.loads(found[0].read_text())) >= 2 else None

        run_dir = wait_until(two_epochs_run, 120, "the run's second epoch", every=0.05)
        assert RunStore().load(run_dir.name).status == "running"  # its process is alive
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    run = RunStore().load(run_dir.name)
    assert run.status == "interrupted"
    assert "interrupted" in run.record["message"]
    epochs = run.epochs
    assert len(epochs) >= 2 and [e["epoch"] for e in epochs] == list(range(1, len(epochs) + 1))
    assert all(0 < e["test_accuracy"] <= 100 for e in epochs)
    assert len(run.steps) >= 2 * 47
    # Saved by the explicit step a starting server takes (reading never writes): no longer "running".
    RunStore().mark_interrupted()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
