"""The local executor: a pool of long-lived worker processes on this machine, forked by one warm parent.

The server starts one zygote (core.lab.executors.zygote) that imports torch and Accelerate and loads MNIST once;
each worker is a fork of it (milliseconds), so the pool's warm-up is paid once, not once per worker, and a worker
lost is replaced at once. A run's events stream back over a private socket pair per worker. Training never holds
the web server's interpreter lock. A worker that dies fails only its own run (core.lab.executors.pool).
`prewarm()` starts the zygote as the server starts (`python -m launch`), before any visitor arrives.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors
from core.engine.lr_finder import FinderStopped
from core.lab.cpu_share import torch_threads
from core.lab.executors.base import (
    FINDER_HELPERS,
    WAIT_POLL_S,
    Capacity,
    RemoteControl,
    RunRefusedByWorker,
    RunSink,
    WarmingUp,
    WorkerLost,
    unpack_end,
)
from core.lab.executors.link import MessageLink
from core.lab.executors.pool import PoolExecutor, WorkerPool
from core.lab.executors.zygote import FORK_COMMAND

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
READY_TIMEOUT_S = 300  # importing torch and loading MNIST on a busy 2-core machine takes seconds, not minutes
# Seconds each step of the zygote's warm-up typically takes on the 2-core lab machine while the web server starts
# beside it (measured; see docs/measured.md): the estimate of what is left scales them by how fast the steps
# already done went.
TYPICAL_STAGE_S = {"importing torch": 2.0, "importing Accelerate": 2.0, "loading MNIST": 0.4, "warming up": 0.3}
STAGES = tuple(TYPICAL_STAGE_S)
# Every zygote is started by this one thread, which lives as long as the server: the parent-death signal a zygote
# asks for follows the thread that started it, not the process (see worker.ask_death_with_parent).
_SPAWNER = ThreadPoolExecutor(1, thread_name_prefix="zygote-spawner")


class Zygote:
    """The server's end of the warm parent process: start it, ask it for workers, follow its warm-up."""

    def __init__(self, data: MNISTTensors | None):
        mine, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                                          os.environ.get("PYTHONPATH")])),
               # OpenBLAS (numpy's, scipy's) starts a thread pool as it loads: with one thread it starts none, and
               # the zygote forks single-threaded. Training runs in torch, whose threads each worker sets.
               "OPENBLAS_NUM_THREADS": "1"}
        self.started_at = time.monotonic()
        self.process = _SPAWNER.submit(
            subprocess.Popen, [sys.executable, "-m", "core.lab.executors.zygote", "--fd", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL).result()
        theirs.close()
        self.control = mine
        self.link = MessageLink(os.dup(mine.fileno()))
        self.data = data
        self._lock = threading.Lock()  # fork commands go after the data, one at a time
        self.stages: dict[str, float] = {"importing torch": self.started_at}  # stage -> when it began
        self.warm_at: float | None = None
        self.threads_when_forking: int | None = None
        self.problem = ""
        self._data_sent = threading.Event()
        threading.Thread(target=self._follow, daemon=True, name="zygote-follow").start()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def warm(self) -> bool:
        return self.warm_at is not None

    def fork(self, threads: int) -> socket.socket:
        """Ask for one more worker; the server's end of its socket (it says ready once forked)."""
        mine, theirs = socket.socketpair()
        self._data_sent.wait()
        with self._lock:
            socket.send_fds(self.control, [FORK_COMMAND.pack(b"F", threads)], [theirs.fileno()])
        theirs.close()
        return mine

    def warming(self) -> WarmingUp | None:
        """The step under way and the seconds left, from the steps' typical times scaled by how this warm-up went."""
        if self.warm or not self.alive:
            return None
        now = time.monotonic()
        stage = max(self.stages, key=self.stages.get)
        done = [s for s in STAGES if s in self.stages and s != stage]
        typical_done = sum(TYPICAL_STAGE_S[s] for s in done)
        pace = (self.stages[stage] - self.started_at) / typical_done if typical_done else 1.0
        pace = min(5.0, max(0.5, pace))
        later = STAGES[STAGES.index(stage) + 1:]
        left = max(0.0, TYPICAL_STAGE_S[stage] * pace - (now - self.stages[stage]))
        return WarmingUp(stage, left + pace * sum(TYPICAL_STAGE_S[s] for s in later))

    def exit_text(self) -> str:
        code = self.process.poll()
        return self.problem or ("" if code is None else f"its warm parent ended with code {code}")

    def close(self, timeout: float = 5.0) -> None:
        """Close its socket (it exits; its workers' sockets are the pool's to close) and reap it."""
        with contextlib.suppress(OSError):
            self.control.shutdown(socket.SHUT_RDWR)
        self.control.close()
        self.link.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _follow(self) -> None:
        with contextlib.suppress(EOFError, OSError):
            with self._lock:
                self.link.send(("data", self.data))  # read by the zygote once torch is imported
            self.data = None  # the zygote has its copy
            self._data_sent.set()
            while True:
                kind, detail = self.link.recv()
                if kind == "stage":
                    self.stages[detail] = time.monotonic()
                elif kind == "warm":
                    self.threads_when_forking = detail
                    if detail != 1:
                        log.warning("the workers' zygote had %d threads when forking (1 expected)", detail)
                    self.warm_at = time.monotonic()
                    log.info("workers' zygote warm in %.1f s: %s", self.warm_at - self.started_at,
                             {s: round(t - self.started_at, 2) for s, t in self.stages.items()})
                    return
                elif kind == "warm_up_failed":
                    self.problem = f"its warm parent failed ({detail})"
                    log.error("the workers' zygote failed: %s", detail)
                    return
        self._data_sent.set()  # a zygote gone before the data: forks fail at once, and say why


_early: Zygote | None = None
_early_lock = threading.Lock()


def prewarm() -> Zygote:
    """Start the zygote for MNIST from data/ now, as the server starts (and return it); the first LocalExecutor
    without data of its own adopts it, so the first visitor finds it warm or warming."""
    global _early
    with _early_lock:
        if _early is None:
            _early = Zygote(None)
        return _early


def _adopt_early() -> Zygote | None:
    global _early
    with _early_lock:
        zygote, _early = _early, None
    return zygote if zygote is not None and zygote.alive else None


class LocalWorker:
    """The server's end of one worker process, forked by the zygote: send it commands, relay one run at a time."""

    def __init__(self, zygote: Zygote, threads: int):
        self.zygote = zygote
        self.link = MessageLink(zygote.fork(threads).detach())
        self.pid: int | None = None
        self._pidfd: int | None = None

    def wait_ready(self) -> None:
        kind, (self.pid, _host) = self.link.recv(READY_TIMEOUT_S)
        assert kind == "ready"
        with contextlib.suppress(OSError):  # follows this very process even if its pid is reused later
            self._pidfd = os.pidfd_open(self.pid)

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
        if self.alive:
            return ""
        return "its process ended" if self.pid is not None else f"it never started ({self.zygote.exit_text()})"

    @property
    def alive(self) -> bool:
        if self.pid is None:  # not forked yet, or not ready: it lives as long as its zygote can fork it
            return self.zygote.alive and not self.link.conn.closed
        return not self._ended(0)

    def close(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(OSError):
            self.link.send(("quit",))
        if self.pid is not None and not self._ended(timeout):
            with contextlib.suppress(OSError):
                if self._pidfd is not None:
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                else:
                    os.kill(self.pid, signal.SIGKILL)
            self._ended(timeout)
        self.link.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def _ended(self, timeout: float) -> bool:
        """True once the process has ended (waiting up to `timeout` s); the zygote reaps it, not the server."""
        if self._pidfd is not None:
            return bool(select.select([self._pidfd], [], [], timeout)[0])
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return True
            except OSError:
                return False
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


class LocalExecutor(PoolExecutor):
    """`slots` worker processes on this machine, forked by one warm zygote and kept warm between runs, and
    `helpers` more for the learning-rate finder; each is lent out as soon as it is warm."""

    kind = "local"

    def __init__(self, data: MNISTTensors | None = None, slots: int = 1, helpers: int = FINDER_HELPERS):
        super().__init__()
        self.data, self.slots, self.helper_count = data, slots, helpers
        self.threads = torch_threads(slots)
        self.workers = WorkerPool(self._spawn, "training workers")
        self.helpers = WorkerPool(self._spawn, "helper workers")
        self.zygote: Zygote | None = None
        self._zygote_lock = threading.Lock()
        self._launcher: threading.Thread | None = None

    def ensure_launched(self) -> None:
        """Start the zygote and ask it for the pool's workers, once; returns at once (the pool lends each worker
        as soon as it is warm, so the first run takes the first one ready)."""
        with self._zygote_lock:
            if self._launcher is None:
                self._launcher = threading.Thread(target=self._fill_pools, daemon=True, name="pool-launcher")
                self._launcher.start()

    def start(self) -> None:
        """ensure_launched(), then wait until every worker and helper is warm."""
        self.ensure_launched()
        self._launcher.join()

    @property
    def started(self) -> bool:
        return self._launcher is not None and not self._launcher.is_alive()

    def warming(self) -> WarmingUp | None:
        zygote = self.zygote
        return zygote.warming() if zygote is not None else None

    def capacity(self) -> Capacity:
        return Capacity(self.kind, self.slots, 1)

    def close(self) -> None:
        super().close()
        with self._zygote_lock:
            zygote, self.zygote = self.zygote, None
        if zygote is not None:
            zygote.close()

    def _fill_pools(self) -> None:
        workers = self.workers.spawn(self.slots)
        helpers = self.helpers.spawn(self.helper_count)  # the finder's: never behind the runs
        admitting = [threading.Thread(target=pool.admit_all, args=(members,), daemon=True, name="pool-admit")
                     for pool, members in ((self.workers, workers), (self.helpers, helpers))]
        for thread in admitting:
            thread.start()
        for thread in admitting:
            thread.join()

    def _zygote_now(self) -> Zygote:
        """The warm parent, started (or adopted from prewarm()) on first use, and again if it died."""
        with self._zygote_lock:
            if self.zygote is None or not self.zygote.alive:
                if self.zygote is not None:
                    log.warning("the workers' zygote was lost (%s); starting a new one", self.zygote.exit_text())
                    self.zygote.close(timeout=1)
                self.zygote = (_adopt_early() if self.data is None else None) or Zygote(self.data)
            return self.zygote

    def _spawn(self) -> LocalWorker:
        return LocalWorker(self._zygote_now(), self.threads)
