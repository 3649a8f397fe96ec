"""Following a run as it trains: RunLog keeps what it has said so far (every loss, the epochs, the learning rates
changed by hand), and RunRecorder saves that into the run's folder (core.engine.run_store reads it back).

RunLog is the one accumulator for both places that follow a run: the recorder, and the server's live job, which
draws it (core.lab.job).
"""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from core.engine.events import Callback, EndEvent, EpochEvent, LearningRateEvent, ReportCardEvent, StartEvent, StepEvent
from core.engine.fileio import atomic_write_bytes, atomic_write_json
from core.engine.status import Status


class RunLog(Callback):
    """Steps, epochs and learning-rate changes, as the Trainer reports them; `step` and `epoch` are the latest."""

    def __init__(self, total_steps: int = 0):
        self.losses: list[float] = []
        self.epochs: list[dict] = []  # EpochEvent.to_dict() of each finished epoch
        self.lr_changes: list[tuple[int, float]] = []  # (steps done, new rate), applied from the next step
        self.step = self.epoch = 0
        self.total_steps = total_steps

    def on_start(self, event: StartEvent) -> None:
        self.total_steps = event.total_steps

    def on_step(self, event: StepEvent) -> None:
        self.losses.append(event.loss)
        self.step, self.epoch = event.step, event.epoch

    def on_epoch(self, event: EpochEvent) -> None:
        self.epochs.append(event.to_dict())

    def on_lr_change(self, event: LearningRateEvent) -> None:
        self.lr_changes.append((event.step, event.lr))

    @property
    def train_seconds(self) -> float:
        """Training time of the finished epochs (evaluation and pauses not counted)."""
        return sum(epoch["seconds"] for epoch in self.epochs)


class RunRecorder(Callback):
    """Saves a run as it goes: metrics each epoch, weights and predictions at the end."""

    def __init__(self, path: Path, record: dict):
        self.path, self.record = path, record
        self.log = RunLog()

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def step_losses(self) -> list[float]:
        return self.log.losses

    @property
    def epochs(self) -> list[dict]:
        return self.log.epochs

    def _save_record(self, **changes) -> None:
        self.record.update(changes, updated=time.time())
        atomic_write_json(self.path / "run.json", self.record)

    def on_start(self, event: StartEvent) -> None:
        self.log.on_start(event)
        self._save_record(message="training", device=event.device, num_processes=event.num_processes,
                          n_train=event.n_train, total_steps=event.total_steps)

    def on_step(self, event: StepEvent) -> None:
        self.log.on_step(event)

    def on_lr_change(self, event: LearningRateEvent) -> None:
        self.log.on_lr_change(event)
        changes = [{"step": step, "lr": lr} for step, lr in self.log.lr_changes]
        self._save_record(lr_changes=changes, message=f"learning rate set to {event.lr:g} at step {event.step}")

    def on_epoch(self, event: EpochEvent) -> None:
        self.log.on_epoch(event)
        # Steps first: a reader (or a crash) between the two writes never sees an epoch without its steps.
        atomic_write_json(self.path / "steps.json", self.log.losses)
        atomic_write_json(self.path / "epochs.json", self.log.epochs)
        self._save_record(epochs_done=event.epoch, steps=len(self.log.losses), test_accuracy=event.test_accuracy,
                          train_seconds=self.log.train_seconds, message=f"epoch {event.epoch} done")

    def on_report_card(self, event: ReportCardEvent) -> None:
        self._save_record(report_card=event.to_dict())

    def on_end(self, event: EndEvent) -> None:
        """Save the weights and predictions (when there are any), then the final status."""
        result = event.result
        atomic_write_json(self.path / "steps.json", self.log.losses)
        if result.model is not None and event.status != Status.DIVERGED:
            buffer = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in result.model.state_dict().items()}, buffer)
            atomic_write_bytes(self.path / "model.pt", buffer.getvalue())
        if result.evaluation is not None and event.status != Status.DIVERGED:
            ev = result.evaluation
            buffer = io.BytesIO()
            np.savez(buffer, labels=ev.labels.numpy().astype(np.uint8),
                     predicted=ev.predicted.numpy().astype(np.uint8), probs=ev.probs.numpy().astype(np.float32))
            atomic_write_bytes(self.path / "predictions.npz", buffer.getvalue())
        self._save_record(status=event.status, message=event.message, steps=len(self.log.losses),
                          test_accuracy=result.test_accuracy, ended=time.time())

    def discard(self) -> None:
        """Remove the folder of a run that never started (its worker refused it): no trace is left."""
        doomed = self.path.with_name(f".deleting-{self.id}")
        os.replace(self.path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def fail(self, message: str) -> None:
        """Mark the run failed before or outside training (e.g. bad data); the message is for the student."""
        self._save_record(status=Status.FAILED, message=message, ended=time.time())
