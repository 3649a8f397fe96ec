"""One student's learning-rate finder on the server: run by the executor's helper workers, stoppable, never lost.

The JobManager keeps the latest FinderTask of each owner; the Hyperparameters page polls its FinderState (plain
data, the same through the coordinator) and offers Stop.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.engine.config import TrainConfig
from core.engine.lr_finder import FinderStopped
from core.lab.executors.base import RunRefusedByWorker, WorkerLost
from core.lab.limits import RunRefused

log = logging.getLogger(__name__)

# A student's next finder starts at least this long after their last one ended (found, stopped or failed): one who
# starts finder after finder keeps a helper busy a fraction of the time, not all of it, and the class's runs
# keep their cores. An honest student reads the curve meanwhile.
FINDER_SPACING_S = 20.0


@dataclass(frozen=True)
class FinderState:
    """A learning-rate finder's state, as plain data: what a page reads of it."""

    id: str  # a page remembers which finder's answer it has taken in
    owner: str
    config: TrainConfig
    result: object  # the LrFinderResult, or None
    message: str  # what the student reads: the state, or why there is no result
    done: bool
    stopped: bool  # ended by Stop (or by the server closing), without a result


class FinderTask:
    """The learning-rate range test for one owner's settings, in a thread of the server that waits for a helper."""

    def __init__(self, config: TrainConfig, owner: str, clock: Callable[[], float] = time.monotonic):
        self.id = secrets.token_hex(6)
        self.config, self.owner, self.clock = config, owner, clock
        self.ended_at: float | None = None  # clock() when it ended
        self.result = None  # the LrFinderResult, once found
        self.message = "finding a learning rate…"
        self._stop = threading.Event()
        self._done = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, executor) -> None:
        """Run it in the background with `executor` (its helper workers)."""
        self.thread = threading.Thread(target=self._find, args=(executor,), daemon=True, name="lr-finder")
        self.thread.start()

    def stop(self) -> bool:
        """Stop it after its current step; False if it has ended."""
        if self._done.is_set():
            return False
        self._stop.set()
        self.message = "stopping…"
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until it has ended (or the timeout passed); True if it has."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def state(self) -> FinderState:
        """Its state now, as plain data. Done is read first: the thread sets the result and its message before it
        sets done, so a state that says done always carries them (read the other way, a finder ending in between
        gave done without its result, and the page lost the suggested rate)."""
        done = self._done.is_set()
        result, message = self.result, self.message
        stopped = done and result is None and self._stop.is_set()
        return FinderState(self.id, self.owner, self.config, result, message, done, stopped)

    @property
    def stopped(self) -> bool:
        """Ended by Stop (or by the server closing), without a result."""
        return self._done.is_set() and self.result is None and self._stop.is_set()

    def _find(self, executor) -> None:
        try:
            executor.ensure_started()
            if self._stop.is_set():
                raise FinderStopped("stopped before it started")
            self.result = executor.find_lr(self.config, self._stop)
            self.message = "found"
        except FinderStopped:
            self.message = "The learning-rate finder was stopped before it found a rate."
        except (RunRefusedByWorker, WorkerLost) as exc:
            self.message = str(exc)
        except Exception as exc:  # the student is told; nothing else depends on a finder
            log.exception("the learning-rate finder failed")
            self.message = f"The learning-rate finder failed: {type(exc).__name__}: {exc}"
        finally:
            self.ended_at = self.clock()
            self._done.set()


class Finders:
    """Each owner's latest learning-rate finder (running or ended); one at a time per owner, each started at least
    `spacing_s` after the owner's last one ended. Thread-safe."""

    def __init__(self, spacing_s: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.spacing_s = FINDER_SPACING_S if spacing_s is None else spacing_s
        self.clock = clock
        self._lock = threading.Lock()
        self._latest: dict[str, FinderTask] = {}

    def start(self, config: TrainConfig, owner: str, executor) -> FinderTask:
        """Start a finder for `owner` with `executor`'s helpers; RunRefused while the owner's last one runs, or
        ended less than `spacing_s` ago."""
        with self._lock:
            last = self._latest.get(owner)
            if last is not None and not last.done:
                raise RunRefused("Your learning-rate finder is still running: wait for its answer, or stop it, "
                                 "before you start another.")
            wait = self.spacing_s - (self.clock() - last.ended_at) if last is not None else 0.0
            if wait > 0:
                raise RunRefused(f"You can start another learning-rate finder in {math.ceil(wait)} s. The lab "
                                 f"spaces each student's finders by {self.spacing_s:.0f} s, so that they leave the "
                                 "class's runs their share of the server.")
            task = self._latest[owner] = FinderTask(config, owner, self.clock)
        task.start(executor)
        return task

    def latest(self, owner: str) -> FinderTask | None:
        with self._lock:
            return self._latest.get(owner)

    def all(self) -> list[FinderTask]:
        with self._lock:
            return list(self._latest.values())
