"""What one web call to the lab's coordinator costs a web process, against the same call in the process itself.

With MNIST_LAB_EXECUTOR=ray every web process asks the cluster's coordinator (core.lab.coordinator) for what its
pages show and do: a polling tab reads its run's snapshot and the load line, a new visitor asks for an owner id,
a try at the instructor token is counted there. This starts a Ray head (token authentication, one CPU) in a
folder of its own, connects a LabClient as a web process does, and times each call (wall time and this process's
CPU), then the same calls on a Coordinator inside this process (threads, no Ray):

  snapshot      a polling tab's read of its run (the run trains meanwhile)
  load          the load line (capacity, training, waiting); LabClient keeps it half a second, so asked fresh here
  new owner id  a first visit without a cookie (a new address each time, so every call makes an id)
  token try     one wrong instructor token (a new address each time, so none waits)

Run: python -m benchmarks.coordinator_calls [--calls 200]. Prints median and p95 in ms, and CPU per call.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.classroom import percentile  # noqa: E402
from core.engine.config import TrainConfig  # noqa: E402

LONG = TrainConfig(epochs=5, batch_size=1)  # trains all through the timing; stopped at the end


def timed(call, calls: int) -> tuple[float, float, float]:
    """(median ms, p95 ms, this process's CPU ms per call) of `call(i)` for i in range(calls)."""
    walls = []
    cpu_start = time.process_time()
    for i in range(calls):
        start = time.perf_counter()
        call(i)
        walls.append((time.perf_counter() - start) * 1000)
    return statistics.median(walls), percentile(walls, 0.95), (time.process_time() - cpu_start) * 1000 / calls


def measure(lab, load, calls: int) -> dict[str, tuple[float, float, float]]:
    """Each call's timing on `lab` (a LabClient, or a Coordinator asked through its door); `load()` its load line."""
    job = lab.submit(LONG, "bench")
    deadline = time.monotonic() + 300
    while not lab.get(job.id).step:  # training: its snapshot has a curve to send
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark's run never started")
        time.sleep(0.2)
    try:
        return {
            "snapshot": timed(lambda i: lab.get(job.id), calls),
            "load": timed(lambda i: load(), calls),
            "new owner id": timed(lambda i: lab.issue_owner_id(f"10.{i // 250}.{i % 250}.1"), calls),
            "token try": timed(lambda i: lab.try_token(f"10.{i // 250}.{i % 250}.2", False), calls),
        }
    finally:
        lab.stop(job.id, "bench")


class InProcess:
    """A Coordinator in this process (threads), asked through its own door as LabClient asks it: the single web
    process's case."""

    def __init__(self, runs_dir: str):
        from core.engine.data import load_mnist
        from core.lab.coordinator import Coordinator
        from core.lab.executors.threads import ThreadExecutor

        self.coordinator = Coordinator(runs_dir, ThreadExecutor(load_mnist(), 1))

    def __getattr__(self, name):
        def ask(*args, **kwargs):
            answer, error = self.coordinator.call(name, args, kwargs)
            if error is not None:
                raise error
            return answer

        return ask


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls of each kind (default 200)")
    args = parser.parse_args(argv)
    logging.getLogger("core.lab.instructor_token").setLevel(logging.ERROR)  # each wrong token is logged: not timed here

    from tests.browser.lab_server import start_ray_head, stop_ray_head

    results = {}
    with tempfile.TemporaryDirectory(prefix="coordinator-calls-") as folder:
        head = start_ray_head(Path(folder) / "ray.log", num_cpus=1)
        os.environ.update(head.env)
        from core.lab.lab_client import LabClient

        client = LabClient(str(Path(folder) / "runs-ray"))
        try:
            results["through the coordinator (Ray)"] = measure(client, lambda: client.call("load"), args.calls)
        finally:
            client.shutdown()
            stop_ray_head(head)
        here = InProcess(str(Path(folder) / "runs-here"))
        try:
            results["in this process (threads)"] = measure(here, here.load, args.calls)
        finally:
            here.coordinator.manager.shutdown()

    print(f"{args.calls} calls of each kind; wall ms median / p95, and this process's CPU ms per call")
    for where, rows in results.items():
        print(f"\n{where}")
        for name, (median, p95, cpu) in rows.items():
            print(f"  {name:14s} {median:7.3f} / {p95:7.3f} ms   CPU {cpu:6.3f} ms")


if __name__ == "__main__":
    main()
