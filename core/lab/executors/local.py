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
from pathlib import Path

from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors
from core.lab.executors.base import Capacity, Executor, RunRefusedByWorker, RunSink, WorkerLost, unpack_end
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

    def find_lr(self, config: TrainConfig):
        """Run the learning-rate range test in this worker and return its LrFinderResult."""
        try:
            self.link.send(("find_lr", config))
            kind, answer = self.link.recv()
        except (EOFError, OSError) as exc:
            raise WorkerLost(self.exit_text()) from exc
        if kind == "refused":
            raise RunRefusedByWorker(answer)
        return answer

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

    def __init__(self, data: MNISTTensors | None = None, slots: int = 1):
        super().__init__()
        self.data, self.slots = data, slots
        self.threads = torch_threads(slots)
        self._idle: queue.Queue[LocalWorker | None] = queue.Queue()
        self._workers: list[LocalWorker] = []
        self._lock = threading.Lock()
        self._closed = False
        self._helper: LocalWorker | None = None
        self._helper_lock = threading.Lock()
        self.problem = ""  # why no worker could start, for the students' message

    def start(self) -> None:
        started = [self._spawn() for _ in range(self.slots)]
        self._helper = LocalWorker(self.data, self.threads)  # short tasks (the finder): never behind the runs
        for worker in started:
            self._admit(worker)
        try:
            self._helper.wait_ready()
        except (EOFError, OSError, TimeoutError, AssertionError) as exc:
            log.error("the helper worker could not start: %s", exc)
        if not any(worker.alive for worker in started):
            self._idle.put(None)  # wakes a waiting run, which reports the problem

    def capacity(self) -> Capacity:
        return Capacity(self.kind, self.slots, 1)

    def train(self, config: TrainConfig, sink: RunSink, run_folder=None) -> None:
        worker = self._take()
        try:
            worker.train(config, sink, run_folder)
        except WorkerLost:
            log.warning("a training worker (pid %s) was lost: %s", worker.pid, worker.exit_text())
            self._replace(worker)
            raise
        self._idle.put(worker)

    def find_lr(self, config: TrainConfig):
        with self._helper_lock:  # one range test at a time: a few seconds each
            if self._helper is None or not self._helper.alive:
                self._helper = LocalWorker(self.data, self.threads)
                self._helper.wait_ready()
            try:
                return self._helper.find_lr(config)
            except WorkerLost:
                self._helper.close(timeout=1)
                self._helper = None
                raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers)
        for worker in workers + ([self._helper] if self._helper else []):
            worker.close()

    @property
    def pids(self) -> list[int]:
        """The process ids of the workers that are ready (tests and benchmarks use them)."""
        with self._lock:
            return [worker.pid for worker in self._workers if worker.pid is not None and worker.alive]

    # --- inside ----------------------------------------------------------------------------------------------
    def _spawn(self) -> LocalWorker:
        worker = LocalWorker(self.data, self.threads)
        with self._lock:
            self._workers.append(worker)
        return worker

    def _admit(self, worker: LocalWorker) -> None:
        try:
            worker.wait_ready()
        except (EOFError, OSError, TimeoutError, AssertionError) as exc:
            self.problem = f"a training worker could not start ({type(exc).__name__}: {exc} {worker.exit_text()})"
            log.error("%s", self.problem)
            worker.close(timeout=1)
            return
        self._idle.put(worker)

    def _take(self) -> LocalWorker:
        while True:
            worker = self._idle.get()
            if worker is None:
                self._idle.put(None)  # for the next run too
                raise RunRefusedByWorker("The lab could not start its training workers: " + self.problem)
            if worker.alive:
                return worker
            self._replace(worker)  # died while idle

    def _replace(self, worker: LocalWorker) -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            if self._closed:
                return
        worker.close(timeout=1)
        threading.Thread(target=lambda: self._admit(self._spawn()), daemon=True, name="worker-replace").start()
