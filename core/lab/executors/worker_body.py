"""What runs inside a worker (a process of the local pool, or a Ray actor): the one worker body both share.

Imported only by workers (and the in-process threads executor): it imports the Trainer, and with it Accelerate.
The server's side of the executors is in core.lab.executors.base, pool, local and ray_actors.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

import torch

from core.engine import data as mnist_data
from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors, MNISTUnavailable
from core.engine.events import Callback, EndEvent, Event, StepEvent, TrainResult, failure_message
from core.engine.lr_finder import FinderStopped, find_lr
from core.engine.status import Status
from core.engine.trainer import Trainer
from core.lab.cpu_share import DEFAULT_WORKER_NICE, FINDER_NICE_BELOW_TRAINING, lower_thread_priority


def pack_end(event: EndEvent) -> dict:
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


def failed_end(exc: BaseException) -> EndEvent:
    """The EndEvent of a run that failed before its Trainer could report it (say, while preparing)."""
    message = failure_message(exc)
    return EndEvent(Status.FAILED, message, TrainResult(Status.FAILED, message))


def warm_up_training() -> None:
    """Train a few steps on a few blank images, untimed: a worker's first real run then starts without the
    one-off costs (Accelerate's state, torch's first kernels, the evaluation path)."""
    images, labels = torch.zeros(256, 28, 28, dtype=torch.uint8), torch.arange(256) % 10
    Trainer(TrainConfig(epochs=1, batch_size=64), MNISTTensors(images, labels, images, labels)).fit()


class EventBuffer(Callback):
    """Keeps a run's events until the relay collects them; the EndEvent packed. `wake` is set at the first step
    (the student waits for the first loss point) and at every event that is not a step, so that the relay passes
    these on without waiting for its next round."""

    def __init__(self):
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.events: list[Event] = []
        self.end: dict | None = None
        self.ended = False  # an end was kept (and perhaps collected already)

    def on_step(self, event: StepEvent) -> None:
        with self.lock:
            self.events.append(event)
        if event.step == 1:
            self.wake.set()

    def on_end(self, event: EndEvent) -> None:
        self.keep_end(pack_end(event))

    def on_event(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)
        self.wake.set()

    def keep_end(self, packed: dict) -> None:
        with self.lock:
            self.end, self.ended = packed, True
        self.wake.set()

    def take(self) -> tuple[list, dict | None]:
        """The events since the last call (the EndEvent packed, once the run has ended)."""
        with self.lock:
            events, self.events = self.events, []
            end, self.end = self.end, None
            self.wake.clear()
            return events, end


class RunInWorker:
    """One run inside a worker: a Trainer in its own thread, its events buffered until collected. The controls
    act on the Trainer at once (it exists before training starts)."""

    def __init__(self, config: TrainConfig, data, threads: int, run_folder=None):
        self.buffer = EventBuffer()
        self.trainer = Trainer(config, data, callbacks=[self.buffer], run_folder=run_folder)
        self.threads = threads
        self.wake = self.buffer.wake
        self.thread = threading.Thread(target=self._fit, daemon=True, name="train")

    def start(self) -> None:
        self.thread.start()

    def take(self) -> tuple[list, dict | None]:
        return self.buffer.take()

    def control(self, command: str, *args) -> None:
        """Apply one of the server's controls to the run's Trainer."""
        if command == "set_lr":
            with contextlib.suppress(ValueError):  # the server checked the rate before sending it
                self.trainer.set_lr(*args)
        elif command in ("pause", "resume", "stop"):
            getattr(self.trainer, command)()

    def _fit(self) -> None:
        lower_thread_priority(default=DEFAULT_WORKER_NICE)  # nice is per thread: set by the training thread itself
        torch.set_num_threads(self.threads)
        try:
            self.trainer.fit()
        # Inside its loop the Trainer has reported a failure already; before it, not. Whatever ends the thread,
        # the run gets an end: the relay waits for one.
        except BaseException as exc:
            if not self.buffer.ended:
                self.buffer.keep_end(pack_end(failed_end(exc)))
        finally:
            self.buffer.wake.set()


class WorkerBody:
    """What one worker does, in a local worker process or a Ray actor: keep MNIST and a warm torch, train one run
    at a time in a thread of its own, and run the learning-rate finder when it is a helper."""

    def __init__(self, data: MNISTTensors | None, threads: int, on_stage=None):
        """`on_stage(name)` hears each step of the warm-up as it begins ("loading MNIST", "warming up")."""
        torch.set_num_threads(threads)
        self.threads, self.unavailable, self.run = threads, "", None
        self.finder_stop = threading.Event()
        self.data = data
        if data is None:
            if on_stage:
                on_stage("loading MNIST")
            try:
                self.data = mnist_data.load_mnist()
            except MNISTUnavailable as exc:  # every run is refused with the advice, the worker stays up
                self.unavailable = str(exc)
        if on_stage:
            on_stage("warming up")
        warm_up_training()

    def use_threads(self, threads: int) -> None:
        """Train with this many torch threads from now on (a worker forked by the zygote sets its own)."""
        self.threads = threads
        torch.set_num_threads(threads)

    def ready(self) -> tuple[int, str]:
        """This worker's process id and machine."""
        return os.getpid(), socket.gethostname()

    def start(self, config: TrainConfig, run_folder: str | None = None) -> str:
        """Start training; "" when it started, else why not, in words for the student."""
        if self.unavailable:
            return self.unavailable
        self.run = RunInWorker(config, self.data, self.threads, run_folder)
        self.run.start()
        return ""

    def take(self) -> tuple[list, dict | None]:
        """The run's events since the last call, and its end once it has ended."""
        return self.run.take() if self.run else ([], None)

    def control(self, command: str, *args) -> None:
        """Pause, resume or stop the run, or set its learning rate."""
        if self.run is not None:
            self.run.control(command, *args)

    def find_lr(self, config: TrainConfig):
        """The learning-rate range test, niced below training: (LrFinderResult or None, why not), with why not ""
        when stop_finder() stopped it."""
        if self.unavailable:
            return None, self.unavailable
        lower_thread_priority(default=DEFAULT_WORKER_NICE, below_training=FINDER_NICE_BELOW_TRAINING)
        torch.set_num_threads(self.threads)
        self.finder_stop = threading.Event()  # a fresh one: a late stop for the last finder stops nothing now
        try:
            return find_lr(config, self.data, stop=self.finder_stop), ""
        except FinderStopped:
            return None, ""
        except Exception as exc:  # the student is told; the helper stays up for the next finder
            return None, f"the learning-rate finder failed: {type(exc).__name__}: {exc}"

    def stop_finder(self) -> None:
        """Stop the finder running in this worker after its current step (runs beside it, in another thread)."""
        self.finder_stop.set()
