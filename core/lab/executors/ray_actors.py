"""The Ray executor: each run trains in a warm Ray actor, on this machine or on any node of a Ray cluster.

MNIST_LAB_EXECUTOR=ray. With RAY_ADDRESS set, the server joins that cluster (`ray start --head` on one machine,
`ray start --address=HEAD:6379` on the others); without it, ray.init() starts a local Ray that trains in as
many processes as this machine has cores. Ray's token authentication stays on (its default for local
clusters); Ray's dashboard stays off unless MNIST_LAB_RAY_DASHBOARD=1.

One actor per slot is created and warmed when the server starts (torch imported, MNIST received once through
Ray's object store), then kept for every run. A threaded actor (max_concurrency) answers the server's polls
and controls while its own thread trains. Weights and predictions come back through the object store, and
the server saves them in its RunStore: nodes need no shared folder.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time

from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors
from core.lab.executors.base import (
    FINDER_HELPERS,
    WAIT_POLL_S,
    Capacity,
    Executor,
    RunCancelled,
    RunInWorker,
    RunRefusedByWorker,
    RunSink,
    WorkerLost,
    take_idle,
    unpack_end,
    warm_up_training,
)

log = logging.getLogger(__name__)

POLL_S = 0.5  # the server collects a run's new events twice a second: a smooth curve at little cost
FIRST_POLL_S = 0.05  # until the first step: the student waits for the first loss point
CPUS_PER_RUN_ENV = "MNIST_LAB_RAY_CPUS_PER_RUN"
DASHBOARD_ENV = "MNIST_LAB_RAY_DASHBOARD"
INIT_TIMEOUT_S = 120  # a local ray.init() took 26 s on a busy 2-core machine


def cpus_per_run(environ=None) -> float:
    """CPUs each run's actor asks Ray for: ${MNIST_LAB_RAY_CPUS_PER_RUN}, else 1."""
    text = (environ if environ is not None else os.environ).get(CPUS_PER_RUN_ENV, "").strip()
    try:
        value = float(text) if text else 1.0
        return value if value > 0 else 1.0
    except ValueError:
        return 1.0


class TrainerActorBody:
    """What one Ray actor does: keep MNIST and a warm torch, train one run at a time in a thread of its own."""

    def __init__(self, data: MNISTTensors | None, threads: int):
        import torch

        import core.engine.trainer  # noqa: F401  (Accelerate takes seconds to import: once per actor)
        from core.engine import data as mnist_data
        from core.engine.data import MNISTUnavailable

        torch.set_num_threads(threads)
        self.threads, self.unavailable, self.run = threads, "", None
        self.finder_stop = threading.Event()
        self.data = data
        if data is None:
            try:
                self.data = mnist_data.load_mnist()
            except MNISTUnavailable as exc:
                self.unavailable = str(exc)
        warm_up_training()

    def ready(self) -> tuple[int, str]:
        import socket

        return os.getpid(), socket.gethostname()

    def start(self, config: TrainConfig, run_folder: str | None = None) -> str:
        """Start training; "" when it started, else why not, in words for the student."""
        if self.unavailable:
            return self.unavailable
        self.run = RunInWorker(config, self.data, self.threads, run_folder)
        self.run.start()
        return ""

    def take(self) -> tuple[list, dict | None]:
        return self.run.take() if self.run else ([], None)

    def find_lr(self, config: TrainConfig):
        """The learning-rate range test, run in this actor, niced like training; (LrFinderResult or None, why not),
        with why not "" when stop_finder() stopped it."""
        if self.unavailable:
            return None, self.unavailable
        from core.engine.lr_finder import FinderStopped, find_lr
        from core.lab.tuning import DEFAULT_WORKER_NICE, lower_thread_priority

        lower_thread_priority(default=DEFAULT_WORKER_NICE)
        self.finder_stop = threading.Event()
        try:
            return find_lr(config, self.data, stop=self.finder_stop), ""
        except FinderStopped:
            return None, ""

    def stop_finder(self) -> None:
        """Stop the finder running in this actor after its current step (a threaded actor runs this beside it)."""
        self.finder_stop.set()

    def control(self, command: str, *args) -> None:
        from core.lab.executors.worker import control

        if self.run is not None:
            control(self.run.trainer, command, args)


