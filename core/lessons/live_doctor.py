"""The run doctor on a run still training: the doctor's own rules (core.engine.doctor) on what has streamed so far,
and the class's counts for the instructor ("4 diverging, all with learning rate ≥ 1").

Only the rules that a partial run can already show are asked: the loss exploding or climbing (diverging), the
loss creeping (learning rate too low), the test loss rising across epochs (overfitting); otherwise the run is
still learning. Below the doctor's MIN_STEPS nothing is said about the learning rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.engine import doctor
from core.engine.config import TrainConfig
from core.engine.status import Status

DIVERGING, LR_TOO_LOW, OVERFITTING, STILL_LEARNING, TOO_EARLY, WAITING = (
    "diverging", "learning rate too low", "overfitting", "still learning", "too early to tell", "waiting")
ORDER = (DIVERGING, LR_TOO_LOW, OVERFITTING, STILL_LEARNING, TOO_EARLY, WAITING)  # most urgent first


@dataclass(frozen=True)
class LiveFinding:
    """What a run's numbers so far say: one of ORDER, and the evidence in words."""

    verdict: str
    words: str


def live_finding(losses: Sequence[float], epochs: Sequence[dict], config: TrainConfig, status: Status,
                 every: int = 1) -> LiveFinding:
    """The doctor's verdict on a run so far: its step losses (or, with `every`, the means of that many steps: a
    live curve), its finished epochs' metrics, its settings."""
    if status == Status.QUEUED:
        return LiveFinding(WAITING, "waiting for a free worker")
    if status == Status.DIVERGED or any(not math.isfinite(loss) for loss in losses):
        return LiveFinding(DIVERGING, doctor.diverged(list(losses), config, every).message)
    steps = len(losses) * every
    if steps < doctor.MIN_STEPS:
        return LiveFinding(TOO_EARLY, f"{steps} steps so far; the doctor needs {doctor.MIN_STEPS}")
    found = doctor.lr_too_high(losses, config, every)
    if found is not None:
        return LiveFinding(DIVERGING, found.message)
    found = doctor.lr_too_low(losses, config, every)
    if found is not None:
        return LiveFinding(LR_TOO_LOW, found.message)
    found = doctor.overfitting(epochs, config, None) if len(epochs) >= 2 else None
    if found is not None:
        return LiveFinding(OVERFITTING, found.message)
    return LiveFinding(STILL_LEARNING, f"the loss has fallen from {doctor.start_loss(losses, every):.2f} to "
                       f"{doctor.smoothed(losses, every)[-1]:.2f} in {steps:,} steps")


def lr_words(lrs: Sequence[float], others: Sequence[float]) -> str:
    """What a group's learning rates share, against the other runs': "all with learning rate ≥ 1"."""
    low, high = min(lrs), max(lrs)
    if len(lrs) == 1:
        return f"learning rate {low:g}"
    if low == high:
        return f"all with learning rate {low:g}"
    if others and low > max(others):
        return f"all with learning rate ≥ {low:g}"
    if others and high < min(others):
        return f"all with learning rate ≤ {high:g}"
    return f"learning rates {low:g} to {high:g}"


def class_counts(findings: Sequence[tuple[LiveFinding, TrainConfig]]) -> str:
    """The instructor's one line: "4 diverging, all with learning rate ≥ 1; 3 still learning, …" ("" if none)."""
    parts = []
    for verdict in ORDER:
        group = [config.lr for finding, config in findings if finding.verdict == verdict]
        if not group:
            continue
        others = [config.lr for finding, config in findings  # against the other runs the doctor judged
                  if finding.verdict not in (verdict, WAITING, TOO_EARLY)]
        words = f"{len(group)} {verdict}"
        parts.append(words if verdict in (WAITING, TOO_EARLY) else f"{words}, {lr_words(group, others)}")
    return "; ".join(parts)
