"""What watching the gradients costs: step time of our Trainer with and without gradient flow (and TensorBoard).

Same process, same settings (the lecture's network, SGD lr 0.01, batch 64, one epoch on all 60,000 images),
the variants taking turns so that a busy machine slows them alike; prints the median training time per step
of each variant and the ratios. Run: python -m benchmarks.gradient_flow [--repeats 5] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from core.engine.config import TrainConfig
from core.engine.data import load_mnist
from core.engine.runs import RunStore
from core.engine.trainer import Trainer


def seconds_per_step(config: TrainConfig, data, gradient_flow: bool, runs: Path) -> float:
    """Training time of one epoch (evaluation not counted) over its steps."""
    recorder = RunStore(runs).create(config) if config.log_with != "none" else None
    result = Trainer(config, data, gradient_flow=gradient_flow,
                     run_folder=recorder.path if recorder else None).fit()
    return result.epochs[0].seconds / result.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the lab's runs use 1 or 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist()
    config = TrainConfig(epochs=1, batch_size=args.batch_size, device="cpu")
    variants = {
        "plain": (config, False),
        "gradient flow": (config, True),
        "gradient flow + TensorBoard": (replace(config, log_with="tensorboard"), True),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as runs:
        seconds_per_step(config, data, False, Path(runs))  # warm-up: first-call costs are nobody's
        for _ in range(args.repeats):
            for name, (cfg, flow) in variants.items():
                times[name].append(seconds_per_step(cfg, data, flow, Path(runs)))
    base = statistics.median(times["plain"])
    print(f"batch {args.batch_size}, {args.threads} torch thread(s), {args.repeats} epochs each, median per step:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<28} {median * 1e3:7.3f} ms/step  ({median / base:.3f} x plain, "
              f"{100 * (median / base - 1):+.1f} %)")


if __name__ == "__main__":
    main()
