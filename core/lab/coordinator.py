"""One lab for several web processes: with Ray, the job manager lives in the cluster as one detached actor.

The coordinator (`Coordinator`, the actor "mnist-lab-coordinator") hosts the same JobManager as a single web
process does: the fair queue, the live snapshots, the controls, the limits, the guards and the pool of training
actors; it alone writes the run files, so it needs the runs folder (one machine, or a folder every node shares).
Each web process holds a LabClient (core.lab.lab_client), the Lab protocol's other implementation (core.lab.lab);
what crosses is plain data (snapshots, sweeps, the finder's state, the load line), and an error raised by the
manager (a refused run, say) is raised again in the web process.

A web process that ends or restarts interrupts nothing: the actor is detached and owns the training actors.
If the coordinator dies, Ray restarts it (and the next call finds it again); the new one marks the runs the old
one was writing interrupted, as a restarted single server does. Without Ray (the default, local workers) the
lab's JobManager stays in the web process (pages.ui.common chooses).
"""

from __future__ import annotations

import hashlib
import os

from core.engine.run_store import RunStore
from core.lab.executors.base import Executor
from core.lab.identity import INSTRUCTORS_ENV, SECRET_ENV
from core.lab.instructor_token import TOKEN_ENV
from core.lab.jobs import JobManager
from core.lab.lab import Crossing, crossing, lab_members

COORDINATOR_NAME = "mnist-lab-coordinator"


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


# What a web process may ask of the coordinator: every member of the Lab it does not answer itself.
CALLS = frozenset(name for name in lab_members() if crossing(name) is not Crossing.HERE)


class Coordinator:
    """The lab's JobManager behind one door, `call`; Ray hosts it as the detached coordinator actor."""

    def __init__(self, runs_dir: str, executor: Executor | None = None):
        if executor is None:
            from core.lab.executors.ray_actors import RayExecutor

            executor = RayExecutor()  # inside the cluster: its actors are this coordinator's, not a web process's
        self.manager = build_job_manager(runs_dir, executor)

    def call(self, name: str, args: tuple = (), kwargs: dict | None = None) -> tuple[object, BaseException | None]:
        """(answer, None), or (None, the error the manager raised) so that the caller raises it as it is. Every
        answer of the Lab is plain data: it crosses as it is."""
        if name not in CALLS:
            return None, AttributeError(f"the lab's coordinator has no call {name!r}")
        try:
            return getattr(self.manager, name)(*args, **(kwargs or {})), None
        except Exception as exc:
            return None, exc

    def pid(self) -> int:
        """The coordinator's process id (tests end it to check a restart)."""
        return os.getpid()

    def settings(self) -> dict[str, str]:
        """The lab's settings the coordinator and its actors run with (a web process compares them with its own)."""
        return lab_settings()
