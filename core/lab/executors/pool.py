"""One pool of warm workers over a small transport: local worker processes (local.py) or Ray actors (ray_actors.py).

A transport is the server's end of one worker: wait_ready(), train(config, sink, run_folder), find_lr(config,
stop), close(timeout), and `pid`, `identity`, `alive`, exit_text(). The pool lends idle workers, takes them back,
and puts a fresh one in the place of one that was lost; the executor keeps two pools, the runs' slots and the
finder's helpers, so that a finder never waits behind a class's runs.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from core.engine.config import TrainConfig
from core.engine.lr_finder import FinderStopped
from core.lab.executors.base import (
    Executor,
    RunCancelled,
    RunRefusedByWorker,
    RunSink,
    WorkerLost,
    take_idle,
)

log = logging.getLogger(__name__)


class WorkerPool:
    """Warm workers of one kind (`what`: "training workers", "helper workers"), each made by `make()`."""

    def __init__(self, make: Callable[[], object], what: str):
        self.make, self.what = make, what
        self.problem = ""  # why no worker could start, for the students' message
        self._idle: queue.Queue = queue.Queue()
        self._members: list = []
        self._lock = threading.Lock()
        self._closed = False

    def spawn(self, n: int) -> list:
        """Start n workers (they warm up meanwhile); admit() each."""
        return [self._made() for _ in range(n)]

    def admit(self, worker) -> None:
        """Wait until `worker` is warm, then lend it out; one that cannot start is closed and said why."""
        try:
            worker.wait_ready()
        except Exception as exc:
            self.problem = f"a worker could not start ({type(exc).__name__}: {exc} {worker.exit_text()})"
            log.error("%s", self.problem)
            worker.close(timeout=1)
            return
        self._idle.put(worker)

    def admit_all(self, workers: list) -> None:
        """admit() each at once, each lent out as soon as it is warm (the first run need not wait for the slowest);
        returns when all are admitted. If none of them started, a waiting caller is told why (RunRefusedByWorker)."""
        admitting = [threading.Thread(target=self.admit, args=(worker,), daemon=True, name="worker-admit")
                     for worker in workers]
        for thread in admitting:
            thread.start()
        for thread in admitting:
            thread.join()
        if workers and not any(worker.alive for worker in workers):
            self._idle.put(None)

    def take(self, cancelled: Callable[[], bool]):
        """An idle, living worker, waiting as long as it takes unless `cancelled()` turns true (RunCancelled)."""
        while True:
            worker = take_idle(self._idle, cancelled)
            if worker is None:
                self._idle.put(None)  # for the next caller too
                raise RunRefusedByWorker(f"The lab could not start its {self.what}: {self.problem}")
            if worker.alive:
                return worker
            self.replace(worker)  # died while idle

    def give_back(self, worker) -> None:
        self._idle.put(worker)

    def replace(self, worker) -> None:
        """Close a lost worker and warm a fresh one in its place (unless the pool is closed)."""
        with self._lock:
            if worker in self._members:
                self._members.remove(worker)
            if self._closed:
                return
        worker.close(timeout=1)
        threading.Thread(target=lambda: self.admit(self._made()), daemon=True, name="worker-replace").start()

    def identities(self) -> list:
        """What names each warm worker (its pid, or (pid, host) for a Ray actor)."""
        with self._lock:
            return [worker.identity for worker in self._members if worker.pid is not None and worker.alive]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._members)
        for worker in workers:
            worker.close()

    def _made(self):
        worker = self.make()
        with self._lock:
            self._members.append(worker)
        return worker


class PoolExecutor(Executor):
    """An executor of two pools: `workers` train runs, `helpers` run the learning-rate finder."""

    def __init__(self):
        super().__init__()
        self.workers: WorkerPool | None = None
        self.helpers: WorkerPool | None = None

    def train(self, config: TrainConfig, sink: RunSink, run_folder=None) -> None:
        worker = self.workers.take(sink.cancelled)
        try:
            worker.train(config, sink, run_folder)
        except WorkerLost:
            log.warning("a training worker (%s) was lost: %s", worker.identity, worker.exit_text())
            self.workers.replace(worker)
            raise
        except RunRefusedByWorker:
            self.workers.give_back(worker)  # it refused this run, and stays up for the next one
            raise
        except BaseException:
            # The server's side failed (the sink could not keep an event, say) while the worker may still be training
            # the run: a fresh worker takes its place, or the pool would be a slot short for good.
            self.workers.replace(worker)
            raise
        self.workers.give_back(worker)

    def find_lr(self, config: TrainConfig, stop: threading.Event | None = None):
        try:
            helper = self.helpers.take(lambda: stop is not None and stop.is_set())
        except RunCancelled as exc:  # stopped while every helper was busy
            raise FinderStopped("the learning-rate finder was stopped") from exc
        try:
            found = helper.find_lr(config, stop)
        except WorkerLost:
            self.helpers.replace(helper)
            raise
        except BaseException:
            self.helpers.give_back(helper)
            raise
        self.helpers.give_back(helper)
        return found

    def close(self) -> None:
        for pool in (self.workers, self.helpers):
            if pool is not None:
                pool.close()

    @property
    def pids(self) -> list:
        """The warm training workers' process ids ((pid, host) for Ray actors; tests and benchmarks use them)."""
        return self.workers.identities() if self.workers else []

    @property
    def helper_pids(self) -> list:
        """The finder's helper workers' process ids (tests use them)."""
        return self.helpers.identities() if self.helpers else []
