"""One training worker of the local pool: forked, already warm, by the pool's zygote (core.lab.executors.zygote).

Never started by multiprocessing from the server: Streamlit runs a page as __main__, so a spawned child would
re-run the page, and forking a threaded server that has imported torch can deadlock. The zygote forks it from a
single-threaded, warm process instead, with one end of a socket pair the server made: nobody else can connect,
so no port and no auth key are needed. Messages are pickled tuples:
  server -> worker: ("train", TrainConfig, run folder | None), ("pause",), ("resume",), ("stop",),
                    ("set_lr", lr), ("find_lr", TrainConfig), ("quit",)
  worker -> server: ("ready", (pid, host)), ("refused", why), ("started",), ("events", [event, ...]), ("end", packed),
                    ("found", LrFinderResult), ("finder_stopped",) (a finder stopped by "stop")
Its body (core.lab.executors.worker_body.WorkerBody) is the Ray actor's too; it trains one run at a time.
The worker exits when the server's end of the socket closes, and within a second or so when the zygote (and so
the server) dies, even in the middle of a run or a finder (see watch_parent).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

from core.lab.executors.link import MessageLink

# Step events are sent in batches: a few a second is smooth for a chart, and costs the server little.
FLUSH_S = 0.25
PARENT_POLL_S = 0.5  # how often the watchdog looks whether the server is still this worker's parent
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def ask_death_with_parent() -> int:
    """Ask Linux for SIGKILL when this process's parent goes; its parent's pid (exits at once if already gone).

    The parent-death signal follows the parent's thread that started this process, not the whole process, exists
    only on Linux, and is cleared by fork: every process asks for it itself, right after it starts.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(0)
    return parent


def watch_parent() -> None:
    """Exit at once when the process that started this worker is gone, whatever the worker is doing.

    The socket tells only when it is next read, and a worker busy with a finder does not read it: workers of a
    killed server kept 40-99 % of a core for 45 minutes. So the kernel is asked for SIGKILL when the parent goes,
    and a thread checks the parent every PARENT_POLL_S as well (see ask_death_with_parent for why both).
    """
    parent = ask_death_with_parent()

    def watch() -> None:
        while os.getppid() == parent:  # an orphan is re-parented to init or a subreaper
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


def relay(link: MessageLink, run) -> None:
    """Send a run's events in batches, then its end (every run's thread leaves one), and return."""
    while True:
        run.wake.wait(FLUSH_S)
        events, end = run.take()
        if events:
            link.send(("events", events))
        if end is not None:
            link.send(("end", end))
            return


def serve(link: MessageLink, body) -> None:
    """Say ready, then do what the server sends to this warm WorkerBody, one run at a time."""
    link.send(("ready", body.ready()))
    while True:
        command, *args = link.recv()
        if command == "train":
            why_not = body.start(*args)
            if why_not:
                link.send(("refused", why_not))
                continue
            link.send(("started",))
            threading.Thread(target=relay, args=(link, body.run), daemon=True, name="relay").start()
        elif command == "find_lr":  # only the pool's helper workers are asked: they train no runs
            threading.Thread(target=find, args=(link, body, *args), daemon=True, name="finder").start()
        elif command == "quit":
            return
        elif command == "stop" and body.run is None:
            body.stop_finder()
        else:
            body.control(command, *args)


def find(link: MessageLink, body, config) -> None:
    """Run the learning-rate finder in this thread and send its answer: found, refused (why) or finder_stopped."""
    found, why_not = body.find_lr(config)
    answer = ("found", found) if found is not None else ("refused", why_not) if why_not else ("finder_stopped",)
    with contextlib.suppress(OSError):
        link.send(answer)
