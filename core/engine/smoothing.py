"""Smoothing a noisy loss curve: one exponential moving average for the charts, the run doctor and the finder."""

from __future__ import annotations

import math
from collections.abc import Sequence

SMOOTHING = 0.9  # TensorBoard's default weight: about the last 10 steps count


def ema(values: Sequence[float], weight: float = SMOOTHING) -> list[float]:
    """Exponential moving average with TensorBoard's bias correction (the start is not pulled toward 0).

    Non-finite values (a diverging run) are passed through and do not poison the average.
    """
    out, last, n = [], 0.0, 0
    for value in values:
        if not math.isfinite(value):
            out.append(value)
            continue
        n += 1
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**n))
    return out
