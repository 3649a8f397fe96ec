"""Training jobs for a shared lab server: background threads, a FIFO queue and a cap on runs at once.

Plain Python: never imports streamlit. The dashboard keeps one JobManager per server (per runs folder); each
browser session submits jobs under its own owner id and reads them back through immutable snapshots.
A job's thread runs a core Trainer with two listeners: the run store's recorder (files on disk) and the job
itself (live metrics under a lock). The manager keeps no model: the Trainer and its result are dropped as
soon as the recorder has saved them.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import torch

from core.engine import data as mnist_data
from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors, MNISTUnavailable
from core.engine.runs import RunStore
from core.engine.status import Status
from core.lab.estimate import RUN_BUDGET, RunBudget, measure_speed, steps_per_epoch
from core.lab.sweep import Sweep, sweep_configs
from core.views.curves import Curve, loss_curve

log = logging.getLogger(__name__)

MAX_CONCURRENT_ENV = "MNIST_LAB_MAX_CONCURRENT_RUNS"
DEFAULT_MAX_CONCURRENT = 1  # a 2-core server: one run trains, the other core serves the pages
TRAIN_NICE_ENV = "MNIST_LAB_TRAIN_NICE"
# Training threads run at the server's own priority: since the post-script garbage collection is off, a
# niced training thread only lost its core to the server's polling threads, and pages loaded no faster.
DEFAULT_TRAIN_NICE = 0
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


def max_concurrent_runs(environ=None) -> int:
    """How many runs may train at once: ${MNIST_LAB_MAX_CONCURRENT_RUNS}, else 1. The one place N is set."""
    text = (environ if environ is not None else os.environ).get(MAX_CONCURRENT_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_CONCURRENT
    try:
        value = int(text)
        if value < 1:
            raise ValueError
        return value
    except ValueError:
        log.warning("%s=%r is not a whole number of at least 1; using %d", MAX_CONCURRENT_ENV, text,
                    DEFAULT_MAX_CONCURRENT)
        return DEFAULT_MAX_CONCURRENT


def torch_threads(max_concurrent: int, cpus: int | None = None) -> int:
    """Torch threads per run: one core is left to the web server, the others are shared by the runs.

    On the 2-core lab machine that is 1. Measured there with another process busy: 2 threads took
    8-11 s for an epoch that 1 thread trains in 0.4-0.6 s (OpenMP threads spin while they wait for a core).
    """
    cpus = cpus or os.cpu_count() or 1
    return max(1, (cpus - 1) // max(1, max_concurrent))


def lower_thread_priority(environ=None) -> int | None:
    """Give the calling thread a nice value (${MNIST_LAB_TRAIN_NICE}, default 0); the value set, or None.

    On Linux a thread has its own nice value. An instructor whose server also runs other work can nice the
    training threads (say 10) so that the threads serving pages run first when both want a core.
    """
    text = (environ if environ is not None else os.environ).get(TRAIN_NICE_ENV, "").strip()
    try:
        nice = int(text) if text else DEFAULT_TRAIN_NICE
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        return nice
    except (ValueError, AttributeError, OSError):
        return None


@dataclass(frozen=True)
class JobSnapshot:
    """An immutable copy of a job's state, safe to read from any thread."""

    id: str
    owner: str
    label: str
    sweep_id: str | None
    config: TrainConfig
    status: Status
    message: str
    run_id: str | None
    queue_position: int | None  # 1 = next to start; None when not queued
    epoch: int
    epochs: int
    step: int
    total_steps: int
    samples_per_second: float | None
    eta_seconds: float | None
    elapsed_seconds: float
    curve: Curve
    epoch_metrics: tuple[dict, ...]
    test_accuracy: float | None
    version: int
    created: float = field(default=0.0)

    @property
    def active(self) -> bool:
        """Queued, running or paused: the page should keep polling."""
        return self.status.active

    @property
    def progress(self) -> float:
        """Fraction of the training steps done, 0..1."""
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def train_seconds(self) -> float:
        """Training time of the finished epochs (evaluation and pauses not counted)."""
        return sum(e["seconds"] for e in self.epoch_metrics)


