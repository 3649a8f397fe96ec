"""One lab for several web processes: with Ray, the job manager lives in the cluster as one detached actor.

The coordinator (`Coordinator`, the actor "mnist-lab-coordinator") hosts the same JobManager as a single web
process does: the fair queue, the live snapshots, the controls, the limits and the pool of training actors; it
alone writes the run files, so it needs the runs folder (one machine, or a folder every node shares). Each web
process holds a `LabClient` with the JobManager's interface; what crosses is plain data (snapshots, sweeps, the
finder's state), and an error raised by the manager (a refused run, say) is raised again in the web process.

A web process that ends or restarts interrupts nothing: the actor is detached and owns the training actors.
If the coordinator dies, Ray restarts it (and the next call finds it again); the new one marks the runs the old
one was writing interrupted, as a restarted single server does. Without Ray (the default, local workers) the
lab's JobManager stays in the web process (pages.ui.common chooses).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from core.engine.config import TrainConfig
from core.engine.runs import RunStore
from core.lab.classroom import TOKEN_ENV
from core.lab.estimate import RUN_BUDGET
from core.lab.executors.base import Capacity, Executor
from core.lab.guards import LabGuards
from core.lab.identity import INSTRUCTORS_ENV, SECRET_ENV
from core.lab.job import JobSnapshot
from core.lab.jobs import JobManager, ManagerAnswers

log = logging.getLogger(__name__)

COORDINATOR_NAME = "mnist-lab-coordinator"
# Threads of the coordinator: every web call, and each page's short wait for a stopped run, holds one meanwhile.
COORDINATOR_THREADS = 256
STATUS_TTL_S = 0.5  # a page's load line (capacity, training, waiting…) is asked at most twice a second per process
FIRST_STEP_POLL_S = 0.05  # as the Ray executor polls a run until its first step
CONNECT_TIMEOUT_S = 180  # ray.init took 26 s on a busy 2-core machine; the coordinator then imports torch
GUARD_WAIT_S = 5  # a new visitor's page waits at most this long for the coordinator's count of new ids
GUARDS_HERE_S = 60  # then the web process counts alone this long before it asks the coordinator again


def build_job_manager(runs_dir: str, executor: Executor | None = None, room=None, names=None) -> JobManager:
    """The lab's JobManager for a runs folder, warming up in the background: every run is checked on the server
    against the class's locked settings, its experiment's value and the names held, whatever a page showed."""
    from core.lab.classroom import ClassRoom
    from core.lab.names import NameRegistry

    room = room or ClassRoom(runs_dir)
    names = names or NameRegistry(runs_dir)
    manager = JobManager(RunStore(runs_dir), executor=executor, gates=[room.lock_problem],
                         name_check=names.holder_problem, owner_gates=[room.experiment_problem])
    manager.warm_up()  # the workers start (or are adopted from launch's zygote); the machine is timed meanwhile
    return manager


# The lab's settings are its MNIST_LAB_* variables. Ray starts an actor with the environment and folder of the node's
# Ray (`ray start`), not of the process that asks for it, so the web process that creates the coordinator hands its
# own to it, and through it to the training actors (Ray passes an actor's runtime_env on to the actors it creates).
# As they are written: a relative data folder is each node's own. Who may do what stays out: Ray keeps a
# runtime_env where anyone with the cluster's token can read it, and the coordinator needs none of them.
SETTINGS_PREFIX = "MNIST_LAB_"


def lab_settings(environ=None) -> dict[str, str]:
    """The lab's settings in an environment (this process's by default), without its secret, token and accounts."""
    environ = os.environ if environ is None else environ
    return {name: value for name, value in environ.items()
            if name.startswith(SETTINGS_PREFIX) and name not in {SECRET_ENV, TOKEN_ENV, INSTRUCTORS_ENV}}


class CoordinatorMismatch(RuntimeError):
    """The cluster's coordinator was started by another version of the lab (it is detached: it outlives updates)."""


