"""Training jobs for a shared lab server: a FIFO queue, a cap on runs at once, and an executor that trains them.

Plain Python: never imports streamlit. The dashboard keeps one JobManager per server (per runs folder); each
browser session submits jobs under its own owner id and reads them back through immutable snapshots.
Each running job has a light thread in the server that hands the run to the executor (worker processes or Ray
actors, core.lab.executors) and passes the Trainer's events, as they come back, to two listeners: the run
store's recorder (files on disk) and the job itself (core.lab.job). The manager keeps no model: the result is
dropped as soon as the recorder has saved it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import torch

from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors
from core.engine.display_name import clean_name, name_problem
from core.engine.runs import RunStore
from core.engine.status import Status
from core.lab.estimate import RUN_BUDGET, RunBudget, measure_speed
from core.lab.executors import make_executor
from core.lab.executors.base import Capacity, Executor, RunRefusedByWorker, WorkerLost
from core.lab.job import Job, JobSnapshot
from core.lab.sweep import Sweep, sweep_configs
from core.lab.tuning import torch_threads

log = logging.getLogger(__name__)

KEEP_ENDED = 100  # ended jobs remembered for their owners' pages; older ones live on in the run store
MAX_WAITING_PER_OWNER = 3  # runs one browser may have waiting (a sweep's count): nobody can fill the queue


class RunRefused(ValueError):
    """The server will not queue this run; the message tells the student why and what to change."""


def waiting_limit_text(runs: int, would_wait: int) -> str:
    """Why a browser may not queue more runs now, in words for the student."""
    what = "this run" if runs == 1 else f"these {runs} runs"
    return (f"With {what}, {would_wait} of your runs would be waiting, and one browser may have at most "
            f"{MAX_WAITING_PER_OWNER} waiting at once. Wait until one of your runs starts, or cancel one"
            + ("." if runs == 1 else ", or choose fewer values."))


class _JobSink:
    """Where the executor reports one job's run: the run store's recorder, created once the worker has it, and
    the job itself."""

    def __init__(self, store: RunStore, job: Job):
        self.store, self.job = store, job
        self.recorder = None

    def open(self):
        """Make the run's folder (a tracker such as TensorBoard writes into it while it trains); its path."""
        job = self.job
        self.recorder = self.store.create(job.config, label=job.label, student=job.student, owner=job.owner)
        return self.recorder.path

    def started(self, control) -> None:
        self.job.attach_trainer(control, self.recorder.id)

    def refused(self, message: str) -> None:
        """The worker could not start the run: nothing of it is kept, and the student is told why."""
        self.recorder.discard()
        self.recorder = None
        self.job.fail(message)

    def __call__(self, event) -> None:
        self.recorder(event)  # first: a page that sees the job ended reads the run's final files
        self.job(event)

    def fail(self, message: str) -> None:
        self.job.fail(message)
        if self.recorder is not None and self.recorder.record.get("status") == Status.RUNNING:
            self.recorder.fail(message)


