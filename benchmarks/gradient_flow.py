"""What watching the gradients costs: step time of our Trainer with and without gradient flow (and TensorBoard).

Same process, same settings (the lecture's network, SGD lr 0.01, batch 64, one epoch on --images training
images). Each step is timed in CPU time of this process (time.process_time, one torch thread), which other
processes on a shared machine disturb far less than wall time. The variants take turns in a new random order
each round; each round's time is compared with the plain run of the same round, and the median ratio is
printed with each variant's median time per step. Run: python -m benchmarks.gradient_flow [--rounds 15]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from core.engine.config import N_TRAIN, TrainConfig
from core.engine.data import IndexBatches, load_mnist
from core.engine.events import StepEvent
from core.engine.gradient_flow import GradientFlow
from core.engine.run_store import RunStore
from core.engine.trainer import Trainer


def seconds_per_step(config: TrainConfig, data, gradient_flow: bool, runs: Path) -> float:
    """CPU seconds per step between the first and the last step of one epoch (evaluation not counted)."""
    recorder = RunStore(runs).create(config) if config.log_with != "none" else None
    marks: list[float] = []

    def clock(event) -> None:
        if isinstance(event, StepEvent):
            marks.append(time.process_time())

    Trainer(config, data, callbacks=[clock], gradient_flow=gradient_flow,
            run_folder=recorder.path if recorder else None).fit()
    return (marks[-1] - marks[0]) / (len(marks) - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--images", type=int, default=19_200, help="training images per epoch (300 steps)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the lab's runs use 1 or 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist()
    config = TrainConfig(epochs=1, batch_size=args.batch_size, train_subset=args.images, device="cpu")
    variants = {
        "plain": (config, False),
        "gradient flow": (config, True),
        "gradient flow + TensorBoard": (replace(config, log_with="tensorboard"), True),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as runs:
        seconds_per_step(config, data, False, Path(runs))  # warm-up: first-call costs are nobody's
        order = list(variants)
        for _ in range(args.rounds):
            random.shuffle(order)
            for name in order:
                cfg, flow = variants[name]
                times[name].append(seconds_per_step(cfg, data, flow, Path(runs)))
    print(f"batch {args.batch_size}, {args.images:,} images, {args.threads} torch thread(s), {args.rounds} rounds:")
    for name, values in times.items():
        ratio = statistics.median(v / p for v, p in zip(values, times["plain"], strict=True))
        best = min(values) / min(times["plain"])
        print(f"  {name:<28} median {statistics.median(values) * 1e3:6.3f} ms/step, best {min(values) * 1e3:6.3f}; "
              f"to plain: median ratio {ratio:.3f}, best against best {best:.3f}")
    inside, steps = time_inside_gradient_flow(config, data)
    print(f"inside GradientFlow's own calls and hooks (one more epoch, timed directly): {inside * 1e3:.3f} ms of "
          f"{steps * 1e3:.3f} ms per step ({100 * inside / steps:.1f} %)")


def time_inside_gradient_flow(config: TrainConfig, data) -> tuple[float, float]:
    """CPU seconds per step spent in GradientFlow's methods and ReLU hooks, and per step in all."""
    spent = [0.0]

    def timed(method):
        def wrapper(*args, **kwargs):
            began = time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                spent[0] += time.process_time() - began
        return wrapper

    patched = {name: getattr(GradientFlow, name) for name in ("before_forward", "before_update", "after_update")}
    original_watch = GradientFlow._watch
    try:
        for name, method in patched.items():
            setattr(GradientFlow, name, timed(method))
        GradientFlow._watch = lambda self, i: timed(original_watch(self, i))
        per_step = seconds_per_step(config, data, True, Path(tempfile.gettempdir()))
        steps = len(IndexBatches(config.train_subset or N_TRAIN, config.batch_size, shuffle=False))
    finally:
        for name, method in patched.items():
            setattr(GradientFlow, name, method)
        GradientFlow._watch = original_watch
    return spent[0] / steps, per_step


if __name__ == "__main__":
    main()
