"""The warm parent of the local pool's workers: `python -m core.lab.executors.zygote --fd N`.

Started once by the server (core.lab.executors.local). It imports torch and Accelerate, loads MNIST and trains a
few untimed steps once, then forks every worker the server asks for: a worker costs a fork (milliseconds), not an
import (seconds: three processes importing torch at once took 14-18 s on the 2-core lab machine), and the
workers share MNIST's memory pages. Forking is safe because the zygote never starts a thread and runs torch
with one thread only (GNU OpenMP's thread pool does not survive a fork); each worker sets its own threads.

Its socket (fd N), server -> zygote: a pickled ("data", MNISTTensors | None) message, then per worker 5 bytes
("F" and its torch threads) carrying the worker's end of a fresh socket pair (SCM_RIGHTS). Zygote -> server,
pickled: ("stage", what it begins now, after "importing torch") during the warm-up, then ("warm", threads of
the zygote when it forks) or ("warm_up_failed", why). It exits when the server closes the socket or dies; its workers
when it dies.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import select
import signal
import socket
import struct

from core.lab.executors.link import MessageLink
from core.lab.executors.worker import PARENT_POLL_S, ask_death_with_parent, serve, watch_parent

FORK_COMMAND = struct.Struct("!cI")  # b"F", the new worker's torch threads


def threads_now() -> int:
    """How many threads this process has (Linux), 1 elsewhere."""
    with contextlib.suppress(OSError):
        return len(os.listdir("/proc/self/task"))
    return 1


def receive_fork(control: socket.socket) -> tuple[int, int] | None:
    """The next fork command: (socket fd for the new worker, its torch threads); None once the server closed."""
    message, fds, _flags, _address = socket.recv_fds(control, FORK_COMMAND.size, 1)
    if not message:
        return None
    while len(message) < FORK_COMMAND.size:  # a stream may split the 5 bytes; the fd comes with the first
        more = control.recv(FORK_COMMAND.size - len(message))
        if not more:
            return None
        message += more
    _kind, threads = FORK_COMMAND.unpack(message)
    return fds[0], threads


def become_worker(fd: int, threads: int, body) -> None:
    """In the forked child: a worker of its own, with its own randomness and threads; never returns."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the zygote's auto-reaping is not the worker's
    watch_parent()  # the zygote is its parent: when the zygote goes (with the server), so does the worker
    import numpy as np
    import torch

    # A fork copies the generators: two workers must not draw the same dropout masks or finder batches.
    torch.seed()
    random.seed()
    np.random.seed()
    body.use_threads(threads)
    link = MessageLink(fd)
    with contextlib.suppress(EOFError, OSError):  # the server is gone: so is the reason to train
        serve(link, body)
    os._exit(0)  # at once, even with a run's thread inside torch


def fork_workers(control: socket.socket, body, parent: int) -> None:
    """Fork one worker per command until the server closes the socket or dies."""
    while True:
        readable, _, _ = select.select([control], [], [], PARENT_POLL_S)
        if os.getppid() != parent:  # the parent-death signal covers Linux; this covers the rest
            os._exit(0)
        if not readable:
            continue
        command = receive_fork(control)
        if command is None:
            os._exit(0)
        fd, threads = command
        if os.fork() == 0:
            control.close()
            become_worker(fd, threads, body)
        os.close(fd)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="The warm parent of MNIST Lab's local workers (started by the lab).")
    parser.add_argument("--fd", type=int, required=True, help="the file descriptor of the zygote's socket end")
    args = parser.parse_args(argv)
    parent = ask_death_with_parent()  # before the seconds of importing torch: no watchdog thread may exist here
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # its workers are reaped by the kernel when they exit
    control = socket.socket(fileno=args.fd)
    link = MessageLink(os.dup(args.fd))
    try:
        import torch  # imported already, with the executors' package: the server counts it from the start

        torch.set_num_threads(1)  # before any op: no OpenMP thread pool may exist when it forks
        link.send(("stage", "importing Accelerate"))
        from core.lab.executors.worker_body import WorkerBody

        _kind, data = link.recv()
        body = WorkerBody(data, 1, on_stage=lambda stage: link.send(("stage", stage)))
        link.send(("warm", threads_now()))
    except (EOFError, OSError):  # the server is gone
        os._exit(0)
    except Exception as exc:  # said to the server, which tells the students
        with contextlib.suppress(OSError):
            link.send(("warm_up_failed", f"{type(exc).__name__}: {exc}"))
        os._exit(1)
    link.close()
    fork_workers(control, body, parent)


if __name__ == "__main__":
    main()
