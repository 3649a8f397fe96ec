"""Where runs train: worker processes on this machine (local, the default), Ray actors (ray), or threads (tests).

Chosen by one setting, MNIST_LAB_EXECUTOR; Ray's own RAY_ADDRESS joins an existing cluster. Server side: base,
pool, local, ray_actors, fallback, threads. Worker side: worker (the local worker process) and worker_body (what
every worker does, in a process or a Ray actor).
"""

from __future__ import annotations

import logging
import os

from core.engine.data import MNISTTensors
from core.lab.cpu_share import WORKER_SLOTS_PER_CORE, max_concurrent_runs
from core.lab.executors.base import Executor

log = logging.getLogger(__name__)

EXECUTOR_ENV = "MNIST_LAB_EXECUTOR"
EXECUTORS = ("local", "ray", "threads")
DEFAULT_EXECUTOR = "local"


def executor_kind(environ=None) -> str:
    """${MNIST_LAB_EXECUTOR} when it names an executor, else local (an unknown name is logged)."""
    text = (environ if environ is not None else os.environ).get(EXECUTOR_ENV, "").strip().lower()
    if text and text not in EXECUTORS:
        log.warning("%s=%r is not one of %s; using %s", EXECUTOR_ENV, text, ", ".join(EXECUTORS), DEFAULT_EXECUTOR)
    return text if text in EXECUTORS else DEFAULT_EXECUTOR


def make_executor(data: MNISTTensors | None = None, slots: int | None = None, environ=None) -> Executor:
    """The executor the environment asks for; `slots` (else the environment's limit) sizes the local pool."""
    from core.lab.executors.local import LocalExecutor

    kind = executor_kind(environ)
    if kind == "threads":
        from core.lab.executors.threads import ThreadExecutor

        return ThreadExecutor(data, slots or max_concurrent_runs(environ))
    slots = slots or max_concurrent_runs(environ, default=WORKER_SLOTS_PER_CORE * (os.cpu_count() or 1))
    if kind == "ray":
        from core.lab.executors.fallback import FallbackExecutor
        from core.lab.executors.ray_actors import RayExecutor

        return FallbackExecutor(RayExecutor(data), fallback=lambda: LocalExecutor(data, slots))
    return LocalExecutor(data, slots)
