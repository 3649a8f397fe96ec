"""Training in threads of the calling process: how the lab trained before it had workers.

Kept for fast unit tests of the job manager and as the classroom benchmark's baseline. A web server should not
use it: each run shares the interpreter lock with the pages (MNIST_LAB_EXECUTOR=threads asks for it anyway).
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from core.engine import data as mnist_data
from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors, MNISTUnavailable
from core.engine.events import Callback, EndEvent
from core.engine.lr_finder import find_lr
from core.engine.trainer import Trainer, make_accelerator
from core.lab.cpu_share import FINDER_NICE_BELOW_TRAINING, lower_thread_priority, torch_threads
from core.lab.executors.base import Abilities, Capacity, Executor, RunRefusedByWorker, RunSink
from core.lab.executors.worker_body import failed_end


class EndSeen(Callback):
    """Remembers whether the Trainer reported its end (a failure inside its loop), so it is not reported twice."""

    def __init__(self):
        self.seen = False

    def on_end(self, event: EndEvent) -> None:
        self.seen = True


class ThreadExecutor(Executor):
    """Each run trains in the thread that calls train(); `slots` runs at once share one process."""

    kind = "threads"

    def __init__(self, data: MNISTTensors | None = None, slots: int = 1):
        super().__init__()
        self.data, self.slots = data, slots
        self.threads = torch_threads(slots)
        self._accelerator_lock = threading.Lock()

    def start(self) -> None:
        self._get_data()

    def capacity(self) -> Capacity:
        return Capacity(self.kind, self.slots, 1)

    def abilities(self) -> Abilities:
        return Abilities(shares_process=True)  # Accelerate keeps one device state per process

    def train(self, config: TrainConfig, sink: RunSink, run_folder=None) -> None:
        torch.set_num_threads(self.threads)
        lower_thread_priority()
        try:
            data = self._get_data()
        except MNISTUnavailable as exc:
            raise RunRefusedByWorker(str(exc)) from exc
        ended = EndSeen()
        try:
            with self._accelerator_lock:  # trackers write into the runs folder, each run under its own id
                accelerator = make_accelerator(config, Path(run_folder).parent if run_folder else None)
            trainer = Trainer(config, data, callbacks=[ended, sink], accelerator=accelerator, run_folder=run_folder)
            sink.started(trainer)
            trainer.fit()
        except Exception as exc:  # inside its loop the Trainer has reported the failure itself
            if not ended.seen:
                sink.on_end(failed_end(exc))

    def find_lr(self, config: TrainConfig, stop: threading.Event | None = None):
        # The calling thread is the job manager's finder thread, made for this finder.
        lower_thread_priority(below_training=FINDER_NICE_BELOW_TRAINING)
        try:
            return find_lr(config, self._get_data(), stop=stop)
        except MNISTUnavailable as exc:
            raise RunRefusedByWorker(str(exc)) from exc

    def close(self) -> None:
        pass  # nothing of its own to stop: the runs' threads belong to the job manager

    def _get_data(self) -> MNISTTensors:
        return self.data if self.data is not None else mnist_data.load_mnist()
