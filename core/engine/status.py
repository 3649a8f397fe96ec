"""The one vocabulary of run states, shared by the trainer, the job queue, the run store and the pages."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a run stands. A StrEnum: it is saved in run.json and compared as the plain word."""

    QUEUED = "queued"  # waiting in the server's queue for a free trainer
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"  # by its owner (or a signal), or cancelled while queued
    DIVERGED = "diverged"  # the loss became NaN, infinite or exploded
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # saved as running by a process that died
    DAMAGED = "damaged"  # its files in the run store cannot be read as a run

    @property
    def active(self) -> bool:
        """Queued, running or paused: a page showing it keeps polling."""
        return self in (Status.QUEUED, Status.RUNNING, Status.PAUSED)

    @property
    def ended(self) -> bool:
        """How a run that trained came to an end (interrupted and damaged runs are read back, not ended)."""
        return self in (Status.FINISHED, Status.STOPPED, Status.DIVERGED, Status.FAILED)
