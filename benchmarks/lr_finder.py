"""The learning-rate finder's point, measured: the lecture's exact setup with the suggested rate, per seed.

    python -m benchmarks.lr_finder                  # seeds 0-2, 1 torch thread (as the dashboard); ~30 s here

The lecture's setup: SGD, batches of 64, 784 → 128 → 64 → 10, pixels scaled to 0..1, 3 epochs. Its own
learning rate, 0.01, reaches about 90 %; the lecture's goal is above 95 %. For each seed this prints the
finder's time and pick (the finder itself tries seeds s, s+1, s+2), then the test accuracy of 3 epochs
trained with that pick and that seed, beside the lecture's own rate.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import torch

from core.engine.data import load_mnist
from core.engine.lr_finder import find_lr
from core.engine.presets import LECTURE
from core.engine.trainer import Trainer

GOAL = 95.0  # the lecture's goal, in percent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist()
    rows = []
    for seed in range(args.seeds):
        config = replace(LECTURE, seed=seed)
        found = find_lr(config, data)
        picked = Trainer(replace(config, lr=found.suggested_lr), data).fit().test_accuracy
        lecture = Trainer(config, data).fit().test_accuracy
        rows.append({"seed": seed, "finder_seconds": round(found.seconds, 2), "suggested_lr": found.suggested_lr,
                     "picks": [round(p, 4) for p in found.picks], "test_accuracy": round(picked, 2),
                     "lecture_lr_test_accuracy": round(lecture, 2)})
        print(f"seed {seed}: finder {found.seconds:.2f} s, suggests {found.suggested_lr:g} (seeds alone: "
              f"{', '.join(f'{p:.2g}' for p in found.picks)}); 3 epochs with it: {picked:.2f} % test accuracy "
              f"({'above' if picked > GOAL else 'BELOW'} the lecture's goal of {GOAL:g} %); "
              f"with the lecture's 0.01: {lecture:.2f} %", flush=True)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
