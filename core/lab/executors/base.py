"""What the job manager asks of an executor: train one run away from the web server and relay what happens.

An executor trains each run in a worker (a process of the local pool, or a Ray actor), with the same Trainer
as the command line. Commands go in (start, pause, resume, stop, set the learning rate); the Trainer's own
events come out, in order, to a RunSink in the server. The weights and predictions come back with the
EndEvent, so the server saves every run in its own RunStore: workers need no shared folder.
"""

from __future__ import annotations

import os
import queue
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

from core.engine.config import TrainConfig

# Said of a run whose worker process or actor died under it; the run's other work is kept as far as it got.
WORKER_LOST = "failed: the worker running it was lost"


class WorkerLost(RuntimeError):
    """The worker training a run died (killed, out of memory, its machine gone)."""

    def __init__(self, detail: str = ""):
        super().__init__(WORKER_LOST + (f" ({detail})" if detail else ""))


class RunRefusedByWorker(RuntimeError):
    """The worker could not start the run (MNIST missing, say); the message is for the student."""


class RunCancelled(RuntimeError):
    """The run was stopped while it waited for a worker: no worker was given it."""


# Short tasks (the learning-rate finder) get helper workers of their own, beside the runs' slots: two, so that one
# student's long finder never holds up a classmate's, and few, so that they take little from the runs.
FINDER_HELPERS = min(2, os.cpu_count() or 1)
WAIT_POLL_S = 0.1  # how often a thread waiting for a worker looks whether its run was stopped meanwhile


@dataclass(frozen=True)
class Capacity:
    """What the lab can do now: runs at once, and on how many machines."""

    kind: str  # "local", "ray" or "threads"
    slots: int
    machines: int


class RunControl(Protocol):
    """The controls of one run while it trains, safe from any thread: the Trainer's own, or a proxy of them."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...
    def set_lr(self, lr: float) -> None: ...


class RunSink(Protocol):
    """Where an executor reports one run, in the server: first `started`, then every event in order."""

    def started(self, control: RunControl) -> None: ...
    def __call__(self, event) -> None: ...
    def cancelled(self) -> bool: ...  # stopped before it started: a worker not yet taken is not taken


class Executor(ABC):
    """Trains runs somewhere else than the calling thread's code, one per slot; thread-safe."""

    kind = ""

    def __init__(self):
        self._start_lock = threading.Lock()
        self._started = False

    def ensure_started(self) -> None:
        """start() once, whoever asks first (the server's warm-up or its first run); later calls return at once."""
        with self._start_lock:
            if not self._started:
                self.start()
                self._started = True

    @property
    def started(self) -> bool:
        """True once start() has ended: the workers are warm."""
        return self._started

    @abstractmethod
    def start(self) -> None:
        """Start the workers and warm them (torch imported, MNIST loaded); blocks, so call it in the background."""

    @abstractmethod
    def capacity(self) -> Capacity:
        """Runs at once and machines, as far as known now (before start() ends: what it will have)."""

    @abstractmethod
    def train(self, config: TrainConfig, sink: RunSink, run_folder=None) -> None:
        """Train one run and relay it to `sink`; returns once its EndEvent has been relayed. `run_folder` is
        where the run's tracker files go (TensorBoard), on the machine that trains it.

        Raises RunRefusedByWorker before `sink.started` when the run cannot start, WorkerLost if the worker dies.
        """

    @abstractmethod
    def find_lr(self, config: TrainConfig, stop: threading.Event | None = None):
        """The learning-rate range test (core.engine.lr_finder) in one of FINDER_HELPERS helper workers kept for
        such short tasks, so that it never waits behind a class's runs; raises RunRefusedByWorker or WorkerLost,
        and FinderStopped soon after `stop` is set."""

    @abstractmethod
    def close(self) -> None:
        """Stop the workers (runs still training end with them)."""


def take_idle(idle: queue.Queue, cancelled) -> object:
    """The next idle worker from `idle`, waiting as long as it takes unless `cancelled()` turns true (RunCancelled)."""
    while True:
        if cancelled():
            raise RunCancelled("stopped before a worker took it")
        try:
            return idle.get(timeout=WAIT_POLL_S)
        except queue.Empty:
            continue