class Job:
    """One training run requested by one owner: queued, then trained in its own daemon thread."""

    def __init__(self, config: TrainConfig, owner: str, label: str = "", sweep_id: str | None = None):
        self.id = secrets.token_urlsafe(9)  # unguessable: it appears in the owner's URL
        self.config, self.owner, self.label, self.sweep_id = config, owner, label, sweep_id
        self.created = time.time()
        self._lock = threading.Lock()
        self._status, self._message = Status.QUEUED, "waiting for its turn"
        self._run_id: str | None = None
        self._trainer = None
        self._thread: threading.Thread | None = None
        self._stop_requested = self._pause_requested = False
        self._queue_position: int | None = None
        self._losses: list[float] = []
        self._epochs: list[dict] = []
        self._epoch = self._step = 0
        self._total_steps = steps_per_epoch(config) * config.epochs
        self._n_train = 0
        self._epoch_samples = self._samples = 0
        self._window: deque[tuple[float, int, int]] = deque(maxlen=200)  # (time, step, samples)
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._paused_at: float | None = None
        self._paused_for = 0.0
        self._test_accuracy: float | None = None
        self._version = 0
        self._cached: JobSnapshot | None = None
        self._final_curve: Curve | None = None
        self._first_step = threading.Event()  # set at the first step, or at the end if there is none

    # --- controls (any thread) -------------------------------------------------------------------------
    def pause(self) -> bool:
        """Hold a running job before its next step; False if it is not running."""
        with self._lock:
            if self._status != Status.RUNNING:
                return False
            self._pause_requested = True
            if self._trainer is not None:
                self._trainer.pause()
            self._set_paused(True)
            return True

    def resume(self) -> bool:
        """Let a paused job go on; False if it is not paused."""
        with self._lock:
            if self._status != Status.PAUSED:
                return False
            self._pause_requested = False
            if self._trainer is not None:
                self._trainer.resume()
            self._set_paused(False)
            return True

    def request_stop(self) -> bool:
        """Ask a running or paused job to stop after its current step; False if it has ended."""
        with self._lock:
            if self._status.ended:
                return False
            self._stop_requested = True
            if self._trainer is not None:
                self._trainer.stop()
            self._message = "stopping…"
            self._touch()
            return True

    def wait_first_step(self, timeout: float) -> bool:
        """Block up to `timeout` seconds until the first step is done (or the job ended); True if so."""
        return self._first_step.wait(timeout)

    @property
    def status(self) -> str:
        return self._status

    @property
    def run_id(self) -> str | None:
        return self._run_id

    # --- reading -------------------------------------------------------------------------------------
    def snapshot(self) -> JobSnapshot:
        """The job's state now, as an immutable copy (recomputed only when something changed)."""
        with self._lock:
            if self._cached is not None and self._cached.version == self._version:
                return self._cached
            version, curve = self._version, self._final_curve
            losses = list(self._losses) if curve is None else []
            now = self._ended_at or time.time()
            elapsed = 0.0 if self._started_at is None else now - self._started_at - self._paused_time(now)
            rate, eta = self._rates()
            state = dict(
                id=self.id, owner=self.owner, label=self.label, sweep_id=self.sweep_id, config=self.config,
                status=self._status, message=self._message, run_id=self._run_id,
                queue_position=self._queue_position, epoch=self._epoch, epochs=self.config.epochs,
                step=self._step, total_steps=self._total_steps, samples_per_second=rate, eta_seconds=eta,
                elapsed_seconds=elapsed, epoch_metrics=tuple(dict(e) for e in self._epochs),
                test_accuracy=self._test_accuracy, version=version, created=self.created,
            )
        snap = JobSnapshot(curve=curve or loss_curve(losses), **state)  # built outside the lock
        with self._lock:
            if self._version == version:
                self._cached = snap
                if self._status.ended and self._final_curve is None:
                    # The drawn curve is all an ended job needs (steps.json has every loss): free the rest.
                    self._final_curve, self._losses = snap.curve, []
        return snap

    def _rates(self) -> tuple[float | None, float | None]:
        if self._status != Status.RUNNING or len(self._window) < 2:
            return None, None
        (t0, step0, samples0), (t1, step1, samples1) = self._window[0], self._window[-1]
        if t1 <= t0 or step1 <= step0:
            return None, None
        rate = (samples1 - samples0) / (t1 - t0)
        per_step = (t1 - t0) / (step1 - step0)
        eval_seconds = self._epochs[-1]["eval_seconds"] if self._epochs else 0.0
        remaining_epochs = self.config.epochs - len(self._epochs)
        return rate, max(0.0, (self._total_steps - self._step) * per_step + remaining_epochs * eval_seconds)

    def _paused_time(self, now: float) -> float:
        return self._paused_for + (now - self._paused_at if self._paused_at is not None else 0.0)

    # --- updates from the manager and the trainer (the trainer calls these in the job's thread) -------------
    def _touch(self) -> None:
        self._version += 1

    def _set_paused(self, paused: bool) -> None:
        now = time.time()
        if paused and self._status == Status.RUNNING:
            self._status, self._message, self._paused_at = Status.PAUSED, "paused", now
        elif not paused and self._status == Status.PAUSED:
            self._status, self._message = Status.RUNNING, "training"
            if self._paused_at is not None:
                self._paused_for += now - self._paused_at
            self._paused_at = None
            self._window.clear()  # a pause is not slow training
        self._touch()

    def _set_queue_position(self, position: int | None) -> None:
        with self._lock:
            if position != self._queue_position:
                self._queue_position = position
                self._touch()

    def _starting(self) -> bool:
        """Called by the job's thread; False if the job was cancelled while queued."""
        with self._lock:
            if self._stop_requested:
                self._end(Status.STOPPED, "cancelled before it started")
                return False
            self._status, self._message = Status.RUNNING, "preparing"
            self._queue_position, self._started_at = None, time.time()
            self._touch()
            return True

    def _attach(self, trainer, run_id: str) -> None:
        with self._lock:
            self._trainer, self._run_id = trainer, run_id
            if self._stop_requested:
                trainer.stop()
            elif self._pause_requested:
                trainer.pause()
            self._touch()

    def _detach(self) -> None:
        with self._lock:
            self._trainer = None

    def _end(self, status: Status, message: str) -> None:
        # Called with the lock held.
        if self._paused_at is not None:
            self._paused_for += time.time() - self._paused_at
            self._paused_at = None
        self._status, self._message, self._ended_at = status, message, time.time()
        self._queue_position = None
        self._first_step.set()
        self._touch()

    def _fail(self, message: str) -> None:
        with self._lock:
            if not self._status.ended:
                self._end(Status.FAILED, message)

    def _cancel_queued(self) -> None:
        with self._lock:
            self._stop_requested = True
            self._end(Status.STOPPED, "cancelled before it started")

    def __call__(self, event) -> None:
        """The Trainer listener: keep the live metrics (never the model)."""
        StepEvent, EpochEvent, StartEvent, EndEvent = _events()  # noqa: N806
        with self._lock:
            if isinstance(event, StepEvent):
                self._losses.append(event.loss)
                if event.epoch != self._epoch:
                    self._epoch, self._epoch_samples = event.epoch, 0
                self._samples += event.samples - self._epoch_samples
                self._epoch_samples = event.samples
                self._step = event.step
                self._window.append((time.perf_counter(), event.step, self._samples))
                self._first_step.set()
            elif isinstance(event, EpochEvent):
                self._epochs.append(event.to_dict())
                self._window.clear()  # the evaluation pause is not training speed
            elif isinstance(event, StartEvent):
                self._total_steps, self._n_train = event.total_steps, event.n_train
                self._status = Status.PAUSED if self._pause_requested else Status.RUNNING
                self._message = "paused" if self._pause_requested else "training"
                if self._pause_requested:
                    self._paused_at = time.time()
            elif isinstance(event, EndEvent):
                self._test_accuracy = event.result.test_accuracy
                self._end(event.status, event.message)
            self._touch()


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
        self.recovered = self.recover()

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
            thread = job._thread if job else None
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
                job._cancel_queued()
                self._renumber()
                return True
        return job.request_stop()

    def _enqueue(self, requests: list[tuple[TrainConfig, str]], owner: str, sweep_id: str | None = None) -> list[Job]:
        """Check the limits, then queue every run or none; raises RunRefused with the reason."""
        for config, _ in requests:
            problem = self.budget.problem(config, self.speed or 1.0)
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
                job._thread = threading.Thread(target=self._run, args=(job,), daemon=True, name=f"train-{job.id}")
                job._thread.start()

    def _compatible(self, job: Job) -> bool:
        # Accelerate keeps one device/precision state per process: runs with another one wait their turn.
        key = (job.config.device, job.config.mixed_precision)
        return all((j.config.device, j.config.mixed_precision) == key for j in self._running.values())

    def _renumber(self) -> None:
        for position, job in enumerate(self._queue, start=1):
            job._set_queue_position(position)

    def _run(self, job: Job) -> None:
        recorder = None
        try:
            torch.set_num_threads(self.threads)
            lower_thread_priority()
            if not job._starting():
                return
            from core.engine.trainer import Trainer, make_accelerator

            data = self._get_data()
            recorder = self.store.create(job.config, label=job.label)
            with self._accelerator_lock:
                accelerator = make_accelerator(job.config)
            trainer = Trainer(job.config, data, listeners=[recorder, job], accelerator=accelerator)
            job._attach(trainer, recorder.id)
            trainer.fit()
        except Exception as exc:
            log.exception("job %s failed", job.id)
            message = str(exc) if isinstance(exc, MNISTUnavailable) else (
                f"training failed: {type(exc).__name__}: {exc}")
            job._fail(message)
            if recorder is not None and recorder.record.get("status") == Status.RUNNING:
                recorder.fail(message)
        finally:
            job._detach()  # drops the Trainer, and with it the model and the optimizer
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


@functools.cache
def _events():
    # Imported on first use: Accelerate takes seconds to import, and pages import this module.
    from core.engine import trainer

    return trainer.StepEvent, trainer.EpochEvent, trainer.StartEvent, trainer.EndEvent
