"""The local executor: a pool of long-lived worker processes on this machine, started by the server itself.

Each worker (core.lab.executors.worker) imports torch and loads MNIST once, then trains one run at a time; a
run's events stream back over a private socket pair. Training never holds the web server's interpreter lock.
A worker that dies fails only its own run, and a fresh one takes its place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors
from core.lab.executors.base import (
    FINDER_HELPERS,
    WAIT_POLL_S,
    Capacity,
    Executor,
    RunCancelled,
    RunRefusedByWorker,
    RunSink,
    WorkerLost,
    take_idle,
    unpack_end,
)
from core.lab.executors.link import MessageLink
from core.lab.tuning import torch_threads

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
READY_TIMEOUT_S = 300  # importing torch and loading MNIST on a busy 2-core machine takes seconds, not minutes


class LocalWorker:
    """The server's end of one worker process: start it, send it commands, relay one run at a time."""

    def __init__(self, data: MNISTTensors | None, threads: int):
        mine, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                                          os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "core.lab.executors.worker", "--fd", str(theirs.fileno()), "--threads",
             str(threads)],
            pass_fds=[theirs.fileno()], cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        self.link = MessageLink(mine.detach())
        self.pid: int | None = None
        self.link.send(("data", data))

    def wait_ready(self) -> None:
        kind, self.pid = self.link.recv(READY_TIMEOUT_S)
        assert kind == "ready"

    def train(self, config: TrainConfig, sink: RunSink, run_folder=None) -> None:
        """Relay one run to `sink`; WorkerLost if the process dies on the way."""
        try:
            self.link.send(("train", config, None if run_folder is None else str(run_folder)))
            while True:
                message = self.link.recv()
                kind = message[0]
                if kind == "events":
                    for event in message[1]:
                        sink(event)
                elif kind == "started":
                    sink.started(WorkerControl(self, config))
                elif kind == "end":
                    sink(unpack_end(message[1], config))
                    return
                elif kind == "refused":
                    raise RunRefusedByWorker(message[1])
        except (EOFError, OSError) as exc:
            raise WorkerLost(self.exit_text()) from exc

    def find_lr(self, config: TrainConfig, stop: threading.Event | None = None):
        """Run the learning-rate range test in this worker and return its LrFinderResult; once `stop` is set, the
        worker is told, and FinderStopped comes back."""
        from core.engine.lr_finder import FinderStopped

        try:
            self.link.send(("find_lr", config))
            told = False
            while True:
                try:
                    kind, *answer = self.link.recv(WAIT_POLL_S)
                    break
                except TimeoutError:
                    if stop is not None and stop.is_set() and not told:
                        self.link.send(("stop",))
                        told = True
        except (EOFError, OSError) as exc:
            raise WorkerLost(self.exit_text()) from exc
        if kind == "refused":
            raise RunRefusedByWorker(answer[0])
        if kind == "finder_stopped":
            raise FinderStopped("the learning-rate finder was stopped")
        return answer[0]

    def exit_text(self) -> str:
        code = self.process.poll()
        return "" if code is None else f"its process ended with code {code}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(OSError):
            self.link.send(("quit",))
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.link.close()


class WorkerControl:
    """A run's controls, sent to its worker; the same methods as the Trainer's."""

    def __init__(self, worker: LocalWorker, config: TrainConfig):
        self.worker, self.config = worker, config
        self.pid = worker.pid  # the process that trains the run

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def stop(self) -> None:
        self._send("stop")

    def set_lr(self, lr: float) -> None:
        from core.engine.trainer import check_new_lr

        check_new_lr(self.config, lr)  # refused here, in words, rather than ignored in the worker
        self._send("set_lr", float(lr))

    def _send(self, *message) -> None:
        with contextlib.suppress(OSError):  # the worker is gone: its run's thread reports that
            self.worker.link.send(message)


