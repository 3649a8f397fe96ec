"""The Ray executor: each run trains in a warm Ray actor, on this machine or on any node of a Ray cluster.

MNIST_LAB_EXECUTOR=ray. With RAY_ADDRESS set, the server joins that cluster (`ray start --head` on one machine,
`ray start --address=HEAD:6379` on the others); without it, ray.init() starts a local Ray that trains in as
many processes as this machine has cores. Ray's token authentication stays on (its default for local
clusters); Ray's dashboard stays off unless MNIST_LAB_RAY_DASHBOARD=1. A Ray it cannot reach raises
ExecutorUnavailable: make_executor then trains on local workers instead (core.lab.executors.fallback).

One actor per slot is created and warmed when the lab starts (torch imported; MNIST received once through Ray's
object store, or, made by the lab's coordinator, loaded from its node's data folder), then kept for every run; its
body is the local worker's (worker_body.WorkerBody). A threaded actor (max_concurrency) answers the server's polls
and controls while its own thread trains.
Weights and predictions come back through the object store, and the server saves them in its RunStore: nodes
need no shared folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time

from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors
from core.engine.events import StepEvent
from core.engine.lr_finder import FinderStopped
from core.lab.cpu_share import RAY_AT_SERVER_PRIORITY
from core.lab.executors.base import (
    FINDER_HELPERS,
    WAIT_POLL_S,
    Capacity,
    ExecutorUnavailable,
    RemoteControl,
    RunRefusedByWorker,
    RunSink,
    WorkerLost,
    unpack_end,
)
from core.lab.executors.pool import PoolExecutor, WorkerPool

log = logging.getLogger(__name__)

POLL_S = 0.5  # the server collects a run's new events twice a second: a smooth curve at little cost
FIRST_POLL_S = 0.05  # until the first step: the student waits for the first loss point
CPUS_PER_RUN_ENV = "MNIST_LAB_RAY_CPUS_PER_RUN"
DASHBOARD_ENV = "MNIST_LAB_RAY_DASHBOARD"
INIT_TIMEOUT_S = 120  # a local ray.init() took 26 s on a busy 2-core machine
READY_TIMEOUT_S = 300


def cpus_per_run(environ=None) -> float:
    """CPUs each run's actor asks Ray for: ${MNIST_LAB_RAY_CPUS_PER_RUN}, else 1."""
    text = (environ if environ is not None else os.environ).get(CPUS_PER_RUN_ENV, "").strip()
    try:
        value = float(text) if text else 1.0
        return value if value > 0 else 1.0
    except ValueError:
        return 1.0


def connect_ray(closing: threading.Event, num_cpus: int | None = None) -> threading.Thread:
    """ray.init once in this process (RAY_ADDRESS's cluster, else a local Ray), from a thread that lives until
    `closing` is set; that thread. Raises what ray.init raised, or TimeoutError.

    Ray starts its local cluster's processes with a parent-death signal tied to the thread that called ray.init
    (measured here: they died when that thread ended), so one long-lived thread of the server owns Ray.
    """
    import ray

    done: list = []
    ready = threading.Event()

    def own_ray() -> None:
        try:
            if not ray.is_initialized():
                # "local": without RAY_ADDRESS, a Ray head already running on this machine is not joined by chance.
                ray.init(address=os.environ.get("RAY_ADDRESS") or "local", num_cpus=num_cpus,
                         include_dashboard=os.environ.get(DASHBOARD_ENV) == "1", logging_level=logging.WARNING,
                         log_to_driver=False)
            done.append(None)
        except Exception as exc:
            done.append(exc)
        ready.set()
        closing.wait()
        if ray.is_initialized():
            ray.shutdown()

    owner = threading.Thread(target=own_ray, daemon=True, name="ray-owner")
    owner.start()
    if not ready.wait(INIT_TIMEOUT_S):
        raise TimeoutError(f"Ray did not start within {INIT_TIMEOUT_S} s")
    if done[0] is not None:
        raise done[0]
    return owner


