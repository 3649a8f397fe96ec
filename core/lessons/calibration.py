"""Calibration in words: how far a run's confidence is from how often it is right (core.engine.calibration)."""

from __future__ import annotations

import math

from core.engine.calibration import Calibration

OVERCONFIDENCE = (
    "A network is **over-confident** when it is surer than it is right: of the answers it gives at 99 %, "
    "fewer than 99 in 100 are right. Cross-entropy keeps pushing the right digit's probability towards 100 % "
    "on the training images, so a network that has memorised them is often over-confident on new ones. "
    "Bars below the diagonal are over-confident bins, bars above it under-confident ones."
)


def calibration_text(c: Calibration) -> str:
    """One sentence on a run's expected calibration error and which way it leans."""
    if not c.counts.sum() or not math.isfinite(c.ece):
        return "There are no predictions to judge."
    lean = ("over-confident: on average surer than it is right" if c.overconfident
            else "under-confident: on average right more often than it is sure")
    return (f"Expected calibration error **{100 * c.ece:.2f} %**: weighted by how many images fall in each bin, "
            f"the network's confidence is {100 * c.ece:.2f} points away from its accuracy. Overall it is {lean}.")
