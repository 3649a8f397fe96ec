"""Training jobs for a shared lab server: a queue fair between students, a cap on runs at once, an executor.

Plain Python: never imports streamlit. The dashboard keeps one JobManager per server (per runs folder); each
browser session submits jobs under its own owner id and reads them back through immutable snapshots.
Each running job has a light thread in the server that hands the run to the executor (worker processes or Ray
actors, core.lab.executors) and passes the Trainer's events, as they come back, to two callbacks (JobSink): the
run store's recorder (files on disk) and the job itself (core.lab.job). The manager keeps no model: the result
is dropped as soon as the recorder has saved it. The queue's order is core.lab.fair_queue's; the learning-rate
finders are core.lab.finder's.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import torch

from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors
from core.engine.display_name import clean_name, name_problem
from core.engine.events import failure_message
from core.engine.runs import Run, RunStore
from core.engine.status import Status
from core.lab.cpu_share import torch_threads
from core.lab.estimate import RUN_BUDGET, RunBudget, measure_speed
from core.lab.executors import make_executor
from core.lab.executors.base import Capacity, Executor, RunCancelled, RunRefusedByWorker, WorkerLost
from core.lab.fair_queue import FairQueue
from core.lab.finder import Finders, FinderTask
from core.lab.job import Job, JobSnapshot
from core.lab.job_sink import JobSink
from core.lab.limits import MAX_WAITING_PER_OWNER, NOT_YOURS_TO_DELETE, RunRefused, owns_run, waiting_limit_text
from core.lab.sweep import SweepJobs, sweep_configs

log = logging.getLogger(__name__)

KEEP_ENDED = 100  # ended jobs remembered for their owners' pages; older ones live on in the run store


class ManagerAnswers:
    """What the job manager and its web-process client (core.lab.coordinator.LabClient) answer alike, from their
    budget, speed and finder calls."""

    budget: RunBudget
    speed: float | None
    store: RunStore

    def saved_runs(self) -> list[Run]:
        """Every saved run, newest first (read from the runs folder, which every web process shares)."""
        return self.store.list()

    def saved_run(self, run_id: str) -> Run:
        """One saved run by id; raises ValueError for a malformed id (see RunStore.load)."""
        return self.store.load(run_id)

    def may_delete(self, record: dict, owner: str, instructor: bool = False) -> bool:
        """Whether this viewer may delete the saved run with this run.json: its owner or the instructor."""
        return instructor or owns_run(record, owner)

    def over_budget(self, config: TrainConfig) -> str | None:
        """Why this run is over the budget of one run on this server, for the student; None when it fits."""
        return self.budget.problem(config, self.speed or 1.0)

    def finder_problem(self, config: TrainConfig) -> str | None:
        """Why the learning-rate finder may not run for these settings (over the run budget); None when it may."""
        return self.budget.finder_problem(config, self.speed or 1.0)

    def find_lr(self, config: TrainConfig, owner: str, timeout: float | None = None):
        """start_finder, then wait for its LrFinderResult (scripts and tests); raises RunRefused with the reason."""
        task = self.start_finder(config, owner)
        task.wait(timeout)
        if task.result is None:
            raise RunRefused(task.message)
        return task.result


class JobManager(ManagerAnswers):
    """Queues training jobs and has the executor train at most max_concurrent at a time.

    All methods are thread-safe. Without an executor, the environment chooses one (core.lab.executors) and
    the manager closes it at shutdown; `data` (default: MNIST, loaded by each worker) goes to that executor.
    `gates` are further checks of every run's settings (the class's locked settings): each returns why a run is
    refused, or None; `owner_gates` take the owner and whether they are the instructor too. `name_check(owner,
    student)` likewise says why an owner may not sign a run with a name.
    """

    def __init__(self, store: RunStore, data: MNISTTensors | None = None, max_concurrent: int | None = None,
                 budget: RunBudget = RUN_BUDGET, executor: Executor | None = None,
                 gates: Sequence[Callable[[TrainConfig], str | None]] = (),
                 name_check: Callable[[str, str], str | None] | None = None,
                 owner_gates: Sequence[Callable[[TrainConfig, str, bool], str | None]] = ()):
        self.store = store
        self.owner_gates = tuple(owner_gates)  # checks that depend on who asks (the class experiment's value)
        self.name_check = name_check
        self.budget = budget
        self.gates = tuple(gates)
        self._owns_executor = executor is None
        self.executor = executor or make_executor(data, max_concurrent)
        self._max_concurrent = max_concurrent
        # Torch threads of the server's own work (predictions for the pages): see torch_threads for why.
        torch.set_num_threads(torch_threads(self.capacity.slots))
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._sweeps: dict[str, SweepJobs] = {}
        self._queue = FairQueue()
        self._running: dict[str, Job] = {}
        self._finders = Finders()
        self.speed: float | None = None  # this machine against the lab machine, timed by warm_up()
        self._warming: threading.Thread | None = None
        self.recover()  # marks the runs of a server that died interrupted, on disk

    # --- submitting and controlling -------------------------------------------------------------------
    def submit(self, config: TrainConfig, owner: str, label: str = "", student: str = "",
               instructor: bool = False) -> Job:
        """Queue a run for `owner`; it starts as soon as a slot is free. Raises RunRefused (over a limit).

        `student` is the display name the saved run shows on the Class page ("" for none); `instructor` says the
        owner is the instructor (no student of a class experiment).
        """
        if student:
            problem = name_problem(student) or (self.name_check(owner, student) if self.name_check else None)
            if problem:
                raise RunRefused(problem)
        return self._enqueue([(config, label)], owner, student=clean_name(student), instructor=instructor)[0]

    def submit_sweep(self, base: TrainConfig, param: str, values: Iterable, owner: str, instructor: bool = False,
                     **short) -> SweepJobs:
        """Queue one short run per value of one hyperparameter, in order; `short` sets epochs/train_subset."""
        configs = sweep_configs(base, param, list(values), **short)
        sweep = SweepJobs(secrets.token_urlsafe(6), param, tuple(getattr(c, param) for c in configs), owner)
        labelled = [(config, sweep.label_for(value)) for config, value in zip(configs, sweep.values, strict=True)]
        with self._lock:
            jobs = self._enqueue(labelled, owner, sweep.id, instructor=instructor)
            sweep = replace(sweep, job_ids=tuple(job.id for job in jobs))
            self._sweeps[sweep.id] = sweep
        return sweep

    def pause(self, job_id: str, owner: str) -> bool:
        """Pause the owner's running job; False if it is not theirs or not running (checked here, not in a page)."""
        job = self._owned(job_id, owner)
        return job.pause() if job else False

    def resume(self, job_id: str, owner: str) -> bool:
        """Resume the owner's paused job; False if it is not theirs or not paused."""
        job = self._owned(job_id, owner)
        return job.resume() if job else False

    def set_lr(self, job_id: str, owner: str, lr: float) -> bool:
        """Change the learning rate of the owner's training job from its next step; False if not theirs or not
        training. Raises ValueError (words for the student) for a bad rate or a one-cycle run."""
        job = self._owned(job_id, owner)
        return job.set_lr(lr) if job else False

    def stop(self, job_id: str, owner: str) -> bool:
        """Stop the owner's job after its current step (a queued one leaves the queue); False if not theirs."""
        job = self._owned(job_id, owner)
        return self._stop(job) if job else False

    def stop_sweep(self, sweep_id: str, owner: str) -> bool:
        """Stop every run of the owner's sweep (the queued ones are cancelled); False if it is not theirs."""
        sweep = self.get_sweep(sweep_id)
        if sweep is None or sweep.owner != owner:
            return False
        for job_id in reversed(sweep.job_ids):  # the queued ones first, so none starts
            self.stop(job_id, owner)
        return True

    def stop_all(self, instructor: bool = False) -> int:
        """Stop every waiting and training run, whoever started it; how many. Only for the instructor: raises
        PermissionError otherwise."""
        if not instructor:
            raise PermissionError("Only the instructor may stop every run: unlock the Class page's controls first.")
        with self._lock:
            jobs = list(reversed(self._queue.order())) + list(self._running.values())  # the queued first
        return sum(self._stop(job) for job in jobs)

    def delete_run(self, run_id: str, owner: str, instructor: bool = False) -> None:
        """Delete a saved run for its owner or the instructor. Raises PermissionError for anyone else, and
        ValueError (words for the student) for a run that is still training or unknown."""
        run = self.store.load(run_id)
        if not self.may_delete(run.record, owner, instructor):
            raise PermissionError(NOT_YOURS_TO_DELETE)
        with self._lock:
            training = any(job.run_id == run_id for job in self._running.values())
        if training or run.status == Status.RUNNING:
            raise ValueError("This run is still training: stop it first, then delete it.")
        self.store.delete(run_id)

    def start_finder(self, config: TrainConfig, owner: str) -> FinderTask:
        """Start the learning-rate range test for `owner` in one of the executor's helper workers, never in the
        web server; one at a time per owner. Raises RunRefused (over the budget, or one already running)."""
        problem = self.finder_problem(config)
        if problem:
            raise RunRefused(problem)
        return self._finders.start(config, owner, self.executor)

    def finder(self, owner: str) -> FinderTask | None:
        """The owner's latest learning-rate finder (running or ended), or None."""
        return self._finders.latest(owner)

    def stop_finder(self, owner: str) -> bool:
        """Stop the owner's running finder after its current step; False if none runs."""
        task = self.finder(owner)
        return task.stop() if task is not None else False

    def queue_order(self) -> list[JobSnapshot]:
        """The waiting runs in the order they will start."""
        with self._lock:
            jobs = self._queue.order()
        return [job.snapshot() for job in jobs]

    def live_snapshots(self) -> list[tuple[JobSnapshot, str]]:
        """Every queued, running or paused job's snapshot with its student's name, oldest first (the
        instructor's live view)."""
        with self._lock:
            jobs = [job for job in self._jobs.values() if job.status.active]
        return [(job.snapshot(), job.student) for job in jobs]

    def waiting_of(self, owner: str) -> int:
        """How many of this owner's runs wait in the queue."""
        with self._lock:
            return self._queue.waiting_of(owner)

    # --- lookups ---------------------------------------------------------------------------------------
    def get(self, job_id: str | None) -> Job | None:
        """A job by id (None if unknown or forgotten)."""
        with self._lock:
            return self._jobs.get(job_id) if job_id else None

    def snapshot(self, job_id: str | None) -> JobSnapshot | None:
        """A job's snapshot by id, or None."""
        job = self.get(job_id)
        return job.snapshot() if job else None

    def get_sweep(self, sweep_id: str | None) -> SweepJobs | None:
        """A sweep by id."""
        with self._lock:
            return self._sweeps.get(sweep_id) if sweep_id else None

    def sweep_snapshots(self, sweep_id: str) -> list[JobSnapshot]:
        """The snapshots of a sweep's jobs, in the order of its values."""
        sweep = self.get_sweep(sweep_id)
        jobs = [self.get(job_id) for job_id in (sweep.job_ids if sweep else ())]
        return [job.snapshot() for job in jobs if job is not None]

    @property
    def capacity(self) -> Capacity:
        """What the executor can train at once, and on how many machines."""
        return self.executor.capacity()

    @property
    def max_concurrent(self) -> int:
        """How many runs train at once: as asked, else one per slot of the executor."""
        return self._max_concurrent or self.capacity.slots

    @property
    def training(self) -> int:
        """How many runs are training (or paused) now."""
        with self._lock:
            return len(self._running)

    @property
    def waiting(self) -> int:
        """How many runs wait in the queue."""
        with self._lock:
            return len(self._queue)

    def wait(self, job_id: str, timeout: float | None = None) -> JobSnapshot | None:
        """Block until the job has ended (or the timeout passed); for scripts and tests, never for pages."""
        job = self.get(job_id)
        return job.wait(timeout) if job else None

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel the queue, stop every run and wait for them and the warm-up; close an executor of our own.

        A thread still inside torch when the interpreter exits aborts the whole process (exit code 134).
        """
        with self._lock:
            ids = [job.id for job in self._queue.jobs] + list(self._running)
        finders = self._finders.all()
        for task in finders:  # a closed server stops its finders; the helpers go with the executor
            task.stop()
        for job_id in ids:
            job = self.get(job_id)
            if job is not None:
                self._stop(job)
        for job_id in ids:
            self.wait(job_id, timeout)
        if self._warming is not None:
            self._warming.join(timeout)
        for task in finders:
            task.wait(timeout)
        if self._owns_executor:
            self.executor.close()

    def recover(self) -> list[str]:
        """Runs left "running" by a process that died are marked interrupted on disk (their epochs kept); the ids
        of every interrupted run."""
        self.store.mark_interrupted()
        return [run.id for run in self.store.list() if run.status == Status.INTERRUPTED]

    def warm_up(self) -> threading.Thread:
        """In the background: start the executor's workers (so the first Train click is fast), time the machine."""
        self._warming = threading.Thread(target=self._warm, daemon=True, name="mnist-lab-warm-up")
        self._warming.start()
        return self._warming

    # --- inside ---------------------------------------------------------------------------------------
    def _warm(self) -> None:
        try:
            self.speed = measure_speed()
            self.executor.ensure_started()
        except Exception:  # a failed warm-up shows up again, with its message, when a job starts
            log.exception("warm-up failed")
        self._dispatch()  # a Ray cluster's slots are known only now: runs queued meanwhile start

    @property
    def ready(self) -> bool:
        """True once the executor's workers are warm: a Train click then draws its first point at once."""
        return self.executor.started

    def warming(self):
        """The workers' warm-up under way (a WarmingUp: its step and seconds left), or None once they are warm."""
        return self.executor.warming()

    @property
    def notice(self) -> str:
        """Why the lab trains otherwise than it was asked to (Ray not reachable, say); "" when it does not."""
        return self.executor.abilities().notice

    def _owned(self, job_id: str | None, owner: str) -> Job | None:
        # A link shows anyone a run; only the browser that started it may control it.
        job = self.get(job_id)
        return job if job is not None and owner and job.owner == owner else None

    def _stop(self, job: Job) -> bool:
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                job.cancel()
                self._queue.renumber()
                return True
        return job.request_stop()

    def _enqueue(self, requests: list[tuple[TrainConfig, str]], owner: str, sweep_id: str | None = None,
                 student: str = "", instructor: bool = False) -> list[Job]:
        """Check the limits, then queue every run or none; raises RunRefused with the reason."""
        for config, _ in requests:
            problem = (self.over_budget(config) or next(filter(None, (gate(config) for gate in self.gates)), None)
                       or next(filter(None, (gate(config, owner, instructor) for gate in self.owner_gates)), None))
            if problem:
                raise RunRefused(problem)
        with self._lock:
            free = max(0, self.max_concurrent - len(self._running) - len(self._queue))
            would_wait = self.waiting_of(owner) + max(0, len(requests) - free)
            if would_wait > MAX_WAITING_PER_OWNER:
                raise RunRefused(waiting_limit_text(len(requests), would_wait))
            jobs = [Job(config, owner, label, sweep_id, student) for config, label in requests]
            for job in jobs:
                self._jobs[job.id] = job
                self._queue.add(job)
            self._dispatch()  # a sweep's runs are all queued before any starts: whole or not at all
        return jobs

    def _dispatch(self) -> None:
        with self._lock:
            if self.max_concurrent == 0 and self._warming is None:
                self.warm_up()  # slots are counted once the executor has started (a Ray cluster's, say)
            starting = []
            for job in self._queue.order():
                if len(self._running) >= self.max_concurrent or not self._compatible(job):
                    break
                self._queue.started(job)
                self._running[job.id] = job
                starting.append(job)
            # Positions first: a job seen running must never leave its followers with stale positions.
            self._queue.renumber()
            for job in starting:
                job.thread = threading.Thread(target=self._run, args=(job,), daemon=True, name=f"train-{job.id}")
                job.thread.start()

    def _compatible(self, job: Job) -> bool:
        # Accelerate keeps one device/precision state per process: in one process, runs with another one wait.
        if not self.executor.abilities().shares_process:
            return True
        key = (job.config.device, job.config.mixed_precision)
        return all((j.config.device, j.config.mixed_precision) == key for j in self._running.values())

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
            with self._lock:
                self._running.pop(job.id, None)
                self._forget_old()
            self._dispatch()

    def _forget_old(self) -> None:
        ended = [job for job in self._jobs.values() if job.status.ended]
        for job in ended[: max(0, len(ended) - KEEP_ENDED)]:
            del self._jobs[job.id]
        live = set(self._jobs)
        for sweep_id, sweep in list(self._sweeps.items()):
            if not live.intersection(sweep.job_ids):
                del self._sweeps[sweep_id]
