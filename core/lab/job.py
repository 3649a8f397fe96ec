"""One training job: its state under a lock, its live metrics, and the immutable snapshots pages read.

The job is a Callback (core.engine.events) of its run; its RunLog keeps what the run has said so far. The
Dispatcher (core.lab.dispatch) drives a job through the public methods of the "lifecycle" section below; students'
controls go through pause, resume and request_stop. A page reads its JobSnapshot, the same through the coordinator.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from core.engine.config import TrainConfig
from core.engine.curves import Curve, loss_curve
from core.engine.events import (
    Callback,
    EndEvent,
    EpochEvent,
    LayerStatsEvent,
    LearningRateEvent,
    PauseEvent,
    StartEvent,
    StepEvent,
)
from core.engine.run_recorder import RunLog
from core.engine.status import Status
from core.lab.estimate import steps_per_epoch
from core.lab.train_speed import SpeedWindow

STOPPED_BEFORE_START = "stopped before it started"


@dataclass(frozen=True)
class JobSnapshot:
    """An immutable copy of a job's state, safe to read from any thread."""

    id: str
    owner: str
    label: str
    sweep_id: str | None
    config: TrainConfig
    status: Status
    message: str
    run_id: str | None
    queue_position: int | None  # 1 = next to start; None when not queued
    epoch: int
    epochs: int
    step: int
    total_steps: int
    samples_per_second: float | None
    eta_seconds: float | None
    curve: Curve
    epoch_metrics: tuple[dict, ...]
    test_accuracy: float | None
    version: int
    # Learning rates changed by hand: (steps done, new rate), each applied from the next step.
    lr_changes: tuple[tuple[int, float], ...] = ()
    # Gradient flow measured every few steps: (step, layers), layers as in LayerStatsEvent.
    layer_stats: tuple[tuple[int, tuple[dict, ...]], ...] = ()

    @property
    def active(self) -> bool:
        """Queued, running or paused: the page should keep polling."""
        return self.status.active

    @property
    def progress(self) -> float:
        """Fraction of the training steps done, 0..1."""
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def train_seconds(self) -> float:
        """Training time of the finished epochs (evaluation and pauses not counted)."""
        return sum(e["seconds"] for e in self.epoch_metrics)


