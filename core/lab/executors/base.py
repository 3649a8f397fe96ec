"""What the job manager asks of an executor: train one run away from the web server and relay what happens.

Server side only (the code that runs inside a worker is in core.lab.executors.worker_body). An executor trains
each run in a worker (a process of the local pool, or a Ray actor), with the same Trainer as the command line.
Commands go in (start, pause, resume, stop, set the learning rate) through a RemoteControl; the Trainer's own
events come out, in order, to the run's RunSink, a Callback in the server. The weights and predictions come
back with the EndEvent, so the server saves every run in its own RunStore: workers need no shared folder.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from core.engine.config import TrainConfig
from core.engine.events import Callback, EndEvent, Evaluation, TrainResult, check_new_lr
from core.engine.model import build_model

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


class ExecutorUnavailable(RuntimeError):
    """The executor cannot start here (a Ray it cannot reach); the message says so, for the Train page."""


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


@dataclass(frozen=True)
class Abilities:
    """What the job manager must know of an executor beyond its capacity."""

    # Runs train in the server's own process: Accelerate keeps one device state per process, so runs with
    # another device or precision must wait.
    shares_process: bool = False
    notice: str = ""  # why the lab trains otherwise than it was asked to (Ray not reachable), for the students


@dataclass(frozen=True)
class WarmingUp:
    """Where the workers' warm-up stands: the step under way ("loading MNIST") and about how long is left."""

    stage: str
    seconds_left: float


class RunSink(Callback):
    """Where an executor reports one run, in the server: first `started`, then every event's hook, in order."""

    def started(self, control) -> None:
        """The run has a worker; `control` pauses, resumes, stops it and sets its learning rate."""

    def cancelled(self) -> bool:
        """Stopped before it started: a worker not yet taken is not taken."""
        return False


class RemoteControl:
    """A run's controls, sent to the worker that trains it; the same methods as the Trainer's."""

    def __init__(self, send: Callable[..., None], config: TrainConfig, pid: int | None = None):
        self.send, self.config = send, config
        self.pid = pid  # the process that trains the run, on whichever machine

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def stop(self) -> None:
        self._send("stop")

    def set_lr(self, lr: float) -> None:
        check_new_lr(self.config, lr)  # refused here, in words, rather than ignored in the worker
        self._send("set_lr", float(lr))

    def _send(self, *message) -> None:
        with contextlib.suppress(OSError):  # the worker is gone: its run's thread reports that
            self.send(*message)


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

    def ensure_launched(self) -> None:
        """Start the workers if nobody has yet; returns once a run may be handed to train() (by default, once
        every worker is warm; a pool that lends each worker as soon as it is warm returns at once)."""
        self.ensure_started()

    def warming(self) -> WarmingUp | None:
        """The warm-up under way, for the students; None when the workers are warm (or it is not known)."""
        return None

    def abilities(self) -> Abilities:
        """What the job manager must know of this executor (see Abilities)."""
        return Abilities()

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


def unpack_end(packed: dict, config: TrainConfig) -> EndEvent:
    """The EndEvent that worker_body.pack_end() carried, with the model rebuilt from its weights."""
    model = None
    if packed["weights"] is not None:
        model = build_model(config)
        model.load_state_dict(packed["weights"])
    evaluation = Evaluation(**packed["evaluation"]) if packed["evaluation"] is not None else None
    result = TrainResult(packed["status"], packed["message"], packed["epochs"], model, evaluation, packed["steps"],
                         packed.get("report_card"))
    return EndEvent(packed["status"], packed["message"], result)