def lab_namespace(runs_dir: str) -> str:
    """Ray namespace of the lab with this runs folder: labs with other folders on one cluster stay apart."""
    return "mnist-lab-" + hashlib.sha256(str(runs_dir).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class FinderState:
    """A learning-rate finder's state, as plain data: what a page reads of a FinderTask."""

    id: str
    owner: str
    config: TrainConfig
    result: object  # the LrFinderResult, or None
    message: str
    done: bool
    stopped: bool


def _finder_state(task) -> FinderState | None:
    if task is None:
        return None
    return FinderState(task.id, task.owner, task.config, task.result, task.message, task.done, task.stopped)


def _snapshot(job) -> JobSnapshot | None:
    return job.snapshot() if job is not None else None


# What a web process may ask of the coordinator, and how each answer becomes plain data.
_AS_DATA = {
    "get": _snapshot,
    "submit": _snapshot,
    "start_finder": _finder_state,
    "finder": _finder_state,
}
_CALLS = frozenset({
    "submit", "submit_sweep", "pause", "resume", "set_lr", "stop", "stop_sweep", "stop_all", "delete_run",
    "over_budget", "finder_problem", "start_finder", "finder", "stop_finder", "queue_order", "live_snapshots",
    "waiting_of", "get", "snapshot", "get_sweep", "sweep_snapshots", "wait", "recover", "warming",
})

# What a web process may ask of the lab's guards (core.lab.guards): one count of new ids and token tries for the lab.
_GUARD_CALLS = frozenset({"issue_owner_id", "try_token"})

# What a read answers while the web process still connects to the coordinator: nothing is known yet.
# A read of one run or sweep by its id (a link) waits for the coordinator instead: "not live" would drop the link.
_READS_OF_AN_ID = frozenset({"get", "snapshot", "get_sweep", "sweep_snapshots"})
_READS_WHILE_CONNECTING = {"waiting_of": 0, "live_snapshots": [], "queue_order": [], "get": None, "snapshot": None,
                           "get_sweep": None, "sweep_snapshots": [], "finder": None, "warming": None}


class Coordinator:
    """The lab's JobManager and its guards behind one door, `call`; Ray hosts it as the detached coordinator actor."""

    def __init__(self, runs_dir: str, executor: Executor | None = None):
        if executor is None:
            from core.lab.executors.ray_actors import RayExecutor

            executor = RayExecutor()  # inside the cluster: its actors are this coordinator's, not a web process's
        self.manager = build_job_manager(runs_dir, executor)
        self.guards = LabGuards()

    def call(self, name: str, args: tuple = (), kwargs: dict | None = None) -> tuple[object, BaseException | None]:
        """(answer, None), or (None, the error the manager or a guard raised) so that the caller raises it as it is."""
        if name not in _CALLS | _GUARD_CALLS:
            return None, AttributeError(f"the lab's job manager has no call {name!r}")
        try:
            answer = getattr(self.guards if name in _GUARD_CALLS else self.manager, name)(*args, **(kwargs or {}))
        except Exception as exc:
            return None, exc
        return _AS_DATA.get(name, lambda value: value)(answer), None

    def status(self) -> dict:
        """What a page's load line shows, in one answer."""
        manager = self.manager
        return {"capacity": manager.capacity, "max_concurrent": manager.max_concurrent, "training": manager.training,
                "waiting": manager.waiting, "ready": manager.ready, "notice": manager.notice, "speed": manager.speed}

    def pid(self) -> int:
        """The coordinator's process id (tests end it to check a restart)."""
        return os.getpid()

    def settings(self) -> dict[str, str]:
        """The lab's settings the coordinator and its actors run with (a web process compares them with its own)."""
        return lab_settings()


class RemoteJob:
    """A job as a web process sees it: its id, owner and the snapshot it was read with."""

    def __init__(self, snap: JobSnapshot, client: LabClient):
        self.id, self.owner, self._snap, self._client = snap.id, snap.owner, snap, client

    @property
    def status(self):
        return self._snap.status

    def snapshot(self) -> JobSnapshot:
        return self._snap

    def wait_first_step(self, timeout: float) -> bool:
        """Block up to `timeout` seconds until the first step is done (or the job ended); True if so."""
        deadline = time.monotonic() + timeout
        while not (self._snap.step or self._snap.status.ended):
            if time.monotonic() >= deadline:
                return False
            time.sleep(FIRST_STEP_POLL_S)
            self._snap = self._client.call("snapshot", self.id) or self._snap
        return True


class RemoteFinder:
    """A learning-rate finder as a web process sees it; wait() asks the coordinator again."""

    def __init__(self, state: FinderState, client: LabClient):
        self._state, self._client = state, client

    def __getattr__(self, name):
        return getattr(self._state, name)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until it has ended (or the timeout passed); True if it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._state.done:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
            state = self._client.call("finder", self._state.owner)
            if state is not None and state.id == self._state.id:
                self._state = state
        return True

    def stop(self) -> bool:
        return self._client.call("stop_finder", self._state.owner)


@functools.cache
def _lab_client(runs_dir: str) -> LabClient:
    return LabClient(runs_dir)


def lab_client(runs_dir) -> LabClient:
    """This process's one LabClient for a runs folder; the first call starts connecting (launch makes it as the
    server starts, so a link opened on a fresh web process finds its run without waiting for Ray)."""
    return _lab_client(str(Path(runs_dir).resolve()))


class LabClient(ManagerAnswers):
    """The JobManager's interface in a web process, answered by the coordinator actor in the Ray cluster.

    Connects in the background; until connected `ready` is False and the load line says nothing trains yet.
    Reads the run history itself (`store`): the coordinator is the only writer.
    """

    def __init__(self, runs_dir: str):
        self.runs_dir = str(runs_dir)
        self.store = RunStore(runs_dir)
        self.budget = RUN_BUDGET
        self._actor = None
        self._local: Coordinator | None = None  # where the lab trains when Ray cannot be reached
        self._notice = ""
        self._connected = threading.Event()
        self._closing = threading.Event()
        self._status: tuple[float, dict] | None = None
        self._guards_here = LabGuards()  # while the coordinator cannot answer
        self._guards_here_until = 0.0
        threading.Thread(target=self._connect, daemon=True, name="lab-coordinator-connect").start()

    # --- the manager's interface ----------------------------------------------------------------------
    def call(self, name: str, *args, **kwargs):
        """Ask the coordinator (or, Ray unreachable, the local manager) for one of the manager's calls."""
        if name in _READS_WHILE_CONNECTING and not self._connected.is_set():
            if not (name in _READS_OF_AN_ID and args and args[0]):
                return _READS_WHILE_CONNECTING[name]  # a page never waits for Ray's start just to read
            if not self._connected.wait(CONNECT_TIMEOUT_S):
                return _READS_WHILE_CONNECTING[name]
        if not self._connected.wait(CONNECT_TIMEOUT_S):
            raise TimeoutError("The lab is still starting; try again in a minute.")
        answer, error = self._ask("call", name, args, kwargs)
        if error is not None:
            raise error
        return answer

    def submit(self, config: TrainConfig, owner: str, label: str = "", student: str = "",
               instructor: bool = False) -> RemoteJob:
        return RemoteJob(self.call("submit", config, owner, label, student, instructor), self)

    def get(self, job_id: str | None) -> RemoteJob | None:
        snap = self.call("get", job_id) if job_id else None
        return RemoteJob(snap, self) if snap is not None else None

    def start_finder(self, config: TrainConfig, owner: str) -> RemoteFinder:
        return RemoteFinder(self.call("start_finder", config, owner), self)

    def finder(self, owner: str) -> RemoteFinder | None:
        state = self.call("finder", owner)
        return RemoteFinder(state, self) if state is not None else None

    # --- the lab's guards: the coordinator's, so every web process counts together ------------------------
    def issue_owner_id(self, address: str) -> str | None:
        return self._guarded("issue_owner_id", address)

    def try_token(self, address: str, right: bool):
        return self._guarded("try_token", address, right)

    def _guarded(self, name: str, *args):
        # While the coordinator cannot answer (Ray still starting, or lost) this process counts alone for a while: a
        # visitor's page neither waits for Ray nor shows Ray's error. Asked once, briefly: the other calls find a
        # lost coordinator again.
        if not self._connected.is_set() or time.monotonic() < self._guards_here_until:
            return getattr(self._guards_here, name)(*args)
        try:
            answer, error = self._ask_once("call", name, args, {}, timeout=GUARD_WAIT_S)
        except Exception as exc:  # noqa: BLE001 - Ray's errors are many; the guard's own come back as `error`
            log.warning("the lab's coordinator did not answer %s (%s: %s); this web process counts alone for %d s",
                        name, type(exc).__name__, exc, GUARDS_HERE_S)
            self._guards_here_until = time.monotonic() + GUARDS_HERE_S
            return getattr(self._guards_here, name)(*args)
        if error is not None:
            raise error
        return answer

    def __getattr__(self, name):
        # The rest of the manager's calls (pause, stop, stop_all, live_snapshots, queue_order…) cross as they are.
        if name in _CALLS:
            return lambda *args, **kwargs: self.call(name, *args, **kwargs)
        raise AttributeError(name)

    # --- what a page's load line shows ----------------------------------------------------------------
    def _load(self) -> dict:
        if not self._connected.is_set():
            return {"capacity": Capacity("ray", 0, 0), "max_concurrent": 0, "training": 0, "waiting": 0,
                    "ready": False, "notice": "", "speed": None}
        now = time.monotonic()
        if self._status is None or now - self._status[0] > STATUS_TTL_S:
            self._status = (now, self._ask("status"))
        return self._status[1]

    capacity = property(lambda self: self._load()["capacity"])
    max_concurrent = property(lambda self: self._load()["max_concurrent"])
    training = property(lambda self: self._load()["training"])
    waiting = property(lambda self: self._load()["waiting"])
    ready = property(lambda self: self._load()["ready"])
    speed = property(lambda self: self._load()["speed"])
    notice = property(lambda self: self._notice or self._load()["notice"])

    def warm_up(self) -> None:
        """Nothing to do: the coordinator warms its own actors."""

    def shutdown(self, timeout: float = 10.0) -> None:
        """Leave the lab: the coordinator and its runs go on (a fallback manager of this process stops)."""
        if self._local is not None:
            self._local.manager.shutdown(timeout)
        self._closing.set()

    # --- inside ---------------------------------------------------------------------------------------
    def _connect(self) -> None:
        try:
            from core.lab.executors.ray_actors import connect_ray

            connect_ray(self._closing)
            self._actor = self._find_actor()
        except Exception as exc:
            from core.lab.cpu_share import WORKER_SLOTS_PER_CORE, max_concurrent_runs
            from core.lab.executors.local import LocalExecutor

            address = os.environ.get("RAY_ADDRESS") or "a local Ray"
            why = str(exc) if isinstance(exc, CoordinatorMismatch) else (
                f"Ray could not be reached at {address} ({type(exc).__name__}: {exc}).")
            self._notice = f"{why} Meanwhile this lab trains on this machine's own workers."
            log.error("%s", self._notice)
            slots = max_concurrent_runs(default=WORKER_SLOTS_PER_CORE * (os.cpu_count() or 1))
            self._local = Coordinator(self.runs_dir, LocalExecutor(None, slots))
        self._connected.set()

    def _find_actor(self):
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # get_if_exists: the first web process creates it, every other one (and every restart) finds it. It runs on
        # that web process's machine, which has the runs folder it writes.
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        mine = lab_settings()
        actor = ray.remote(Coordinator).options(
            name=COORDINATOR_NAME, namespace=lab_namespace(self.runs_dir), lifetime="detached", get_if_exists=True,
            max_concurrency=COORDINATOR_THREADS, max_restarts=-1, max_task_retries=0, num_cpus=0,
            scheduling_strategy=here, runtime_env={"env_vars": mine},
        ).remote(self.runs_dir)
        try:
            theirs = ray.get(actor.settings.remote(), timeout=CONNECT_TIMEOUT_S)
        except AttributeError as exc:  # an older coordinator has fewer methods
            raise CoordinatorMismatch("The lab's coordinator in this Ray cluster was started by an older version of "
                                      "the lab: stop the Ray head and start it again (`ray stop`, `ray start "
                                      "--head ...`), then restart the web processes.") from exc
        differ = sorted(name for name in set(theirs) | set(mine) if theirs.get(name) != mine.get(name))
        if differ:  # the first web process's settings hold until the coordinator is made again (a new Ray head)
            log.warning("The lab's coordinator runs with other settings than this web process (%s): it keeps those "
                        "of the web process that created it.", ", ".join(differ))
        return actor

    def _ask_once(self, method: str, *args, timeout: float | None = None):
        """The coordinator's answer to one of its methods (`call`, `status`), asked once: the local one's when Ray
        cannot be reached, else the actor's within `timeout` seconds (Ray's error raised if it gives none)."""
        if self._local is not None:
            return getattr(self._local, method)(*args)
        import ray

        return ray.get(getattr(self._actor, method).remote(*args), timeout=timeout)

    def _ask(self, method: str, *args):
        """The coordinator's answer to one of its methods, found again while it is dead or restarting (Ray restarts
        it; the new one marks the old one's runs interrupted)."""
        if self._local is not None:  # no actor to lose
            return self._ask_once(method, *args)
        from ray.exceptions import ActorUnavailableError, RayActorError

        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            try:
                return self._ask_once(method, *args)
            except (RayActorError, ActorUnavailableError):
                if time.monotonic() > deadline:
                    raise
                log.warning("the lab's coordinator was lost; asking again")
                time.sleep(1)
                with contextlib.suppress(RayActorError, ActorUnavailableError):
                    self._actor = self._find_actor()
