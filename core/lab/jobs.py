"""The lab's JobManager: the one implementation of the Lab protocol (core.lab.lab) that keeps the jobs itself.

Plain Python: never imports streamlit. The dashboard keeps one JobManager per server (per runs folder), or one in
the Ray cluster's coordinator (core.lab.coordinator) for every web process; each browser session submits jobs under
its own owner id and reads them back through immutable snapshots. Here a run is checked (the budget, the class's
gates, the name it is signed with) and controlled; core.lab.dispatch queues and starts it, core.lab.finder runs
the learning-rate finders.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields, replace

import torch

from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors
from core.engine.display_name import clean_name, name_problem
from core.engine.run_store import RunStore
from core.engine.status import Status
from core.lab.answers_here import AnsweredHere
from core.lab.cpu_share import torch_threads
from core.lab.dispatch import Dispatcher
from core.lab.estimate import RUN_BUDGET, RunBudget
from core.lab.executors import make_executor
from core.lab.executors.base import Capacity, Executor, WarmingUp
from core.lab.finder import Finders, FinderState
from core.lab.guards import LabGuards
from core.lab.instructor_token import TokenTry
from core.lab.job import Job, JobSnapshot
from core.lab.lab import LabLoad
from core.lab.limits import MAX_WAITING_PER_OWNER, NOT_YOURS_TO_DELETE, RunRefused
from core.lab.sweep import SweepJobs, sweep_configs

__all__ = ["MAX_WAITING_PER_OWNER", "JobManager", "RunRefused"]  # what pages and tests import from here too


class JobManager(AnsweredHere):
    """Checks, queues and controls training jobs, and has the executor train at most max_concurrent at a time.

    All methods are thread-safe. Without an executor, the environment chooses one (core.lab.executors) and
    the manager closes it at shutdown; `data` (default: MNIST, loaded by each worker) goes to that executor.
    `gates` are further checks of every run's settings (the class's locked settings): each returns why a run is
    refused, or None; `owner_gates` take the owner and whether they are the instructor too. `name_check(owner,
    student)` likewise says why an owner may not sign a run with a name. `guards` count new owner ids and tries
    at the instructor token.
    """

    def __init__(self, store: RunStore, data: MNISTTensors | None = None, max_concurrent: int | None = None,
                 budget: RunBudget = RUN_BUDGET, executor: Executor | None = None,
                 gates: Sequence[Callable[[TrainConfig], str | None]] = (),
                 name_check: Callable[[str, str], str | None] | None = None,
                 owner_gates: Sequence[Callable[[TrainConfig, str, bool], str | None]] = (),
                 guards: LabGuards | None = None):
        self.store = store
        self.owner_gates = tuple(owner_gates)  # checks that depend on who asks (the class experiment's value)
        self.name_check = name_check
        self.budget = budget
        self.gates = tuple(gates)
        self.guards = guards or LabGuards()
        self._owns_executor = executor is None
        self.executor = executor or make_executor(data, max_concurrent)
        self._jobs = Dispatcher(store, self.executor, max_concurrent)
        # Torch threads of the server's own work (predictions for the pages): see torch_threads for why.
        torch.set_num_threads(torch_threads(self.capacity.slots))
        self._finders = Finders()
        self.recover()  # marks the runs of a server that died interrupted, on disk

    # --- submitting and controlling -------------------------------------------------------------------
    def submit(self, config: TrainConfig, owner: str, label: str = "", student: str = "",
               instructor: bool = False) -> JobSnapshot:
        """Queue a run for `owner`; it starts as soon as a slot is free. Raises RunRefused (over a limit).

        `student` is the display name the saved run shows on the Class page ("" for none); `instructor` says the
        owner is the instructor (no student of a class experiment).
        """
        if student:
            problem = name_problem(student) or (self.name_check(owner, student) if self.name_check else None)
            if problem:
                raise RunRefused(problem)
        job = self._enqueue([(config, label)], owner, student=clean_name(student), instructor=instructor)[0]
        return job.snapshot()

    def submit_sweep(self, base: TrainConfig, param: str, values: Iterable, owner: str, instructor: bool = False,
                     **short) -> SweepJobs:
        """Queue one short run per value of one hyperparameter, in order; `short` sets epochs/train_subset."""
        configs = sweep_configs(base, param, list(values), **short)
        sweep = SweepJobs(secrets.token_urlsafe(6), param, tuple(getattr(c, param) for c in configs), owner)
        labelled = [(config, sweep.label_for(value)) for config, value in zip(configs, sweep.values, strict=True)]
        with self._jobs.lock:
            jobs = self._enqueue(labelled, owner, sweep.id, instructor=instructor)
            sweep = replace(sweep, job_ids=tuple(job.id for job in jobs))
            self._jobs.sweeps[sweep.id] = sweep
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
        return self._jobs.stop(job) if job else False

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
        return sum(self._jobs.stop(job) for job in self._jobs.active())

    def delete_run(self, run_id: str, owner: str, instructor: bool = False) -> None:
        """Delete a saved run for its owner or the instructor. Raises PermissionError for anyone else, and
        ValueError (words for the student) for a run that is still training or unknown."""
        run = self.store.load(run_id)
        if not self.may_delete(run.record, owner, instructor):
            raise PermissionError(NOT_YOURS_TO_DELETE)
        with self._jobs.lock:
            training = any(job.run_id == run_id for job in self._jobs.running.values())
        if training or run.status == Status.RUNNING:
            raise ValueError("This run is still training: stop it first, then delete it.")
        self.store.delete(run_id)

    # --- the learning-rate finder ----------------------------------------------------------------------
    def start_finder(self, config: TrainConfig, owner: str) -> FinderState:
        """Start the learning-rate range test for `owner` in one of the executor's helper workers, never in the
        web server; one at a time per owner. Raises RunRefused (over the budget, or one already running)."""
        problem = self.finder_problem(config)
        if problem:
            raise RunRefused(problem)
        return self._finders.start(config, owner, self.executor).state()

    def finder(self, owner: str) -> FinderState | None:
        """The owner's latest learning-rate finder (running or ended), or None."""
        task = self._finders.latest(owner)
        return task.state() if task is not None else None

    def wait_finder(self, owner: str, timeout: float | None = None) -> FinderState | None:
        """Block until the owner's latest finder has ended (or the timeout passed); its state then."""
        task = self._finders.latest(owner)
        if task is None:
            return None
        task.wait(timeout)
        return task.state()

    def stop_finder(self, owner: str) -> bool:
        """Stop the owner's running finder after its current step; False if none runs."""
        task = self._finders.latest(owner)
        return task.stop() if task is not None else False

    # --- the guards -------------------------------------------------------------------------------------
    def issue_owner_id(self, address: str) -> str | None:
        """A new owner id for a visitor from `address`; None once the address has had its new ids for the hour."""
        return self.guards.issue_owner_id(address)

    def try_token(self, address: str, right: bool) -> TokenTry:
        """A try at the instructor token from `address` that was `right` or not."""
        return self.guards.try_token(address, right)

    # --- lookups ---------------------------------------------------------------------------------------
    def get(self, job_id: str | None) -> JobSnapshot | None:
        """A job's snapshot by id (None if unknown or forgotten)."""
        job = self.job(job_id)
        return job.snapshot() if job else None

    def job(self, job_id: str | None) -> Job | None:
        """The live Job by id, in this process (tests and scripts that watch it change); pages read snapshots."""
        with self._jobs.lock:
            return self._jobs.jobs.get(job_id) if job_id else None

    def queue_order(self) -> list[JobSnapshot]:
        """The waiting runs in the order they will start."""
        with self._jobs.lock:
            jobs = self._jobs.queue.order()
        return [job.snapshot() for job in jobs]

    def live_snapshots(self) -> list[tuple[JobSnapshot, str]]:
        """Every queued, running or paused job's snapshot with its student's name, oldest first (the
        instructor's live view)."""
        with self._jobs.lock:
            jobs = [job for job in self._jobs.jobs.values() if job.status.active]
        return [(job.snapshot(), job.student) for job in jobs]

    def waiting_of(self, owner: str) -> int:
        """How many of this owner's runs wait in the queue."""
        with self._jobs.lock:
            return self._jobs.queue.waiting_of(owner)

    def get_sweep(self, sweep_id: str | None) -> SweepJobs | None:
        """A sweep by id."""
        with self._jobs.lock:
            return self._jobs.sweeps.get(sweep_id) if sweep_id else None

    def sweep_snapshots(self, sweep_id: str) -> list[JobSnapshot]:
        """The snapshots of a sweep's jobs, in the order of its values."""
        sweep = self.get_sweep(sweep_id)
        jobs = [self.job(job_id) for job_id in (sweep.job_ids if sweep else ())]
        return [job.snapshot() for job in jobs if job is not None]

    def wait(self, job_id: str, timeout: float | None = None) -> JobSnapshot | None:
        """Block until the job has ended (or the timeout passed); for scripts, tests and a page's short wait."""
        job = self.job(job_id)
        return job.wait(timeout) if job else None

    def wait_first_step(self, job_id: str, timeout: float) -> bool:
        """Block up to `timeout` seconds until the job's first step is done (or it ended); True if so."""
        job = self.job(job_id)
        return job.wait_first_step(timeout) if job else False

    # --- the load line ----------------------------------------------------------------------------------
    def load(self) -> LabLoad:
        """What a page's load line shows."""
        return LabLoad(**{field.name: getattr(self, field.name) for field in fields(LabLoad)})

    @property
    def capacity(self) -> Capacity:
        """What the executor can train at once, and on how many machines."""
        return self._jobs.capacity

    @property
    def max_concurrent(self) -> int:
        """How many runs train at once: as asked, else one per slot of the executor."""
        return self._jobs.max_concurrent

    @property
    def training(self) -> int:
        """How many runs are training (or paused) now."""
        with self._jobs.lock:
            return len(self._jobs.running)

    @property
    def waiting(self) -> int:
        """How many runs wait in the queue."""
        with self._jobs.lock:
            return len(self._jobs.queue)

    @property
    def ready(self) -> bool:
        """True once the executor's workers are warm: a Train click then draws its first point at once."""
        return self.executor.started

    @property
    def notice(self) -> str:
        """Why the lab trains otherwise than it was asked to (Ray not reachable, say); "" when it does not."""
        return self.executor.abilities().notice

    @property
    def speed(self) -> float | None:
        """This machine against the lab machine, timed by warm_up(); None until then."""
        return self._jobs.speed

    def warming(self) -> WarmingUp | None:
        """The workers' warm-up under way (a WarmingUp: its step and seconds left), or None once they are warm."""
        return self.executor.warming()

    # --- the manager's own life ---------------------------------------------------------------------------
    def warm_up(self):
        """In the background: start the executor's workers (so the first Train click is fast), time the machine;
        the thread."""
        return self._jobs.warm_up()

    def recover(self) -> list[str]:
        """Runs left "running" by a process that died are marked interrupted on disk (their epochs kept); the ids
        of every interrupted run."""
        self.store.mark_interrupted()
        return [run.id for run in self.store.list() if run.status == Status.INTERRUPTED]

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel the queue, stop every run and wait for them and the warm-up; close an executor of our own.

        A thread still inside torch when the interpreter exits aborts the whole process (exit code 134).
        """
        jobs = self._jobs.active()
        finders = self._finders.all()
        for task in finders:  # a closed server stops its finders; the helpers go with the executor
            task.stop()
        for job in jobs:
            self._jobs.stop(job)
        for job in jobs:
            job.wait(timeout)
        self._jobs.join_warm_up(timeout)
        for task in finders:
            task.wait(timeout)
        if self._owns_executor:
            self.executor.close()

    # --- inside ---------------------------------------------------------------------------------------
    def _owned(self, job_id: str | None, owner: str) -> Job | None:
        # A link shows anyone a run; only the browser that started it may control it.
        job = self.job(job_id)
        return job if job is not None and owner and job.owner == owner else None

    def _enqueue(self, requests: list[tuple[TrainConfig, str]], owner: str, sweep_id: str | None = None,
                 student: str = "", instructor: bool = False) -> list[Job]:
        """Check the limits, then queue every run or none; raises RunRefused with the reason."""
        for config, _ in requests:
            problem = (self.over_budget(config) or next(filter(None, (gate(config) for gate in self.gates)), None)
                       or next(filter(None, (gate(config, owner, instructor) for gate in self.owner_gates)), None))
            if problem:
                raise RunRefused(problem)
        jobs = [Job(config, owner, label, sweep_id, student) for config, label in requests]
        self._jobs.add(jobs, owner)
        return jobs
