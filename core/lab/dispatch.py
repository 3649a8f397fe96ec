"""The executor's side of the lab: the jobs it remembers, its fair queue, and a light thread per running job.

Each running job's thread hands the run to the executor (worker processes or Ray actors, core.lab.executors) and
passes the Trainer's events, as they come back, to two callbacks (JobSink): the run store's recorder (files on
disk) and the job itself (core.lab.job). No model is kept: the result is dropped as soon as the recorder has saved
it. The queue's order is core.lab.fair_queue's. The JobManager (core.lab.jobs) checks each run before it comes here.
"""

from __future__ import annotations

import logging
import threading

from core.engine.events import failure_message
from core.engine.run_store import RunStore
from core.lab.estimate import measure_speed
from core.lab.executors.base import Capacity, Executor, RunCancelled, RunRefusedByWorker, WorkerLost
from core.lab.fair_queue import FairQueue
from core.lab.job import Job
from core.lab.job_sink import JobSink
from core.lab.limits import MAX_WAITING_PER_OWNER, RunRefused, waiting_limit_text
from core.lab.sweep import SweepJobs

log = logging.getLogger(__name__)

KEEP_ENDED = 100  # ended jobs remembered for their owners' pages; older ones live on in the run store


class Dispatcher:
    """Starts queued jobs, in the fair queue's order, while fewer than max_concurrent train; thread-safe (`lock`).

    `jobs` and `sweeps` are those remembered: every live one, and the last KEEP_ENDED ended jobs.
    """

    def __init__(self, store: RunStore, executor: Executor, max_concurrent: int | None = None):
        self.store, self.executor = store, executor
        self._max_concurrent = max_concurrent
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.sweeps: dict[str, SweepJobs] = {}
        self.queue = FairQueue()
        self.running: dict[str, Job] = {}
        self.speed: float | None = None  # this machine against the lab machine, timed by warm_up()
        self._warming: threading.Thread | None = None

    @property
    def capacity(self) -> Capacity:
        """What the executor can train at once, and on how many machines."""
        return self.executor.capacity()

    @property
    def max_concurrent(self) -> int:
        """How many runs train at once: as asked, else one per slot of the executor."""
        return self._max_concurrent or self.capacity.slots

    def add(self, jobs: list[Job], owner: str) -> None:
        """Queue every one of the owner's new jobs or none (RunRefused over the waiting limit); start what may."""
        with self.lock:
            free = max(0, self.max_concurrent - len(self.running) - len(self.queue))
            would_wait = self.queue.waiting_of(owner) + max(0, len(jobs) - free)
            if would_wait > MAX_WAITING_PER_OWNER:
                raise RunRefused(waiting_limit_text(len(jobs), would_wait))
            for job in jobs:
                self.jobs[job.id] = job
                self.queue.add(job)
            self.dispatch()  # a sweep's runs are all queued before any starts: whole or not at all

    def stop(self, job: Job) -> bool:
        """Take a queued job off the queue, or ask a running one to stop after its current step."""
        with self.lock:
            if job in self.queue:
                self.queue.remove(job)
                job.cancel()
                self.queue.renumber()
                return True
        return job.request_stop()

    def active(self) -> list[Job]:
        """The queued first (the last to start first), then the training ones."""
        with self.lock:
            return list(reversed(self.queue.order())) + list(self.running.values())

    def warm_up(self) -> threading.Thread:
        """In the background: start the executor's workers (so the first Train click is fast), time the machine."""
        self._warming = threading.Thread(target=self._warm, daemon=True, name="mnist-lab-warm-up")
        self._warming.start()
        return self._warming

    def join_warm_up(self, timeout: float) -> None:
        if self._warming is not None:
            self._warming.join(timeout)

    def _warm(self) -> None:
        try:
            self.speed = measure_speed()
            self.executor.ensure_started()
        except Exception:  # a failed warm-up shows up again, with its message, when a job starts
            log.exception("warm-up failed")
        self.dispatch()  # a Ray cluster's slots are known only now: runs queued meanwhile start

    def dispatch(self) -> None:
        """Start the queued jobs that may start now, each in its own thread."""
        with self.lock:
            if self.max_concurrent == 0 and self._warming is None:
                self.warm_up()  # slots are counted once the executor has started (a Ray cluster's, say)
            starting = []
            for job in self.queue.order():
                if len(self.running) >= self.max_concurrent or not self._compatible(job):
                    break
                self.queue.started(job)
                self.running[job.id] = job
                starting.append(job)
            # Positions first: a job seen running must never leave its followers with stale positions.
            self.queue.renumber()
            for job in starting:
                job.thread = threading.Thread(target=self._run, args=(job,), daemon=True, name=f"train-{job.id}")
                job.thread.start()

    def _compatible(self, job: Job) -> bool:
        # Accelerate keeps one device/precision state per process: in one process, runs with another one wait.
        if not self.executor.abilities().shares_process:
            return True
        key = (job.config.device, job.config.mixed_precision)
        return all((j.config.device, j.config.mixed_precision) == key for j in self.running.values())

    def _run(self, job: Job) -> None:
        sink = JobSink(self.store, job)
        try:
            if not job.mark_running():
                return
            self.executor.ensure_launched()  # a pool lends its first warm worker: no wait for the whole pool
            if job.stop_requested:  # stopped while the workers warmed up: it has ended already
                return
            self.executor.train(job.config, sink, sink.open())
        except RunCancelled:  # stopped while it waited for a worker: it has ended already
            sink.discard()
        except RunRefusedByWorker as exc:
            sink.refused(str(exc))
        except WorkerLost as exc:
            sink.fail(str(exc))
        except Exception as exc:
            log.exception("job %s failed", job.id)
            sink.fail(failure_message(exc))
        finally:
            job.detach_trainer()  # drops the run's controls (and in-process, the Trainer with its model)
            with self.lock:
                self.running.pop(job.id, None)
                self._forget_old()
            self.dispatch()

    def _forget_old(self) -> None:
        ended = [job for job in self.jobs.values() if job.status.ended]
        for job in ended[: max(0, len(ended) - KEEP_ENDED)]:
            del self.jobs[job.id]
        live = set(self.jobs)
        for sweep_id, sweep in list(self.sweeps.items()):
            if not live.intersection(sweep.job_ids):
                del self.sweeps[sweep_id]
