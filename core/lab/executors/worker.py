"""One training worker of the local pool: `python -m core.lab.executors.worker --fd N --threads T`.

Started by the web server (core.lab.executors.local) as a module of its own, never by multiprocessing: Streamlit
runs a page as __main__, so a spawned child would re-run the page, and forking a threaded server that has
imported torch can deadlock. The server hands over one end of a socket pair (fd N): nobody else can connect,
so no port and no auth key are needed. Messages are pickled tuples:
  server -> worker: ("data", MNISTTensors | None), ("train", TrainConfig, run folder | None), ("pause",),
                    ("resume",), ("stop",), ("set_lr", lr), ("find_lr", TrainConfig), ("quit",)
  worker -> server: ("ready", pid), ("refused", why), ("started",), ("events", [event, ...]), ("end", packed),
                    ("found", LrFinderResult), ("finder_stopped",) (a finder stopped by "stop")
The worker trains one run at a time. It exits when the server's end of the socket closes, and within a second or
so when the server process dies, even in the middle of a warm-up or a finder (see watch_parent).
"""

from __future__ import annotations

import argparse
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


def watch_parent() -> None:
    """Exit at once when the server that started this worker is gone, whatever the worker is doing.

    The socket tells only when it is next read, and a worker busy with a finder or its warm-up does not read it:
    workers of a killed server kept 40-99 % of a core for 45 minutes. So the kernel is asked for SIGKILL when the
    server's spawning thread ends (Linux), and a thread checks the parent every PARENT_POLL_S as well, because
    the parent-death signal follows that one thread, not the process, and exists only on Linux.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent:  # an orphan is re-parented to init or a subreaper
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    if os.getppid() != parent:  # it died before the signal was asked for
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


def serve(link: MessageLink, threads: int) -> None:
    """Warm up (torch, Accelerate, MNIST), say ready, then train what the server sends, one run at a time."""
    from core.engine import data as mnist_data
    from core.engine.data import MNISTUnavailable
    from core.lab.executors.base import RunInWorker, warm_up_training
    kind, data = link.recv()
    assert kind == "data"
    import core.engine.trainer  # noqa: F401  (Accelerate takes seconds to import: before "ready", not per run)

    unavailable = None
    if data is None:
        try:
            data = mnist_data.load_mnist()
        except MNISTUnavailable as exc:  # every run is refused with the advice, the worker stays up
            unavailable = str(exc)
    warm_up_training()
    link.send(("ready", os.getpid()))
    run = None
    finder_stop = threading.Event()
    while True:
        message = link.recv()
        command = message[0]
        if command == "train":
            if unavailable:
                link.send(("refused", unavailable))
                continue
            run = RunInWorker(message[1], data, threads, message[2])
            link.send(("started",))
            run.start()
            threading.Thread(target=relay, args=(link, run), daemon=True, name="relay").start()
        elif command == "find_lr":  # only the pool's helper workers are asked: they train no runs
            if unavailable:
                link.send(("refused", unavailable))
                continue
            finder_stop = threading.Event()  # a fresh one: a late "stop" for the last finder stops nothing now
            threading.Thread(target=find, args=(link, message[1], data, threads, finder_stop), daemon=True,
                             name="finder").start()
        elif command == "quit":
            return
        elif command == "stop" and run is None:
            finder_stop.set()
        elif run is not None:
            control(run.trainer, command, message[1:])


def find(link: MessageLink, config, data, threads: int, stop: threading.Event) -> None:
    """Run the learning-rate finder in this thread, niced like training, and send its answer; stoppable."""
    import torch

    from core.engine.lr_finder import FinderStopped, find_lr
    from core.lab.tuning import DEFAULT_WORKER_NICE, lower_thread_priority

    lower_thread_priority(default=DEFAULT_WORKER_NICE)
    torch.set_num_threads(threads)
    try:
        answer = ("found", find_lr(config, data, stop=stop))
    except FinderStopped:
        answer = ("finder_stopped",)
    except Exception as exc:  # the student is told; the helper stays up for the next finder
        answer = ("refused", f"the learning-rate finder failed: {type(exc).__name__}: {exc}")
    with contextlib.suppress(OSError):
        link.send(answer)


def control(trainer, command: str, args: tuple) -> None:
    """Apply one of the server's controls to the run's Trainer."""
    if command == "set_lr":
        with contextlib.suppress(ValueError):  # the server checked the rate before sending it
            trainer.set_lr(*args)
    elif command in ("pause", "resume", "stop"):
        getattr(trainer, command)()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="A training worker of MNIST Lab's local pool (started by the lab).")
    parser.add_argument("--fd", type=int, required=True, help="the file descriptor of the worker's socket end")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for training")
    args = parser.parse_args(argv)
    watch_parent()  # before the seconds of importing torch: a server gone meanwhile leaves nothing behind
    import torch

    torch.set_num_threads(args.threads)
    link = MessageLink(args.fd)
    with contextlib.suppress(EOFError, OSError):  # the server is gone: so is the reason to train
        serve(link, args.threads)
    os._exit(0)  # at once, even with a run's thread inside torch


if __name__ == "__main__":
    main()
