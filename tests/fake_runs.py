"""Finished runs written straight into a run store, without training: for board tests and the benchmark.

The records are what RunRecorder.finish leaves (status finished, a test accuracy, an end time); there are no
weights or predictions, which the board never reads.
"""

from __future__ import annotations

import time

from core.engine.config import TrainConfig
from core.engine.fileio import atomic_write_json
from core.engine.run_store import RunStore
from core.engine.status import Status


def save_finished_run(store: RunStore, config: TrainConfig, student: str, accuracy: float, owner: str = "",
                      ended: float | None = None, seconds: float = 5.0) -> str:
    """Save a finished run with this name and test accuracy; returns its id. `ended` defaults to now."""
    recorder = store.create(config, student=student, owner=owner)
    ended = time.time() if ended is None else ended
    record = {**recorder.record, "status": Status.FINISHED, "message": "finished", "test_accuracy": accuracy,
              "epochs_done": config.epochs, "train_seconds": seconds, "ended": ended, "updated": ended}
    atomic_write_json(recorder.path / "run.json", record)
    epochs = [{"epoch": e, "train_loss": 0.5 / e, "test_loss": 0.4 / e, "test_accuracy": accuracy - config.epochs + e,
               "seconds": seconds / config.epochs, "eval_seconds": 0.1} for e in range(1, config.epochs + 1)]
    atomic_write_json(recorder.path / "epochs.json", epochs)
    atomic_write_json(recorder.path / "steps.json", [2.3 / (1 + i / 10) for i in range(50)])
    return recorder.id


def save_diverged_run(store: RunStore, config: TrainConfig, student: str, owner: str = "") -> str:
    """Save a run that diverged in its first epoch (no test accuracy) with this name; returns its id."""
    recorder = store.create(config, student=student, owner=owner)
    ended = time.time()
    record = {**recorder.record, "status": Status.DIVERGED, "message": "the loss became NaN at step 12",
              "steps": 11, "ended": ended, "updated": ended}
    atomic_write_json(recorder.path / "run.json", record)
    atomic_write_json(recorder.path / "steps.json", [2.3 * 2**i for i in range(11)])
    return recorder.id