class Job(Callback):
    """One training run requested by one owner: queued, then trained in its own daemon thread."""

    def __init__(self, config: TrainConfig, owner: str, label: str = "", sweep_id: str | None = None,
                 student: str = ""):
        self.id = secrets.token_urlsafe(9)  # unguessable: it appears in the owner's URL
        self.config, self.owner, self.label, self.sweep_id = config, owner, label, sweep_id
        self.student = student  # the display name its saved run shows on the Class page
        self.thread: threading.Thread | None = None  # set by the manager when the job leaves the queue
        self._lock = threading.Lock()
        self._status, self._message = Status.QUEUED, "waiting for its turn"
        self._run_id: str | None = None
        self._trainer = None
        self._stop_requested = self._pause_requested = False
        self._queue_position: int | None = None
        self._log = RunLog(steps_per_epoch(config) * config.epochs)
        self._layer_stats: list[tuple[int, tuple[dict, ...]]] = []
        self._speed = SpeedWindow()
        self._test_accuracy: float | None = None
        self._version = 0
        self._cached: JobSnapshot | None = None
        self._final_curve: Curve | None = None
        self._first_step = threading.Event()  # set at the first step, or at the end if there is none

    # --- students' controls (any thread) -------------------------------------------------------------------
    def pause(self) -> bool:
        """Hold a running job before its next step; False if it is not running."""
        return self._hold(True)

    def resume(self) -> bool:
        """Let a paused job go on; False if it is not paused."""
        return self._hold(False)

    def set_lr(self, lr: float) -> bool:
        """Use learning rate `lr` from the next step; False if the job is not training now.

        Raises ValueError, with words for the student, for a bad rate or a one-cycle run (Trainer.set_lr).
        """
        with self._lock:
            if self._trainer is None or self._status not in (Status.RUNNING, Status.PAUSED):
                return False
            self._trainer.set_lr(lr)
            return True

    def request_stop(self) -> bool:
        """Ask a running or paused job to stop after its current step; False if it has ended.

        A job still preparing (waiting for the workers to warm up, or for a free one) ends at once: its thread
        gives up the worker it waits for, and nothing it reports later changes the job."""
        with self._lock:
            if self._status.ended:
                return False
            self._stop_requested = True
            if self._trainer is not None:
                self._trainer.stop()
                self._message = "stopping…"
                self._touch()
            else:
                self._end(Status.STOPPED, STOPPED_BEFORE_START)
            return True

    @property
    def stop_requested(self) -> bool:
        """True once Stop was asked: a job's thread that has not reached a worker yet gives up."""
        return self._stop_requested

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        """Block until the job has ended and its thread is done (or the timeout passed); its snapshot then."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.status.ended:
                if self.thread is not None:
                    self.thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
                return self.snapshot()
            if deadline is not None and time.monotonic() > deadline:
                return self.snapshot()
            if self.thread is not None:
                self.thread.join(0.05)
            else:
                time.sleep(0.05)

    def wait_first_step(self, timeout: float) -> bool:
        """Block up to `timeout` seconds until the first step is done (or the job ended); True if so."""
        return self._first_step.wait(timeout)

    @property
    def status(self) -> Status:
        return self._status

    @property
    def run_id(self) -> str | None:
        return self._run_id

    # --- lifecycle, driven by the manager and the job's thread ----------------------------------------------
    def set_queue_position(self, position: int | None) -> None:
        """Its place in the queue (1 = next), or None once it has left the queue."""
        with self._lock:
            if position != self._queue_position:
                self._queue_position = position
                self._touch()

    def cancel(self) -> None:
        """End a job the manager took off the queue before it started."""
        with self._lock:
            self._stop_requested = True
            self._end(Status.STOPPED, "cancelled before it started")

    def mark_running(self) -> bool:
        """The job's thread begins: running from now on; False if the job was cancelled while queued."""
        with self._lock:
            if self._stop_requested:
                self._end(Status.STOPPED, "cancelled before it started")
                return False
            self._status, self._message, self._queue_position = Status.RUNNING, "preparing", None
            self._touch()
            return True

    def attach_trainer(self, trainer, run_id: str) -> None:
        """The Trainer that will train this job, and its run's id; a pause or stop asked meanwhile is passed on."""
        with self._lock:
            self._trainer, self._run_id = trainer, run_id
            if self._stop_requested:
                trainer.stop()
            elif self._pause_requested:
                trainer.pause()
            self._touch()

    def detach_trainer(self) -> None:
        """Drop the Trainer, and with it the model and the optimizer."""
        with self._lock:
            self._trainer = None

    def stopped_before_start(self) -> None:
        """End a job whose run was stopped before its first step: stopped, with no saved run."""
        with self._lock:
            self._run_id = None
            self._end(Status.STOPPED, STOPPED_BEFORE_START)

    def fail(self, message: str) -> None:
        """End the job as failed, unless it has already ended; the message is for the student."""
        with self._lock:
            if not self._status.ended:
                self._end(Status.FAILED, message)

    # --- the run's events (in the job's thread): keep the live metrics, never the model ----------------------
    def on_start(self, event: StartEvent) -> None:
        self._hear(self._started, event)

    def on_step(self, event: StepEvent) -> None:
        self._hear(self._stepped, event)

    def on_epoch(self, event: EpochEvent) -> None:
        self._hear(self._epoch_done, event)

    def on_layer_stats(self, event: LayerStatsEvent) -> None:
        self._hear(self._layer_stats.append, (event.step, tuple(dict(layer) for layer in event.layers)))

    def on_lr_change(self, event: LearningRateEvent) -> None:
        self._hear(self._log.on_lr_change, event)

    def on_pause(self, event: PauseEvent) -> None:
        self._hear(lambda _: self._speed.forget(), event)  # a pause is not slow training

    def on_end(self, event: EndEvent) -> None:
        self._hear(self._ended, event)

    def _hear(self, keep, what) -> None:
        """keep(what) under the lock; an ended job (stopped while it prepared: a worker that started it anyway)
        changes nothing."""
        with self._lock:
            if not self._status.ended:
                keep(what)
                self._touch()

    # --- reading -------------------------------------------------------------------------------------------
    def snapshot(self) -> JobSnapshot:
        """The job's state now, as an immutable copy (recomputed only when something changed)."""
        with self._lock:
            if self._cached is not None and self._cached.version == self._version:
                return self._cached
            version, curve, log = self._version, self._final_curve, self._log
            losses = list(log.losses) if curve is None else []
            rate, eta = self._speed.speed(log, self.config.epochs) if self._status == Status.RUNNING else (None, None)
            state = dict(
                id=self.id, owner=self.owner, label=self.label, sweep_id=self.sweep_id, config=self.config,
                status=self._status, message=self._message, run_id=self._run_id,
                queue_position=self._queue_position, epoch=log.epoch, epochs=self.config.epochs,
                step=log.step, total_steps=log.total_steps, samples_per_second=rate, eta_seconds=eta,
                epoch_metrics=tuple(dict(e) for e in log.epochs), test_accuracy=self._test_accuracy,
                version=version, lr_changes=tuple(log.lr_changes), layer_stats=tuple(self._layer_stats),
            )
        snap = JobSnapshot(curve=curve or loss_curve(losses), **state)  # built outside the lock
        with self._lock:
            if self._version == version:
                self._cached = snap
                if self._status.ended and self._final_curve is None:
                    # The drawn curve is all an ended job needs (steps.json has every loss): free the rest.
                    self._final_curve, self._log.losses = snap.curve, []
        return snap

    # --- inside --------------------------------------------------------------------------------------------
    def _hold(self, paused: bool) -> bool:
        """Pause a running job or resume a paused one (as `paused` says); False if it is in the other state."""
        with self._lock:
            if self._status != (Status.RUNNING if paused else Status.PAUSED):
                return False
            self._pause_requested = paused
            if self._trainer is not None and paused:
                self._trainer.pause()
            elif self._trainer is not None:
                self._trainer.resume()
            self._status, self._message = _training_state(paused)
            self._touch()
            return True

    # The lock is held for these.
    def _started(self, event: StartEvent) -> None:
        self._log.on_start(event)
        self._status, self._message = _training_state(self._pause_requested)

    def _stepped(self, event: StepEvent) -> None:
        self._log.on_step(event)
        self._speed.add_step(event)
        self._first_step.set()

    def _epoch_done(self, event: EpochEvent) -> None:
        self._log.on_epoch(event)
        self._speed.forget()  # the evaluation pause is not training speed

    def _ended(self, event: EndEvent) -> None:
        self._test_accuracy = event.result.test_accuracy
        self._end(event.status, event.message)

    def _touch(self) -> None:
        self._version += 1

    def _end(self, status: Status, message: str) -> None:
        self._status, self._message, self._queue_position = status, message, None
        self._first_step.set()
        self._touch()


def _training_state(paused: bool) -> tuple[Status, str]:
    """The status and message of a job that has started training, paused or not."""
    return (Status.PAUSED, "paused") if paused else (Status.RUNNING, "training")