# --- carrying a run's end between processes ------------------------------------------------------------------
def pack_end(event) -> dict:
    """An EndEvent as plain data (tensors, numbers, strings) that pickles small: the model as its weights."""
    result = event.result
    ev = result.evaluation
    return dict(
        status=event.status, message=event.message, epochs=list(result.epochs), steps=result.steps,
        report_card=result.report_card,
        weights=None if result.model is None else {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        evaluation=None if ev is None else dict(loss=ev.loss, accuracy=ev.accuracy, labels=ev.labels.cpu(),
                                                 predicted=ev.predicted.cpu(), probs=ev.probs.cpu()),
    )


def failed_end(exc: Exception):
    """The EndEvent of a run that failed before its Trainer could report it (say, while preparing)."""
    from core.engine.status import Status
    from core.engine.trainer import EndEvent, TrainResult, failure_message

    message = failure_message(exc)
    return EndEvent(Status.FAILED, message, TrainResult(Status.FAILED, message))


def unpack_end(packed: dict, config: TrainConfig):
    """The EndEvent that pack_end() carried, with the model rebuilt from its weights."""
    from core.engine.model import build_model
    from core.engine.trainer import EndEvent, Evaluation, TrainResult

    model = None
    if packed["weights"] is not None:
        model = build_model(config)
        model.load_state_dict(packed["weights"])
    evaluation = Evaluation(**packed["evaluation"]) if packed["evaluation"] is not None else None
    result = TrainResult(packed["status"], packed["message"], packed["epochs"], model, evaluation, packed["steps"],
                         packed.get("report_card"))
    return EndEvent(packed["status"], packed["message"], result)


def warm_up_training() -> None:
    """Train a few steps on a few blank images, untimed: a worker's first real run then starts without the
    one-off costs (Accelerate's state, torch's first kernels, the evaluation path)."""
    import torch

    from core.engine.data import MNISTTensors
    from core.engine.trainer import Trainer

    images, labels = torch.zeros(256, 28, 28, dtype=torch.uint8), torch.arange(256) % 10
    Trainer(TrainConfig(epochs=1, batch_size=64), MNISTTensors(images, labels, images, labels)).fit()


# --- one run inside a worker -----------------------------------------------------------------------------------
class RunInWorker:
    """One run inside a worker: a Trainer in its own thread, whose events wait in a buffer until collected.

    The controls act on the Trainer at once (it exists before training starts). `wake` is set at the first
    step (the student waits for the first loss point) and at every event that is not a step, so a sender
    passes these on without waiting for its next round.
    """

    def __init__(self, config: TrainConfig, data, threads: int, run_folder=None):
        from core.engine.trainer import Trainer

        self.trainer = Trainer(config, data, listeners=[self._keep], run_folder=run_folder)
        self.threads = threads
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._events: list = []
        self._end: dict | None = None
        self._ended_reported = False
        self.thread = threading.Thread(target=self._fit, daemon=True, name="train")

    def start(self) -> None:
        self.thread.start()

    def take(self) -> tuple[list, dict | None]:
        """The events since the last call (the EndEvent packed, once the run has ended)."""
        with self._lock:
            events, self._events = self._events, []
            end, self._end = self._end, None
            self.wake.clear()
            return events, end

    def _keep(self, event) -> None:
        from core.engine.trainer import EndEvent, StepEvent

        with self._lock:
            if isinstance(event, EndEvent):
                self._end, self._ended_reported = pack_end(event), True
            else:
                self._events.append(event)
        if not isinstance(event, StepEvent) or event.step == 1:
            self.wake.set()

    def _fit(self) -> None:
        import torch

        from core.lab.tuning import DEFAULT_WORKER_NICE, lower_thread_priority

        lower_thread_priority(default=DEFAULT_WORKER_NICE)  # nice is per thread: set by the training thread itself
        torch.set_num_threads(self.threads)
        try:
            self.trainer.fit()
        # Inside its loop the Trainer has reported a failure already; before it, not. Whatever ends the thread,
        # the run gets an end: the sender waits for one.
        except BaseException as exc:
            with self._lock:
                if not self._ended_reported:
                    self._end = pack_end(failed_end(exc))
        finally:
            self.wake.set()
