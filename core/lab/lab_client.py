"""The Lab (core.lab.lab) in a web process whose JobManager lives in the Ray cluster, as the coordinator actor.

LabClient is made from the protocol: every member the web process does not answer itself is asked of the
coordinator (core.lab.coordinator) as it is, under the protocol's own name, signature and docstring. How each
member crosses is the protocol's mark on it (core.lab.lab.Crossing); the load line's fields are LabLoad's.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from dataclasses import fields, replace
from pathlib import Path

from core.engine.run_store import RunStore
from core.lab.answers_here import AnsweredHere
from core.lab.coordinator import COORDINATOR_NAME, Coordinator, CoordinatorMismatch, lab_namespace, lab_settings
from core.lab.cpu_share import RAY_AT_SERVER_PRIORITY
from core.lab.estimate import RUN_BUDGET
from core.lab.executors.base import Capacity
from core.lab.guards import LabGuards
from core.lab.lab import Crossing, Lab, LabLoad, crossing, empty_answer, id_read, lab_members

log = logging.getLogger(__name__)

# Threads of the coordinator: every web call, and each page's short wait for a stopped run, holds one meanwhile.
COORDINATOR_THREADS = 256
LOAD_TTL_S = 0.5  # a page's load line (capacity, training, waiting…) is asked at most twice a second per process
CONNECT_TIMEOUT_S = 180  # ray.init took 26 s on a busy 2-core machine; the coordinator then imports torch
GUARD_WAIT_S = 5  # a new visitor's page waits at most this long for the coordinator's count of new ids
GUARDS_HERE_S = 60  # then the web process counts alone this long before it asks the coordinator again

# The load line before the coordinator is reached: nothing trains yet.
LOAD_WHILE_CONNECTING = LabLoad(Capacity("ray", 0, 0), max_concurrent=0, training=0, waiting=0, ready=False,
                                notice="", speed=None)
# What each read answers while the web process still connects: nothing is known yet. A read of one run or sweep by
# its id (a link) waits for the coordinator instead: "not live" would drop the link. A read of no id is empty.
_EMPTY = {name: empty_answer(name) for name in lab_members() if crossing(name) is Crossing.READ}
_ID_OF = {name: id_read(name) for name in _EMPTY if id_read(name)}


@functools.cache
def _lab_client(runs_dir: str) -> LabClient:
    return LabClient(runs_dir)


def lab_client(runs_dir) -> LabClient:
    """This process's one LabClient for a runs folder; the first call starts connecting (launch makes it as the
    server starts, so a link opened on a fresh web process finds its run without waiting for Ray)."""
    return _lab_client(str(Path(runs_dir).resolve()))


class LabClient(AnsweredHere):
    """The Lab in a web process, answered by the coordinator actor in the Ray cluster.

    Connects in the background; until connected the load line says nothing trains yet. Reads the saved runs
    itself (`store`): the coordinator is the only writer.
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
        self._load: tuple[float, LabLoad] | None = None
        self._guards_here = LabGuards()  # while the coordinator cannot answer
        self._guards_here_until = 0.0
        threading.Thread(target=self._connect, daemon=True, name="lab-coordinator-connect").start()

    def call(self, name: str, *args, **kwargs):
        """Ask the coordinator (or, Ray unreachable, the local manager) for one of the Lab's members."""
        if name in _ID_OF and not (args[0] if args else kwargs.get(_ID_OF[name])):
            return _EMPTY[name]  # no id: nothing to ask
        if name in _EMPTY and not self._connected.is_set():
            if name not in _ID_OF:
                return _EMPTY[name]  # a page never waits for Ray's start just to read
            if not self._connected.wait(CONNECT_TIMEOUT_S):
                return _EMPTY[name]
        if not self._connected.wait(CONNECT_TIMEOUT_S):
            raise TimeoutError("The lab is still starting; try again in a minute.")
        answer, error = self._ask("call", name, args, kwargs)
        if error is not None:
            raise error
        return answer

    def load(self) -> LabLoad:
        """What a page's load line shows: the coordinator's, asked at most every LOAD_TTL_S."""
        if not self._connected.is_set():
            return LOAD_WHILE_CONNECTING
        now = time.monotonic()
        if self._load is None or now - self._load[0] > LOAD_TTL_S:
            self._load = (now, self.call("load"))
        load = self._load[1]
        return replace(load, notice=self._notice or load.notice)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Leave the lab: the coordinator and its runs go on (a fallback manager of this process stops)."""
        if self._local is not None:
            self._local.manager.shutdown(timeout)
        self._closing.set()

    def guarded(self, name: str, *args, **kwargs):
        """One of the lab's guards, counted by the coordinator for every web process. While it cannot answer (Ray
        still starting, or lost) this process counts alone for a while: a visitor's page neither waits for Ray nor
        shows Ray's error. Asked once, briefly: the other calls find a lost coordinator again."""
        if not self._connected.is_set() or time.monotonic() < self._guards_here_until:
            return getattr(self._guards_here, name)(*args, **kwargs)
        try:
            answer, error = self._ask_once("call", name, args, kwargs, timeout=GUARD_WAIT_S)
        except Exception as exc:  # noqa: BLE001 - Ray's errors are many; the guard's own come back as `error`
            log.warning("the lab's coordinator did not answer %s (%s: %s); this web process counts alone for %d s",
                        name, type(exc).__name__, exc, GUARDS_HERE_S)
            self._guards_here_until = time.monotonic() + GUARDS_HERE_S
            return getattr(self._guards_here, name)(*args, **kwargs)
        if error is not None:
            raise error
        return answer

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
            scheduling_strategy=here, runtime_env={"env_vars": {**mine, **RAY_AT_SERVER_PRIORITY}},
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
        """The coordinator's answer to one of its methods (`call`, `settings`), asked once: the local one's when Ray
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


def _asks_the_coordinator(name: str):
    """LabClient's answer to a member of the Lab: the coordinator's, under the protocol's name and signature."""
    member = getattr(Lab, name)
    guarded = crossing(name) is Crossing.GUARD

    @functools.wraps(member)
    def ask(self: LabClient, *args, **kwargs):
        return self.guarded(name, *args, **kwargs) if guarded else self.call(name, *args, **kwargs)

    return ask


def _load_field(name: str) -> property:
    return property(lambda self: getattr(self.load(), name), doc=f"load().{name}")


for _name in lab_members():
    if crossing(_name) is not Crossing.HERE and _name not in vars(LabClient):
        setattr(LabClient, _name, _asks_the_coordinator(_name))
for _field in fields(LabLoad):  # read as attributes too, as a JobManager's are
    setattr(LabClient, _field.name, _load_field(_field.name))
