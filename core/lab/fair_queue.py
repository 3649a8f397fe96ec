"""The queue of waiting runs, fair between students: round-robin by whose last start is longest ago."""

from __future__ import annotations

from collections import deque

from core.lab.job import Job


class FairQueue:
    """Waiting jobs in the order they came; order() says in which they start. Not locked: the Dispatcher
    (core.lab.dispatch) holds its lock around every call."""

    def __init__(self):
        self.jobs: list[Job] = []
        self._starts = 0  # runs started so far: the clock of each owner's last start
        self._last_start: dict[str, int] = {}  # owner -> the value of _starts at their last run's start

    def __len__(self) -> int:
        return len(self.jobs)

    def __contains__(self, job: Job) -> bool:
        return job in self.jobs

    def add(self, job: Job) -> None:
        self.jobs.append(job)

    def remove(self, job: Job) -> None:
        self.jobs.remove(job)

    def started(self, job: Job) -> None:
        """`job` leaves the queue to train: its owner's turn is taken."""
        self.jobs.remove(job)
        self._starts += 1
        self._last_start[job.owner] = self._starts

    def waiting_of(self, owner: str) -> int:
        """How many of this owner's runs wait."""
        return sum(job.owner == owner for job in self.jobs)

    def order(self) -> list[Job]:
        """The queue in the order it will start: round-robin between owners, each owner's runs in their own
        order, next the owner whose last start is longest ago (one who never started first; ties: who came
        first). One student's three waiting runs no longer all go before a classmate's first."""
        last = dict(self._last_start)
        pending: dict[str, deque[Job]] = {}  # insertion order: owners by their earliest waiting run
        for job in self.jobs:
            pending.setdefault(job.owner, deque()).append(job)
        order, clock = [], self._starts
        while pending:
            owner = min(pending, key=lambda o: last.get(o, -1))
            order.append(pending[owner].popleft())
            clock += 1
            last[owner] = clock
            if not pending[owner]:
                del pending[owner]
        return order

    def renumber(self) -> None:
        """Tell each waiting job its place in order() (1 = next)."""
        for position, job in enumerate(self.order(), start=1):
            job.set_queue_position(position)
