"""How a lab server shares its CPUs between training and pages: runs at once, torch threads, thread priority.

Each value comes from one environment variable, read here and nowhere else.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

MAX_CONCURRENT_ENV = "MNIST_LAB_MAX_CONCURRENT_RUNS"
DEFAULT_MAX_CONCURRENT = 1  # runs in the server's own threads share its interpreter: one at a time
# Runs in worker processes: one per core. Niced, they give way to the web server's page scripts, and a class
# drained faster than with threads (docs/hosts.md, "Host it for a class").
WORKER_SLOTS_PER_CORE = 1
TRAIN_NICE_ENV = "MNIST_LAB_TRAIN_NICE"
# Training threads in the server's own process (the threads executor) run at its priority: a niced training
# thread only lost its core to the server's polling threads, and pages loaded no faster (the interpreter lock,
# not the CPU, held them up). A worker process is another matter: niced, it gives way to the web server's
# page scripts whenever both want a core, and the server is idle most of the time (benchmarks.classroom).
DEFAULT_TRAIN_NICE = 0
DEFAULT_WORKER_NICE = 10
# The learning-rate finder runs below the class's training: a student who starts finder after finder (a hostile
# one did, non-stop) then takes a core from the runs only when they leave it idle.
FINDER_NICE_BELOW_TRAINING = 5
# Ray starts its worker processes at nice 15 (its worker_niceness), whatever the lab asks: beside two busy loops the
# coordinator, which answers every page, took 3 minutes to create the actors, and they had not imported torch a
# minute later. The runtime env of the lab's actors asks for the server's own priority, as Ray's job supervisor does
# for itself; a worker then nices its training thread alone, as on local workers.
RAY_AT_SERVER_PRIORITY = {"RAY_worker_niceness": "0"}


def max_concurrent_runs(environ=None, default: int = DEFAULT_MAX_CONCURRENT) -> int:
    """How many runs may train at once: ${MNIST_LAB_MAX_CONCURRENT_RUNS}, else `default`. The one place N is set."""
    text = (environ if environ is not None else os.environ).get(MAX_CONCURRENT_ENV, "").strip()
    if not text:
        return default
    try:
        value = int(text)
        if value < 1:
            raise ValueError
        return value
    except ValueError:
        log.warning("%s=%r is not a whole number of at least 1; using %d", MAX_CONCURRENT_ENV, text, default)
        return default


def torch_threads(max_concurrent: int, cpus: int | None = None) -> int:
    """Torch threads per run: one core is left to the web server, the others are shared by the runs.

    More threads than free cores is far slower, not faster: OpenMP threads spin while they wait for a core.
    """
    cpus = cpus or os.cpu_count() or 1
    return max(1, (cpus - 1) // max(1, max_concurrent))


def lower_thread_priority(environ=None, default: int = DEFAULT_TRAIN_NICE, below_training: int = 0) -> int | None:
    """Give the calling thread a nice value (${MNIST_LAB_TRAIN_NICE}, else `default`, plus `below_training`, at
    most 19); the value set, or None. Below training at 19, Linux's lowest nice, the thread gets the idle class.

    On Linux a thread has its own nice value. An instructor whose server also runs other work can nice the
    training threads (say 10) so that the threads serving pages run first when both want a core.
    """
    text = (environ if environ is not None else os.environ).get(TRAIN_NICE_ENV, "").strip()
    try:
        training = int(text) if text else default
        nice = min(19, training + below_training)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        if below_training and nice <= training:  # no nice value is left below training's
            os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
        return nice
    except (ValueError, AttributeError, OSError):
        return None
