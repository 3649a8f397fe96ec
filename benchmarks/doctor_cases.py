"""The run doctor's thresholds, measured: the numbers each rule looks at, on real runs, and the diagnosis.

    python -m benchmarks.doctor_cases               # the issue's four cases and the setups the thresholds cite
    python -m benchmarks.doctor_cases --cases lecture quick

Also times the report card (measured at the end of every finished run) against the run's training time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from core.engine import doctor
from core.engine.config import TrainConfig
from core.engine.data import load_mnist
from core.engine.events import EpochEvent, StepEvent
from core.engine.presets import BEST, LECTURE, QUICK
from core.engine.report_card import ReportCardEvent
from core.engine.smoothing import ema
from core.engine.trainer import Trainer

CASES = {
    # The four cases (tests/test_doctor.py trains them too).
    "sgd-lr5": TrainConfig(lr=5.0),
    "sgd-lr0.0001-1-epoch": TrainConfig(lr=0.0001, epochs=1),
    "adam-1000-images-30-epochs": TrainConfig(optimizer="adam", lr=0.001, train_subset=1000, epochs=30),
    "lecture": LECTURE,
    # Setups the thresholds' comments cite.
    "sgd-lr1-1-epoch": TrainConfig(lr=1.0, epochs=1),
    "sgd-lr2-1-epoch": TrainConfig(lr=2.0, epochs=1),
    "adam-lr0.1-1-epoch": TrainConfig(optimizer="adam", lr=0.1, epochs=1),
    "sgd-lr0.001-1-epoch": TrainConfig(lr=0.001, epochs=1),
    "lecture-sgd-lr0.1": TrainConfig(lr=0.1),
    "lecture-momentum-lr0.01": TrainConfig(optimizer="momentum", lr=0.01),
    "lecture-adam-lr0.001": TrainConfig(optimizer="adam", lr=0.001),
    "quick": QUICK,
    "best": BEST,
    # Vanishing gradients: deep sigmoid against the same depth with ReLU and tanh, and the lecture's depth.
    "sigmoid-8-layers-1-epoch": TrainConfig(activation="sigmoid", hidden=(64,) * 8, epochs=1),
    "tanh-8-layers-1-epoch": TrainConfig(activation="tanh", hidden=(64,) * 8, epochs=1),
    "relu-8-layers-1-epoch": TrainConfig(hidden=(64,) * 8, epochs=1),
    "relu-8-layers-adam-1-epoch": TrainConfig(hidden=(64,) * 8, epochs=1, optimizer="adam", lr=0.001),
    "sigmoid-lecture-1-epoch": TrainConfig(activation="sigmoid", epochs=1),
}


def run(config: TrainConfig, data) -> dict:
    """Train once and keep what the doctor reads."""
    steps, epochs, cards = [], [], []

    def listen(event) -> None:
        if isinstance(event, StepEvent):
            steps.append(event.loss)
        elif isinstance(event, EpochEvent):
            epochs.append(event.to_dict())
        elif isinstance(event, ReportCardEvent):
            cards.append(event)

    trainer = Trainer(config, data, [listen])
    began = time.perf_counter()
    result = trainer.fit()
    card = cards[0] if cards else None
    card_seconds = None
    if card is not None:  # timed again apart: the run's own measurement is not timed separately
        t = time.perf_counter()
        trainer._report_card(result.model, result.evaluation)
        card_seconds = time.perf_counter() - t
    return dict(result=result, steps=steps, epochs=epochs, card=card, seconds=time.perf_counter() - began,
                card_seconds=card_seconds)


def features(steps: list[float], epochs: list[dict]) -> str:
    """The numbers the rules compare with their thresholds."""
    if len(steps) < doctor.START_STEPS:
        return f"{len(steps)} steps"
    smooth = ema(steps, doctor.LOSS_SMOOTHING)
    start = doctor.start_loss(steps)
    lowest = min(smooth[doctor.START_STEPS:]) if len(smooth) > doctor.START_STEPS else smooth[-1]
    parts = [f"{len(steps)} steps", f"start {start:.3f}", f"peak {max(steps):.2f} ({max(steps) / start:.1f}x start)",
             f"end {smooth[-1]:.3f}", f"fell {(start - smooth[-1]) / start:.0%} of start",
             f"end/lowest {smooth[-1] / lowest:.2f}"]
    if len(epochs) >= 2:
        best = min(epochs, key=lambda e: e["test_loss"])
        parts += [f"last-epoch rise {epochs[-1]['test_accuracy'] - epochs[-2]['test_accuracy']:+.2f} points",
                  f"test loss {epochs[-1]['test_loss'] / best['test_loss']:.2f}x its lowest (epoch {best['epoch']})"]
    layers = epochs[-1].get("layers") if epochs else None
    if layers and layers[0]["grad_norm"] and layers[-1]["grad_norm"]:
        parts.append(f"first/last layer gradient norm {layers[0]['grad_norm'] / layers[-1]['grad_norm']:.2g}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", choices=CASES, default=list(CASES))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the dashboard)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist()
    card_costs = []
    for name in args.cases:
        config = CASES[name]
        out = run(config, data)
        result, card = out["result"], out["card"]
        found = doctor.diagnose(out["steps"], out["epochs"], config, result.status,
                                card.train_accuracy if card else None)
        print(f"{name}: {result.status}, test accuracy "
              f"{result.test_accuracy if result.test_accuracy is not None else float('nan'):.2f} %, "
              f"{out['seconds']:.1f} s")
        print(f"  {features(out['steps'], out['epochs'])}")
        if card is not None:
            card_costs.append(out["card_seconds"])
            print(f"  report card: train accuracy {card.train_accuracy:.2f} %, gap {card.accuracy_gap:+.2f} points, "
                  f"{card.ms_per_image:.3f} ms per image, {card.images_per_second:,.0f} images/s; measuring it took "
                  f"{out['card_seconds'] * 1000:.0f} ms")
        for d in found:
            print(f"  -> {d.code}: {d.message} | try {d.try_settings}")
    if card_costs:
        print(f"report card cost: median {statistics.median(card_costs) * 1000:.0f} ms, "
              f"max {max(card_costs) * 1000:.0f} ms over {len(card_costs)} finished runs")


if __name__ == "__main__":
    main()
