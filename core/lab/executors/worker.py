"""One training worker of the local pool: `python -m core.lab.executors.worker --fd N --threads T`.

Started by the web server (core.lab.executors.local) as a module of its own, never by multiprocessing: Streamlit
runs a page as __main__, so a spawned child would re-run the page, and forking a threaded server that has
imported torch can deadlock. The server hands over one end of a socket pair (fd N): nobody else can connect,
so no port and no auth key are needed. Messages are pickled tuples:
  server -> worker: ("data", MNISTTensors | None), ("train", TrainConfig, run folder | None), ("pause",),
                    ("resume",), ("stop",), ("set_lr", lr), ("find_lr", TrainConfig), ("quit",)
  worker -> server: ("ready", pid), ("refused", why), ("started",), ("events", [event, ...]), ("end", packed),
                    ("found", LrFinderResult)
The worker trains one run at a time and exits when the server's end of the socket closes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading

from core.lab.executors.link import MessageLink

# Step events are sent in batches: a few a second is smooth for a chart, and costs the server little.
FLUSH_S = 0.25


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
        elif command == "find_lr":  # only the pool's helper worker is asked: it trains no runs
            if unavailable:
                link.send(("refused", unavailable))
                continue
            from core.engine.lr_finder import find_lr

            link.send(("found", find_lr(message[1], data)))
        elif command == "quit":
            return
        elif run is not None:
            control(run.trainer, command, message[1:])


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
    import torch

    torch.set_num_threads(args.threads)
    link = MessageLink(args.fd)
    with contextlib.suppress(EOFError, OSError):  # the server is gone: so is the reason to train
        serve(link, args.threads)
    os._exit(0)  # at once, even with a run's thread inside torch


if __name__ == "__main__":
    main()