class LocalExecutor(Executor):
    """`slots` worker processes on this machine, started together and kept warm between runs."""

    kind = "local"

    def __init__(self, data: MNISTTensors | None = None, slots: int = 1, helpers: int = FINDER_HELPERS):
        super().__init__()
        self.data, self.slots, self.helpers = data, slots, helpers
        self.threads = torch_threads(slots)
        self._idle: queue.Queue[LocalWorker | None] = queue.Queue()
        self._workers: list[LocalWorker] = []
        self._lock = threading.Lock()
        self._closed = False
        self._idle_helpers: queue.Queue[LocalWorker | None] = queue.Queue()
        self._helpers: list[LocalWorker] = []
        # Workers ask for SIGKILL when the thread that started them ends (PR_SET_PDEATHSIG is tied to that thread,
        # not to the process): so one thread that lives as long as the executor starts every one of them.
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="worker-spawner")
        self.problem = ""  # why no worker could start, for the students' message

    def start(self) -> None:
        started = [self._spawn() for _ in range(self.slots)]
        helpers = [self._spawn(helper=True) for _ in range(self.helpers)]  # the finder: never behind the runs
        for worker in started:
            self._admit(worker)
        for helper in helpers:
            self._admit(helper, helper=True)
        if not any(worker.alive for worker in started):
            self._idle.put(None)  # wakes a waiting run, which reports the problem
        if helpers and not any(helper.alive for helper in helpers):
            self._idle_helpers.put(None)  # the same for a waiting finder

    def capacity(self) -> Capacity:
        return Capacity(self.kind, self.slots, 1)

    def train(self, config: TrainConfig, sink: RunSink, run_folder=None) -> None:
        worker = self._take(sink)
        try:
            worker.train(config, sink, run_folder)
        except WorkerLost:
            log.warning("a training worker (pid %s) was lost: %s", worker.pid, worker.exit_text())
            self._replace(worker)
            raise
        except RunRefusedByWorker:
            self._idle.put(worker)  # it refused this run, and stays up for the next one
            raise
        self._idle.put(worker)

    def find_lr(self, config: TrainConfig, stop: threading.Event | None = None):
        from core.engine.lr_finder import FinderStopped

        try:
            helper = take_idle(self._idle_helpers, lambda: stop is not None and stop.is_set())
        except RunCancelled as exc:  # stopped while every helper was busy
            raise FinderStopped("the learning-rate finder was stopped") from exc
        if helper is None:
            self._idle_helpers.put(None)  # for the next finder too
            raise RunRefusedByWorker("The lab could not start its helper workers: " + self.problem)
        try:
            return helper.find_lr(config, stop)
        except WorkerLost:
            self._replace(helper, helper=True)
            raise
        finally:
            if helper.alive:
                self._idle_helpers.put(helper)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = self._workers + self._helpers
        for worker in workers:
            worker.close()
        self._spawner.shutdown(wait=False)

    @property
    def pids(self) -> list[int]:
        """The process ids of the workers that are ready (tests and benchmarks use them)."""
        with self._lock:
            return [worker.pid for worker in self._workers if worker.pid is not None and worker.alive]

    # --- inside ----------------------------------------------------------------------------------------------
    def _spawn(self, helper: bool = False) -> LocalWorker:
        worker = self._spawner.submit(LocalWorker, self.data, self.threads).result()
        with self._lock:
            (self._helpers if helper else self._workers).append(worker)
        return worker

    def _admit(self, worker: LocalWorker, helper: bool = False) -> None:
        try:
            worker.wait_ready()
        except (EOFError, OSError, TimeoutError, AssertionError) as exc:
            self.problem = f"a training worker could not start ({type(exc).__name__}: {exc} {worker.exit_text()})"
            log.error("%s", self.problem)
            worker.close(timeout=1)
            return
        (self._idle_helpers if helper else self._idle).put(worker)

    def _take(self, sink: RunSink) -> LocalWorker:
        while True:
            worker = take_idle(self._idle, sink.cancelled)
            if worker is None:
                self._idle.put(None)  # for the next run too
                raise RunRefusedByWorker("The lab could not start its training workers: " + self.problem)
            if worker.alive:
                return worker
            self._replace(worker)  # died while idle

    def _replace(self, worker: LocalWorker, helper: bool = False) -> None:
        with self._lock:
            pool = self._helpers if helper else self._workers
            if worker in pool:
                pool.remove(worker)
            if self._closed:
                return
        worker.close(timeout=1)
        threading.Thread(target=lambda: self._admit(self._spawn(helper), helper), daemon=True,
                         name="worker-replace").start()

    @property
    def helper_pids(self) -> list[int]:
        """The process ids of the finder's helper workers that are ready (tests use them)."""
        with self._lock:
            return [worker.pid for worker in self._helpers if worker.pid is not None and worker.alive]