class RayWorker:
    """The server's end of one Ray actor (a WorkerBody): the pool's transport, as LocalWorker is for a process."""

    def __init__(self, actor):
        self.actor = actor
        self.pid: int | None = None
        self.host = ""
        self.alive = True

    @property
    def identity(self) -> tuple[int | None, str]:
        return self.pid, self.host

    def wait_ready(self) -> None:
        import ray

        self.pid, self.host = ray.get(self.actor.ready.remote(), timeout=READY_TIMEOUT_S)

    def train(self, config: TrainConfig, sink: RunSink, run_folder=None) -> None:
        """Relay one run to `sink`, polling the actor; WorkerLost if it dies on the way."""
        import ray
        from ray.exceptions import RayActorError

        try:
            why_not = ray.get(self.actor.start.remote(config, None if run_folder is None else str(run_folder)))
            if why_not:
                raise RunRefusedByWorker(why_not)
            sink.started(RemoteControl(self.actor.control.remote, config, self.pid))
            heard = False
            while True:
                events, end = ray.get(self.actor.take.remote())
                for event in events:
                    sink(event)
                if end is not None:
                    sink(unpack_end(end, config))
                    return
                # The one look at an event's kind outside a callback: poll fast until the first loss point.
                heard = heard or any(isinstance(event, StepEvent) for event in events)
                time.sleep(POLL_S if heard else FIRST_POLL_S)
        except RayActorError as exc:
            self.alive = False
            raise WorkerLost("its Ray actor died") from exc

    def find_lr(self, config: TrainConfig, stop: threading.Event | None = None):
        """The learning-rate range test in this actor; FinderStopped once `stop` was set and it stopped."""
        import ray
        from ray.exceptions import RayActorError

        try:
            answer, told = self.actor.find_lr.remote(config), False
            while not ray.wait([answer], timeout=WAIT_POLL_S)[0]:
                if stop is not None and stop.is_set() and not told:
                    self.actor.stop_finder.remote()
                    told = True
            found, why_not = ray.get(answer)
        except RayActorError as exc:
            self.alive = False
            raise WorkerLost("its Ray actor died") from exc
        if why_not:
            raise RunRefusedByWorker(why_not)
        if found is None:
            raise FinderStopped("the learning-rate finder was stopped")
        return found

    def exit_text(self) -> str:
        return "" if self.alive else "its Ray actor died"

    def close(self, timeout: float = 5.0) -> None:
        """End the actor (one replaced while it still trains holds its CPU until then); Ray ends the rest of them
        itself when the server's Ray shuts down."""
        import ray

        self.alive = False
        with contextlib.suppress(Exception):  # noqa: BLE001 - already dead, or Ray already shut down
            ray.kill(self.actor)


class RayExecutor(PoolExecutor):
    """Warm Ray actors, one per slot of the cluster, and FINDER_HELPERS helper actors that reserve no CPU."""

    kind = "ray"

    def __init__(self, data: MNISTTensors | None = None, num_cpus: int | None = None):
        super().__init__()
        self.data, self.num_cpus = data, num_cpus
        self.cpus_per_run = cpus_per_run()
        self._slots = 0
        self._machines = 0
        self._owner: threading.Thread | None = None
        self._closing = threading.Event()

    def start(self) -> None:
        try:
            self._init_ray()
        except Exception as exc:
            address = os.environ.get("RAY_ADDRESS") or "a local Ray"
            raise ExecutorUnavailable(f"Ray could not be reached at {address} ({type(exc).__name__}: {exc})") from exc
        self._fill_pools()

    def _init_ray(self) -> None:
        self._owner = connect_ray(self._closing, self.num_cpus)

    def _fill_pools(self) -> None:
        import ray

        from core.lab.executors.worker_body import WorkerBody  # Ray pickles the class for its actors

        slots = max(1, int(ray.cluster_resources().get("CPU", 1) // self.cpus_per_run))
        data_ref = ray.put(self.data) if self.data is not None else None  # once per server, never per run
        threads = max(1, int(self.cpus_per_run))
        # Merged with the runtime env of whoever creates them (the coordinator hands the lab's settings over).
        priority = {"env_vars": RAY_AT_SERVER_PRIORITY}
        runs = ray.remote(WorkerBody).options(num_cpus=self.cpus_per_run, max_concurrency=4, max_restarts=0,
                                              runtime_env=priority)
        # Helpers reserve no CPU: they never wait behind the runs. Threaded (2): a Stop reaches a finder while it runs.
        helpers = ray.remote(WorkerBody).options(num_cpus=0, max_concurrency=2, runtime_env=priority)
        self.workers = WorkerPool(lambda: RayWorker(runs.remote(data_ref, threads)), "Ray actors")
        self.helpers = WorkerPool(lambda: RayWorker(helpers.remote(data_ref, 1)), "helper actors")
        started, started_helpers = self.workers.spawn(slots), self.helpers.spawn(FINDER_HELPERS)
        self.workers.admit_all(started)
        self.helpers.admit_all(started_helpers)
        # Counted once they are warm: until then the lab says it is starting, and runs wait for it.
        self._slots = len(self.pids)
        self._machines = sum(1 for node in ray.nodes() if node.get("Alive"))

    def capacity(self) -> Capacity:
        return Capacity(self.kind, self._slots, self._machines)

    def close(self) -> None:
        super().close()
        self._closing.set()
        if self._owner is not None:
            self._owner.join(30)
