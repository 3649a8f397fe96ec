"""The "CNN" preset against the "Best" MLP: from one run of each, the time to 99 % and to 98 % test accuracy.

    python -m benchmarks.cnn_preset                  # seed 0, 1 torch thread (as the lab trains a run); minutes
    python -m benchmarks.cnn_preset --threads 2      # both cores

The target: the CNN preset reaches at least 99.0 % test accuracy on the 2-core lab machine. The Trainer tests
after each epoch, so a time to an accuracy is the training time (evaluations left out) up to the end of the first
epoch whose test accuracy reaches it; the wall time includes the tests.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace

import torch

from core.engine.config import TrainConfig
from core.engine.data import load_mnist
from core.engine.events import EpochEvent
from core.engine.presets import BEST, CNN
from core.engine.trainer import Trainer


@dataclass(frozen=True)
class Reached:
    """One run: its epochs' (test accuracy, training seconds so far), its wall time, and the target it aims at."""

    name: str
    target: float
    epochs: list[tuple[float, float]]
    wall_seconds: float

    @property
    def reached(self) -> tuple[int, float] | None:
        """(epoch, training seconds) when the test accuracy first reached the target; None if it never did."""
        return next(((i, seconds) for i, (accuracy, seconds) in enumerate(self.epochs, 1)
                     if accuracy >= self.target), None)

    def line(self) -> str:
        final = self.epochs[-1][0]
        if self.reached is None:
            return (f"{self.name}: never reached {self.target:g} % ({final:.2f} % after {len(self.epochs)} epochs, "
                    f"{self.epochs[-1][1]:.1f} s of training)")
        epoch, seconds = self.reached
        return (f"{self.name}: {self.target:g} % after epoch {epoch}, {seconds:.1f} s of training "
                f"({self.epochs[epoch - 1][0]:.2f} % then, {final:.2f} % at the end, {self.wall_seconds:.1f} s wall)")


def train(name: str, config: TrainConfig, target: float, data) -> Reached:
    epochs, start = [], time.perf_counter()

    def on_event(event) -> None:
        if isinstance(event, EpochEvent):
            epochs.append((event.test_accuracy, (epochs[-1][1] if epochs else 0.0) + event.seconds))

    Trainer(config, data, callbacks=[on_event]).fit()
    return Reached(name, target, epochs, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="the seed of both runs (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the lab trains a run)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist()
    cnn = train("CNN preset", replace(CNN, seed=args.seed, device="cpu"), 99.0, data)
    print(cnn.line(), flush=True)
    best = train("Best preset (MLP)", replace(BEST, seed=args.seed, device="cpu"), 98.0, data)
    print(best.line(), flush=True)
    if cnn.reached and best.reached:
        print(f"The CNN's time to 99 % is {cnn.reached[1] / best.reached[1]:.1f} times the MLP's time to 98 % "
              f"({args.threads} torch thread{'s' * (args.threads != 1)}, seed {args.seed})")
    if args.json:
        print(json.dumps({"threads": args.threads, "seed": args.seed, **{
            key: {"target": run.target, "reached_epoch": run.reached and run.reached[0],
                  "train_seconds_to_target": run.reached and round(run.reached[1], 2),
                  "test_accuracy": [round(a, 2) for a, _ in run.epochs], "wall_seconds": round(run.wall_seconds, 2)}
            for key, run in (("cnn", cnn), ("best", best))}}))


if __name__ == "__main__":
    main()
