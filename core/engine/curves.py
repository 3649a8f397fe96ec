"""Loss curves for drawing: smoothed, and downsampled so a long run's chart stays light."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.engine.smoothing import SMOOTHING, ema

MAX_POINTS = 400  # per line: enough for a smooth curve, little enough for a browser redrawn every second
RECENT = 150  # the newest steps are always drawn one by one, so the live end of the curve is exact


@dataclass(frozen=True)
class Curve:
    """A loss curve ready to draw: step numbers (1-based), raw losses and smoothed losses, same length."""

    steps: tuple[float, ...]
    raw: tuple[float, ...]
    smooth: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.steps)


def finite_or_none(values: Iterable[float]) -> list[float | None]:
    """The values with None for nan and ±inf: JSON has neither, and plotly leaves a gap for None."""
    return [v if math.isfinite(v) else None for v in values]


def downsample(
    xs: Sequence[float], ys: Sequence[float], max_points: int = MAX_POINTS, recent: int = RECENT
) -> tuple[list[float], list[float]]:
    """At most max_points points: the last `recent` as they are, older ones averaged in equal buckets."""
    n = len(xs)
    if n <= max_points:
        return list(xs), list(ys)
    recent = min(recent, max_points - 1)
    old = n - recent
    size = math.ceil(old / (max_points - recent))
    out_x, out_y = [], []
    for start in range(0, old, size):
        stop = min(start + size, old)
        out_x.append(sum(xs[start:stop]) / (stop - start))
        out_y.append(_mean(ys[start:stop]))
    return out_x + list(xs[old:]), out_y + list(ys[old:])


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def loss_curve(losses: Sequence[float], max_points: int = MAX_POINTS, weight: float = SMOOTHING) -> Curve:
    """Smooth every step's loss, then downsample both lines the same way."""
    steps = range(1, len(losses) + 1)
    xs, raw = downsample(steps, losses, max_points)
    _, smooth = downsample(steps, ema(losses, weight), max_points)
    return Curve(tuple(xs), tuple(raw), tuple(smooth))