class ActorControl:
    """A run's controls, sent to its actor (a threaded actor runs them beside the training thread)."""

    def __init__(self, actor, config: TrainConfig, pid: int | None = None):
        self.actor, self.config = actor, config
        self.pid = pid  # the actor's process, on whichever node it lives

    def pause(self) -> None:
        self.actor.control.remote("pause")

    def resume(self) -> None:
        self.actor.control.remote("resume")

    def stop(self) -> None:
        self.actor.control.remote("stop")

    def set_lr(self, lr: float) -> None:
        from core.engine.trainer import check_new_lr

        check_new_lr(self.config, lr)
        self.actor.control.remote("set_lr", float(lr))


class RayExecutor(Executor):
    """Warm Ray actors, one per slot of the cluster; falls back to `fallback()` when Ray cannot be reached."""

    kind = "ray"

    def __init__(self, data: MNISTTensors | None = None, fallback=None, num_cpus: int | None = None):
        super().__init__()
        self.data, self.fallback_factory, self.num_cpus = data, fallback, num_cpus
        self.cpus_per_run = cpus_per_run()
        self.notice = ""  # why Ray is not used, when it is not
        self._fallback: Executor | None = None
        self._idle: queue.Queue = queue.Queue()
        self._actors: dict = {}  # actor -> (pid, host)
        self._lock = threading.Lock()
        self._slots = 0
        self._machines = 0
        self._data_ref = None
        self._actor_class = None
        self._idle_helpers: queue.Queue = queue.Queue()
        self._owner: threading.Thread | None = None
        self._closing = threading.Event()

    # --- starting ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._init_ray()
        except Exception as exc:
            address = os.environ.get("RAY_ADDRESS") or "a local Ray"
            self.notice = (f"Ray could not be reached at {address} ({type(exc).__name__}: {exc}); this lab "
                           "trains on this machine's own workers instead.")
            log.error("%s", self.notice)
            if self.fallback_factory is None:
                raise
            self._fallback = self.fallback_factory()
            self._fallback.start()
            return
        self._fill_pool()

    def _init_ray(self) -> None:
        import ray

        # Ray starts its local cluster's processes with a parent-death signal tied to the thread that called
        # ray.init (measured here: they died when that thread ended). So one thread of the server owns Ray and
        # lives as long as the server; ray.init runs once per process, whichever session asks first.
        done: list = []
        ready = threading.Event()

        def own_ray() -> None:
            try:
                if not ray.is_initialized():
                    ray.init(address=os.environ.get("RAY_ADDRESS") or None, num_cpus=self.num_cpus,
                             include_dashboard=os.environ.get(DASHBOARD_ENV) == "1", logging_level=logging.WARNING,
                             log_to_driver=False)
                done.append(None)
            except Exception as exc:
                done.append(exc)
            ready.set()
            self._closing.wait()
            if ray.is_initialized():
                ray.shutdown()

        self._owner = threading.Thread(target=own_ray, daemon=True, name="ray-owner")
        self._owner.start()
        if not ready.wait(INIT_TIMEOUT_S):
            raise TimeoutError(f"Ray did not start within {INIT_TIMEOUT_S} s")
        if done[0] is not None:
            raise done[0]

    def _fill_pool(self) -> None:
        import ray

        resources = ray.cluster_resources()
        slots = max(1, int(resources.get("CPU", 1) // self.cpus_per_run))
        self._data_ref = ray.put(self.data) if self.data is not None else None  # once per server, never per run
        self._actor_class = ray.remote(TrainerActorBody).options(
            num_cpus=self.cpus_per_run, max_concurrency=4, max_restarts=0)
        actors = [self._new_actor() for _ in range(slots)]
        # Short tasks (the finder) go to helper actors that reserve no CPU: they never wait behind the runs.
        # Threaded (2): a Stop reaches a finder while it runs.
        for _ in range(FINDER_HELPERS):
            self._idle_helpers.put(ray.remote(TrainerActorBody).options(num_cpus=0, max_concurrency=2).remote(
                self._data_ref, 1))
        for actor in actors:
            self._admit(actor)
        # Counted once they are warm: until then the lab says it is starting, and runs wait for it.
        self._slots = len(self.pids)
        self._machines = sum(1 for node in ray.nodes() if node.get("Alive"))

    def _new_actor(self):
        threads = max(1, int(self.cpus_per_run))
        return self._actor_class.remote(self._data_ref, threads)

    def _admit(self, actor) -> None:
        import ray

        try:
            pid_host = ray.get(actor.ready.remote(), timeout=300)
        except Exception as exc:
            log.error("a Ray training actor could not start: %s", exc)
            return
        with self._lock:
            self._actors[actor] = pid_host
        self._idle.put(actor)

    # --- the executor's interface -----------------------------------------------------------------------------
    def capacity(self) -> Capacity:
        if self._fallback is not None:
            return self._fallback.capacity()
        return Capacity(self.kind, self._slots, self._machines)

    @property
    def pids(self) -> list[tuple[int, str]]:
        """(pid, host) of each warm actor (tests use them)."""
        with self._lock:
            return list(self._actors.values())

    def train(self, config: TrainConfig, sink: RunSink, run_folder=None) -> None:
        if self._fallback is not None:
            return self._fallback.train(config, sink, run_folder)
        import ray
        from ray.exceptions import RayActorError

        from core.engine.trainer import StepEvent

        actor = take_idle(self._idle, sink.cancelled)
        try:
            why_not = ray.get(actor.start.remote(config, None if run_folder is None else str(run_folder)))
            if why_not:
                self._idle.put(actor)
                raise RunRefusedByWorker(why_not)
            with self._lock:
                pid = self._actors.get(actor, (None,))[0]
            sink.started(ActorControl(actor, config, pid))
            heard = False
            while True:
                events, end = ray.get(actor.take.remote())
                for event in events:
                    sink(event)
                if end is not None:
                    sink(unpack_end(end, config))
                    break
                heard = heard or any(isinstance(event, StepEvent) for event in events)
                time.sleep(POLL_S if heard else FIRST_POLL_S)
        except RayActorError as exc:
            self._replace(actor)
            raise WorkerLost("its Ray actor died") from exc
        self._idle.put(actor)

    def find_lr(self, config: TrainConfig, stop: threading.Event | None = None):
        if self._fallback is not None:
            return self._fallback.find_lr(config, stop)
        import ray
        from ray.exceptions import RayActorError

        from core.engine.lr_finder import FinderStopped

        try:
            helper = take_idle(self._idle_helpers, lambda: stop is not None and stop.is_set())
        except RunCancelled as exc:  # stopped while every helper was busy
            raise FinderStopped("the learning-rate finder was stopped") from exc
        lost = False
        try:
            answer, told = helper.find_lr.remote(config), False
            while not ray.wait([answer], timeout=WAIT_POLL_S)[0]:
                if stop is not None and stop.is_set() and not told:
                    helper.stop_finder.remote()
                    told = True
            found, why_not = ray.get(answer)
        except RayActorError as exc:
            lost = True
            self._idle_helpers.put(ray.remote(TrainerActorBody).options(num_cpus=0, max_concurrency=2).remote(
                self._data_ref, 1))
            raise WorkerLost("its Ray actor died") from exc
        finally:
            if not lost:
                self._idle_helpers.put(helper)
        if why_not:
            raise RunRefusedByWorker(why_not)
        if found is None:
            raise FinderStopped("the learning-rate finder was stopped")
        return found

    def close(self) -> None:
        if self._fallback is not None:
            self._fallback.close()
        self._closing.set()
        if self._owner is not None:
            self._owner.join(30)

    def _replace(self, actor) -> None:
        with self._lock:
            self._actors.pop(actor, None)
        if not self._closing.is_set():
            threading.Thread(target=lambda: self._admit(self._new_actor()), daemon=True,
                             name="actor-replace").start()
