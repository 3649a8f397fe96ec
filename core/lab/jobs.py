"""Training jobs for a shared lab server: a FIFO queue, a cap on runs at once, and one daemon thread per run.

Plain Python: never imports streamlit. The dashboard keeps one JobManager per server (per runs folder); each
browser session submits jobs under its own owner id and reads them back through immutable snapshots.
A job's thread runs a core Trainer with two listeners: the run store's recorder (files on disk) and the job
itself (core.lab.job). The manager keeps no model: the Trainer and its result are dropped as soon as the
recorder has saved them.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import replace

import torch

from core.engine import data as mnist_data
from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors, MNISTUnavailable
from core.engine.runs import RunStore
from core.engine.status import Status
from core.lab.estimate import RUN_BUDGET, RunBudget, measure_speed
from core.lab.job import Job, JobSnapshot
from core.lab.sweep import Sweep, sweep_configs
from core.lab.tuning import lower_thread_priority, max_concurrent_runs, torch_threads

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


class JobManager:
    """Queues training jobs and trains at most max_concurrent at a time, each in a daemon thread.

    All methods are thread-safe. `data` defaults to load_mnist(), loaded in a job thread when first needed.
    """

    def __init__(self, store: RunStore, data: MNISTTensors | None = None, max_concurrent: int | None = None,
                 budget: RunBudget = RUN_BUDGET):
        self.store = store
        self.budget = budget
        self.max_concurrent = max_concurrent or max_concurrent_runs()
        self.threads = torch_threads(self.max_concurrent)
        torch.set_num_threads(self.threads)  # process-wide; see torch_threads for why
        self._data = data
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._sweeps: dict[str, Sweep] = {}
        self._queue: deque[Job] = deque()
        self._running: dict[str, Job] = {}
        self._accelerator_lock = threading.Lock()
        self.speed: float | None = None  # this machine against the lab machine, timed by warm_up()
        self._warming: threading.Thread | None = None
        self.recover()  # marks the runs of a server that died interrupted, on disk

    # --- submitting and controlling -------------------------------------------------------------------
    def submit(self, config: TrainConfig, owner: str, label: str = "") -> Job:
        """Queue a run for `owner`; it starts as soon as a slot is free. Raises RunRefused (over a limit)."""
        return self._enqueue([(config, label)], owner)[0]

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

    def over_budget(self, config: TrainConfig) -> str | None:
        """Why this run is over the budget of one run on this server, for the student; None when it fits."""
        return self.budget.problem(config, self.speed or 1.0)

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
        """Cancel the queue, stop every run and wait for their threads and the warm-up (tests and clean exits).

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

    def recover(self) -> list[str]:
        """Runs left "running" by a process that died are marked interrupted (their epochs kept); their ids."""
        return [run.id for run in self.store.list() if run.status == Status.INTERRUPTED]

    def warm_up(self) -> threading.Thread:
        """In the background: import the trainer, load MNIST (so the first Train click is fast), time the machine."""
        self._warming = threading.Thread(target=self._warm, daemon=True, name="mnist-lab-warm-up")
        self._warming.start()
        return self._warming

    # --- inside ---------------------------------------------------------------------------------------
    def _warm(self) -> None:
        try:
            import core.engine.trainer  # noqa: F401  (Accelerate takes seconds to import)

            self._get_data()
            self.speed = measure_speed()
        except Exception:  # a failed warm-up shows up again, with its message, when a job starts
            log.exception("warm-up failed")

    def _get_data(self) -> MNISTTensors:
        return self._data if self._data is not None else mnist_data.load_mnist()

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

    def _enqueue(self, requests: list[tuple[TrainConfig, str]], owner: str, sweep_id: str | None = None) -> list[Job]:
        """Check the limits, then queue every run or none; raises RunRefused with the reason."""
        for config, _ in requests:
            problem = self.over_budget(config)
            if problem:
                raise RunRefused(problem)
        with self._lock:
            free = max(0, self.max_concurrent - len(self._running) - len(self._queue))
            would_wait = self.waiting_of(owner) + max(0, len(requests) - free)
            if would_wait > MAX_WAITING_PER_OWNER:
                raise RunRefused(waiting_limit_text(len(requests), would_wait))
            jobs = [Job(config, owner, label, sweep_id) for config, label in requests]
            for job in jobs:
                self._jobs[job.id] = job
                self._queue.append(job)
            self._dispatch()
        return jobs

    def _dispatch(self) -> None:
        with self._lock:
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
        # Accelerate keeps one device/precision state per process: runs with another one wait their turn.
        key = (job.config.device, job.config.mixed_precision)
        return all((j.config.device, j.config.mixed_precision) == key for j in self._running.values())

    def _renumber(self) -> None:
        for position, job in enumerate(self._queue, start=1):
            job.set_queue_position(position)

    def _run(self, job: Job) -> None:
        recorder = None
        try:
            torch.set_num_threads(self.threads)
            lower_thread_priority()
            if not job.mark_running():
                return
            from core.engine.trainer import Trainer, make_accelerator

            data = self._get_data()
            recorder = self.store.create(job.config, label=job.label)
            with self._accelerator_lock:
                accelerator = make_accelerator(job.config, self.store.root)  # trackers write into the run's folder
            trainer = Trainer(job.config, data, listeners=[recorder, job], accelerator=accelerator,
                              run_folder=recorder.path)
            job.attach_trainer(trainer, recorder.id)
            trainer.fit()
        except Exception as exc:
            log.exception("job %s failed", job.id)
            message = str(exc) if isinstance(exc, MNISTUnavailable) else (
                f"training failed: {type(exc).__name__}: {exc}")
            job.fail(message)
            if recorder is not None and recorder.record.get("status") == Status.RUNNING:
                recorder.fail(message)
        finally:
            job.detach_trainer()  # drops the Trainer, and with it the model and the optimizer
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
