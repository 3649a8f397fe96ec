"""The learning-rate range test (Smith, 2017; fastai's lr_find, Lightning's LearningRateFinder), with its traps.

From a fresh network, the learning rate grows exponentially at every step while the loss is recorded and
smoothed; the test stops when the loss explodes. The suggestion is a tenth of the rate where the smoothed loss
was lowest: a rate that still learns fast, ten times below where the loss blows up. Users of Lightning saw picks fooled
by the first noisy steps and by noisy losses: the first steps are never picked, the loss is smoothed, and the
test runs with three seeds, whose picks must agree. It runs on the CPU, in full precision, whatever the run's
device: a few hundred steps of this network take a second or two.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors, subset_indices, to_inputs
from core.engine.model import build_model
from core.engine.optimizers import make_optimizer
from core.engine.smoothing import ema

START_LR, END_LR = 1e-5, 10.0  # six decades: below any useful rate for SGD or Adam, past where all explode
STEPS = 240  # per seed: 40 steps a decade, a curve fine enough to place a pick within a factor of 1.2
LOSS_SMOOTHING = 0.95  # fastai smooths with 0.98 over 100 steps; this many steps need less memory of the past
SKIP_START = 24  # the first tenth (a decade) is never picked: a few lucky batches can make a false minimum there
EXPLODED = 4.0  # stop once the smoothed loss passes 4x its lowest point, as fastai does
PICK_FRACTION = 0.1  # the suggestion: a tenth of the rate at the lowest smoothed loss (fastai's "minimum/10")
SEEDS = 3
STABLE_SPREAD = 3.0  # the seeds' picks agree when the largest is within 3x the smallest (half a decade)


class FinderStopped(Exception):
    """The range test was stopped between two steps (its student pressed Stop, or the server is closing)."""


@dataclass(frozen=True)
class LrFinderResult:
    """What the range test found: the suggested rate, why, the curve [[lr, loss], ...] and what it cost."""

    suggested_lr: float
    reason: str
    points: list[list[float]]  # the three seeds' smoothed loss, averaged, at each learning rate tried
    seconds: float
    picks: tuple[float, ...]  # each seed's own pick
    stable: bool  # the picks agree within STABLE_SPREAD

    def to_dict(self) -> dict:
        """The command line's JSON: suggested_lr, reason, points, seconds."""
        return {"suggested_lr": self.suggested_lr, "reason": self.reason, "points": self.points,
                "seconds": round(self.seconds, 3)}


def find_lr(config: TrainConfig, data: MNISTTensors, seeds: int = SEEDS, steps: int = STEPS,
            stop: threading.Event | None = None) -> LrFinderResult:
    """Run the range test for this config's network, optimizer, batch size and data; it trains nothing kept.

    Raises FinderStopped, between two steps, once `stop` is set."""

    began = time.perf_counter()
    curves = [range_test(config, data, config.seed + i, steps, stop) for i in range(seeds)]
    rates = learning_rates(steps)
    picks = tuple(pick(rates, curve) for curve in curves)
    stable = max(picks) / min(picks) <= STABLE_SPREAD
    shortest = min(len(curve) for curve in curves)
    mean = [statistics.fmean(curve[i] for curve in curves) for i in range(shortest)]
    # Agreeing seeds: the pick of their average curve. Disagreeing ones: the lowest, the safe side of a noisy test.
    suggested = round_rate(pick(rates, mean) if stable else min(picks))
    points = [[rates[i], mean[i]] for i in range(shortest) if math.isfinite(mean[i])]  # JSON has no infinity
    return LrFinderResult(suggested, reason_text(rates, mean, suggested, picks, stable), points,
                          time.perf_counter() - began, picks, stable)


def learning_rates(steps: int) -> list[float]:
    """START_LR to END_LR, growing by the same factor at every step."""
    return [START_LR * (END_LR / START_LR) ** (i / (steps - 1)) for i in range(steps)]


def range_test(config: TrainConfig, data: MNISTTensors, seed: int, steps: int = STEPS,
               stop: threading.Event | None = None) -> list[float]:
    """The smoothed loss at each rate of learning_rates(steps), until it explodes (FinderStopped once `stop` is set)."""
    model = build_model(config, seed=seed)
    optimizer = make_optimizer(replace(config, lr=START_LR), model.parameters())
    images, labels = data.train_images, data.train_labels
    keep = subset_indices(len(labels), config.train_subset, config.seed)
    if keep is not None:
        images, labels = images[keep], labels[keep]
    generator = torch.Generator().manual_seed(seed)
    order = torch.cat([torch.randperm(len(labels), generator=generator)
                       for _ in range(-(-steps * config.batch_size // len(labels)))])
    losses: list[float] = []
    smooth: list[float] = []
    for i, lr in enumerate(learning_rates(steps)):
        if stop is not None and stop.is_set():
            raise FinderStopped("the learning-rate finder was stopped")
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = order[i * config.batch_size : (i + 1) * config.batch_size]
        loss = F.cross_entropy(model(to_inputs(images[batch], config.normalize)), labels[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        smooth = ema(losses, LOSS_SMOOTHING)  # a few hundred values: recomputing costs microseconds
        if not math.isfinite(smooth[-1]) or (i > SKIP_START and smooth[-1] > EXPLODED * min(smooth)):
            break
    return [value if math.isfinite(value) else math.inf for value in smooth]


def pick(rates: list[float], smooth: list[float]) -> float:
    """A tenth of the rate at the lowest smoothed loss, never looking at the first SKIP_START steps."""
    candidates = range(min(SKIP_START, len(smooth) - 1), len(smooth))
    lowest = min(candidates, key=lambda i: smooth[i])
    return rates[lowest] * PICK_FRACTION


def round_rate(lr: float) -> float:
    """Two significant digits: 0.12, 0.0034."""
    return float(f"{lr:.2g}")


def reason_text(rates: list[float], mean: list[float], suggested: float, picks: tuple[float, ...],
                stable: bool) -> str:
    """Why this rate, in one or two sentences."""
    lowest = min(range(min(SKIP_START, len(mean) - 1), len(mean)), key=lambda i: mean[i])
    shown = ", ".join(f"{p:.2g}" for p in picks)
    if not stable:
        return (f"Alone, the {len(picks)} seeds picked {shown}: they disagree by more than {STABLE_SPREAD:g} times, so "
                f"the lowest, {suggested:g}, is suggested to be safe (the loss is noisy with these settings).")
    return (f"Averaged over {len(picks)} seeds, the smoothed loss was lowest ({mean[lowest]:.2f}) at learning rate "
            f"{rates[lowest]:.2g} and blew up past it; a tenth of that, {suggested:g}, still learns fast and keeps "
            f"a margin of ten below the edge. Each seed alone picked {shown}: they agree.")