class JobManager:
    """Queues training jobs and has the executor train at most max_concurrent at a time.

    All methods are thread-safe. Without an executor, the environment chooses one (core.lab.executors) and
    the manager closes it at shutdown; `data` (default: MNIST, loaded by each worker) goes to that executor.
    `gates` are further checks of every run's settings (the class's locked settings): each returns why a run is
    refused, or None. `name_check(owner, student)` likewise says why an owner may not sign a run with a name.
    """

    def __init__(self, store: RunStore, data: MNISTTensors | None = None, max_concurrent: int | None = None,
                 budget: RunBudget = RUN_BUDGET, executor: Executor | None = None,
                 gates: Sequence[Callable[[TrainConfig], str | None]] = (),
                 name_check: Callable[[str, str], str | None] | None = None):
        self.store = store
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
        self._sweeps: dict[str, Sweep] = {}
        self._queue: deque[Job] = deque()
        self._running: dict[str, Job] = {}
        self.speed: float | None = None  # this machine against the lab machine, timed by warm_up()
        self._warming: threading.Thread | None = None
        self.recover()  # marks the runs of a server that died interrupted, on disk

    # --- submitting and controlling -------------------------------------------------------------------
    def submit(self, config: TrainConfig, owner: str, label: str = "", student: str = "") -> Job:
        """Queue a run for `owner`; it starts as soon as a slot is free. Raises RunRefused (over a limit).

        `student` is the display name the saved run shows on the Class page ("" for none).
        """
        if student:
            problem = name_problem(student) or (self.name_check(owner, student) if self.name_check else None)
            if problem:
                raise RunRefused(problem)
        return self._enqueue([(config, label)], owner, student=clean_name(student))[0]

    def submit_sweep(self, base: TrainConfig, param: str, values: Iterable, owner: str, **short) -> Sweep:
        """Queue one short run per value of one hyperparameter, in order; `short` sets epochs/train_subset."""
        configs = sweep_configs(base, param, list(values), **short)
        sweep = Sweep(secrets.token_urlsafe(6), param, tuple(getattr(c, param) for c in configs), owner)
        labelled = [(config, sweep.label_for(value)) for config, value in zip(configs, sweep.values, strict=True)]
        with self._lock:
            jobs = self._enqueue(labelled, owner, sweep.id)
            sweep = replace(sweep, job_ids=tuple(job.id for job in jobs))
            self._sweeps[sweep.id] = sweep
        return sweep

    def pause(self, job_id: str, owner: str) -> bool:
        """Pause the owner's running job; False if it is not theirs or not running."""
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

    def stop_all(self) -> int:
        """Stop every waiting and training run, whoever started it (the instructor's control); how many."""
        with self._lock:
            jobs = list(reversed(self._queue)) + list(self._running.values())  # the queued first: none starts
        return sum(self._stop(job) for job in jobs)

    def over_budget(self, config: TrainConfig) -> str | None:
        """Why this run is over the budget of one run on this server, for the student; None when it fits."""
        return self.budget.problem(config, self.speed or 1.0)

    def find_lr(self, config: TrainConfig):
        """The learning-rate range test for these settings (an LrFinderResult), run by the executor's helper
        worker, never in the web server; a few seconds, nothing saved. Raises RunRefused with the reason."""
        try:
            self.executor.ensure_started()
            return self.executor.find_lr(config)
        except (RunRefusedByWorker, WorkerLost) as exc:
            raise RunRefused(str(exc)) from exc

    def waiting_of(self, owner: str) -> int:
        """How many of this owner's runs wait in the queue."""
        with self._lock:
            return sum(job.owner == owner for job in self._queue)

    # --- lookups ---------------------------------------------------------------------------------------
    def get(self, job_id: str | None) -> Job | None:
        """A job by id (None if unknown or forgotten)."""
        with self._lock:
            return self._jobs.get(job_id) if job_id else None

    def snapshot(self, job_id: str | None) -> JobSnapshot | None:
        """A job's snapshot by id, or None."""
        job = self.get(job_id)
        return job.snapshot() if job else None

    def get_sweep(self, sweep_id: str | None) -> Sweep | None:
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

    def wait(self, job_id: str, timeout: float | None = None) -> JobSnapshot:
        """Block until the job has ended (or the timeout passed); for scripts and tests, never for pages."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            thread = job.thread if job else None
            if job is None or job.status.ended:
                if thread is not None:
                    thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
                return job.snapshot() if job else None
            if deadline is not None and time.monotonic() > deadline:
                return job.snapshot()
            if thread is not None:
                thread.join(0.05)
            else:
                time.sleep(0.05)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel the queue, stop every run and wait for them and the warm-up; close an executor of our own.

        A thread still inside torch when the interpreter exits aborts the whole process (exit code 134).
        """
        with self._lock:
            ids = [job.id for job in self._queue] + list(self._running)
        for job_id in ids:
            job = self.get(job_id)
            if job is not None:
                self._stop(job)
        for job_id in ids:
            self.wait(job_id, timeout)
        if self._warming is not None:
            self._warming.join(timeout)
        if self._owns_executor:
            self.executor.close()

    def recover(self) -> list[str]:
        """Runs left "running" by a process that died are marked interrupted (their epochs kept); their ids."""
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

    @property
    def notice(self) -> str:
        """Why the lab trains otherwise than it was asked to (Ray not reachable, say); "" when it does not."""
        return getattr(self.executor, "notice", "")

    def _owned(self, job_id: str | None, owner: str) -> Job | None:
        # A link shows anyone a run; only the browser that started it may control it.
        job = self.get(job_id)
        return job if job is not None and job.owner == owner else None

    def _stop(self, job: Job) -> bool:
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                job.cancel()
                self._renumber()
                return True
        return job.request_stop()

    def _enqueue(self, requests: list[tuple[TrainConfig, str]], owner: str, sweep_id: str | None = None,
                 student: str = "") -> list[Job]:
        """Check the limits, then queue every run or none; raises RunRefused with the reason."""
        for config, _ in requests:
            problem = self.over_budget(config) or next(filter(None, (gate(config) for gate in self.gates)), None)
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
                self._queue.append(job)
            self._dispatch()
        return jobs

    def _dispatch(self) -> None:
        with self._lock:
            if self.max_concurrent == 0 and self._warming is None:
                self.warm_up()  # slots are counted once the executor has started (a Ray cluster's, say)
            starting = []
            while self._queue and len(self._running) < self.max_concurrent and self._compatible(self._queue[0]):
                job = self._queue.popleft()
                self._running[job.id] = job
                starting.append(job)
            # Positions first: a job seen running must never leave its followers with stale positions.
            self._renumber()
            for job in starting:
                job.thread = threading.Thread(target=self._run, args=(job,), daemon=True, name=f"train-{job.id}")
                job.thread.start()

    def _compatible(self, job: Job) -> bool:
        # Accelerate keeps one device/precision state per process: in one process, runs with another one wait.
        if not getattr(self.executor, "shares_process", False):
            return True
        key = (job.config.device, job.config.mixed_precision)
        return all((j.config.device, j.config.mixed_precision) == key for j in self._running.values())

    def _renumber(self) -> None:
        for position, job in enumerate(self._queue, start=1):
            job.set_queue_position(position)

    def _run(self, job: Job) -> None:
        sink = _JobSink(self.store, job)
        try:
            if not job.mark_running():
                return
            self.executor.ensure_started()
            self.executor.train(job.config, sink, sink.open())
        except RunRefusedByWorker as exc:
            sink.refused(str(exc))
        except WorkerLost as exc:
            sink.fail(str(exc))
        except Exception as exc:
            from core.engine.trainer import failure_message

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
