"""Loss curves for drawing: smoothed, and downsampled so a long run's chart stays light.

Every point of a downsampled line is of one kind: the mean of the same number of consecutive steps (N, from
1, 2, 5, 10, 20, 50, ...), and the chart says N. A bucket not yet full (the live end) is left out rather than
drawn as a mean of fewer steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.engine.smoothing import SMOOTHING, ema

MAX_POINTS = 400  # per line: enough for a smooth curve, little enough for a browser redrawn every second


@dataclass(frozen=True)
class Curve:
    """A loss curve ready to draw: step numbers (1-based), raw losses and smoothed losses, same length.

    `every`: each raw point is the mean of this many consecutive steps (1: each step as it is).
    """

    steps: tuple[float, ...]
    raw: tuple[float, ...]
    smooth: tuple[float, ...]
    every: int = 1

    def __len__(self) -> int:
        return len(self.steps)


def finite_or_none(values: Iterable[float]) -> list[float | None]:
    """The values with None for nan and ±inf: JSON has neither, and plotly leaves a gap for None."""
    return [v if math.isfinite(v) else None for v in values]


def bucket_size(n: int, max_points: int = MAX_POINTS) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... whose full buckets of n values make at most max_points points."""
    size, ladder = 1, (2, 2.5, 2)  # 1 → 2 → 5 → 10 → 20 → 50 ...
    i = 0
    while n // size > max_points:
        size = round(size * ladder[i % 3])
        i += 1
    return size


def downsample(xs: Sequence[float], ys: Sequence[float], max_points: int = MAX_POINTS) -> tuple[list, list, int]:
    """(xs, ys, N): ys as means of full buckets of N consecutive values (non-finite ones ignored; a bucket of
    none is nan), each at its bucket's middle x; at most max_points points. N is 1 when they already fit."""
    n = len(xs)
    size = bucket_size(n, max_points)
    if size == 1:
        return list(xs), list(ys), 1
    full = n // size * size
    values = np.asarray(ys[:full], dtype=float).reshape(-1, size)
    finite = np.isfinite(values)
    counts = finite.sum(axis=1)
    sums = np.where(finite, values, 0.0).sum(axis=1)
    means = np.divide(sums, counts, out=np.full(len(sums), math.nan), where=counts > 0)
    middles = [xs[start + size // 2] for start in range(0, full, size)]
    return middles, means.tolist(), size


def loss_curve(losses: Sequence[float], max_points: int = MAX_POINTS, weight: float = SMOOTHING) -> Curve:
    """Each point: the mean of N steps' losses, and the smoothed loss (a moving average) at the same step."""
    steps = list(range(1, len(losses) + 1))
    xs, raw, every = downsample(steps, losses, max_points)
    smooth = ema(losses, weight)
    return Curve(tuple(xs), tuple(raw), tuple(smooth[int(x) - 1] for x in xs), every)


def raw_label(every: int) -> str:
    """What a curve's raw points are, in words: "loss of each step" or "loss, mean of every 50 steps"."""
    return "loss of each step" if every == 1 else f"loss, mean of every {every} steps"
