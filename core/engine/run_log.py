"""RunLog: what a run has said so far (every loss, the epochs, the learning rates changed by hand).

One accumulator for both places that follow a run as it trains: the run store's recorder, which saves it, and
the server's live job, which draws it (core.lab.job).
"""

from __future__ import annotations

from core.engine.events import Callback, EpochEvent, LearningRateEvent, StartEvent, StepEvent


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
