"""Where an executor reports one job's run in the server: the run store's recorder (files) and the job (live)."""

from __future__ import annotations

from core.engine.events import EndEvent, Event
from core.engine.run_store import RunStore
from core.engine.status import Status
from core.lab.executors.base import RunSink
from core.lab.job import Job


class JobSink(RunSink):
    """Passes each event to the run's recorder, created once the worker has it, and then to the job."""

    def __init__(self, store: RunStore, job: Job):
        self.store, self.job = store, job
        self.recorder = None

    def cancelled(self) -> bool:
        """Stopped before a worker took it: the executor gives up waiting for one."""
        return self.job.stop_requested

    def open(self):
        """Make the run's folder (a tracker such as TensorBoard writes into it while it trains); its path."""
        job = self.job
        self.recorder = self.store.create(job.config, label=job.label, student=job.student, owner=job.owner)
        return self.recorder.path

    def started(self, control) -> None:
        self.job.attach_trainer(control, self.recorder.id)

    def on_event(self, event: Event) -> None:
        self.recorder(event)  # first: a page that sees the job ended reads the run's final files
        self.job(event)

    def on_end(self, event: EndEvent) -> None:
        if event.status == Status.STOPPED and not event.result.steps:
            # Stopped before its first step (the Stop landed as a worker took it): like a run stopped while it
            # waited, nothing of it is kept, rather than a stopped run of 0 steps in the history.
            self.discard()
            self.job.stopped_before_start()
            return
        self.on_event(event)

    def refused(self, message: str) -> None:
        """The worker could not start the run: nothing of it is kept, and the student is told why."""
        self.discard()
        self.job.fail(message)

    def discard(self) -> None:
        """Nothing of a run that never started is kept."""
        if self.recorder is not None:
            self.recorder.discard()
            self.recorder = None

    def fail(self, message: str) -> None:
        self.job.fail(message)
        if self.recorder is not None and self.recorder.record.get("status") == Status.RUNNING:
            self.recorder.fail(message)
