"""The local executor: a pool of long-lived worker processes on this machine, started by the server itself.

Each worker (core.lab.executors.worker) imports torch and loads MNIST once, then trains one run at a time; a
run's events stream back over a private socket pair. Training never holds the web server's interpreter lock.
A worker that dies fails only its own run, and a fresh one takes its place (core.lab.executors.pool).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors
from core.engine.lr_finder import FinderStopped
from core.lab.executors.base import (
    FINDER_HELPERS,
    WAIT_POLL_S,
    Capacity,
    RemoteControl,
    RunRefusedByWorker,
    RunSink,
    WorkerLost,
    unpack_end,
)
from core.lab.executors.link import MessageLink
from core.lab.executors.pool import PoolExecutor, WorkerPool
from core.lab.tuning import torch_threads

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
        kind, (self.pid, _host) = self.link.recv(READY_TIMEOUT_S)
        assert kind == "ready"

    @property
    def identity(self) -> int | None:
        return self.pid

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
                    sink.started(RemoteControl(lambda *command: self.link.send(command), config, self.pid))
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


class LocalExecutor(PoolExecutor):
    """`slots` worker processes on this machine, started together and kept warm between runs, and `helpers`
    more for the learning-rate finder."""

    kind = "local"

    def __init__(self, data: MNISTTensors | None = None, slots: int = 1, helpers: int = FINDER_HELPERS):
        super().__init__()
        self.data, self.slots, self.helper_count = data, slots, helpers
        self.threads = torch_threads(slots)
        # Workers ask for SIGKILL when the thread that started them ends (PR_SET_PDEATHSIG is tied to that thread,
        # not to the process): so one thread that lives as long as the executor starts every one of them.
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="worker-spawner")
        self.workers = WorkerPool(self._spawn, "training workers")
        self.helpers = WorkerPool(self._spawn, "helper workers")

    def start(self) -> None:
        started = self.workers.spawn(self.slots)
        helpers = self.helpers.spawn(self.helper_count)  # the finder's: never behind the runs
        self.workers.admit_all(started)
        self.helpers.admit_all(helpers)

    def capacity(self) -> Capacity:
        return Capacity(self.kind, self.slots, 1)

    def close(self) -> None:
        super().close()
        self._spawner.shutdown(wait=False)

    def _spawn(self) -> LocalWorker:
        return self._spawner.submit(LocalWorker, self.data, self.threads).result()
