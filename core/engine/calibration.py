"""Calibration of a run's test predictions: does "90 % sure" mean right 9 times in 10?

The expected calibration error comes from torchmetrics (MulticlassCalibrationError, l1 norm); the bins of the
reliability diagram are the same equal-width confidence bins it uses. In the engine, not in core/lessons,
because the CLI's --json summary reports it too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.engine.predictions import N_CLASSES, Predictions

N_BINS = 15  # torchmetrics' default


@dataclass(frozen=True)
class Calibration:
    """Confidence against accuracy, per equal-width confidence bin, and the expected calibration error."""

    edges: np.ndarray  # float [n_bins + 1], 0 to 1
    counts: np.ndarray  # int [n_bins]: predictions whose confidence falls in each bin
    confidence: np.ndarray  # float [n_bins]: mean confidence in each bin (NaN where empty)
    accuracy: np.ndarray  # float [n_bins]: fraction right in each bin (NaN where empty)
    ece: float  # expected calibration error, 0..1: the count-weighted mean |accuracy - confidence|

    @property
    def overconfident(self) -> bool:
        """Whether the network is, over all predictions, surer than it is right."""
        n = self.counts.sum()
        if not n:
            return False
        used = self.counts > 0
        return float(np.sum((self.confidence[used] - self.accuracy[used]) * self.counts[used]) / n) > 0


def expected_calibration_error(p: Predictions, n_bins: int = N_BINS) -> float:
    """torchmetrics' expected calibration error (l1) of the predictions, 0..1; NaN without predictions."""
    if not len(p):
        return float("nan")
    import torch
    from torchmetrics.classification import MulticlassCalibrationError

    metric = MulticlassCalibrationError(num_classes=N_CLASSES, n_bins=n_bins, norm="l1")
    return float(metric(torch.from_numpy(p.probs), torch.from_numpy(p.labels)))


def calibration(p: Predictions, n_bins: int = N_BINS) -> Calibration:
    """The reliability diagram's bins and the expected calibration error of a run's predictions."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    confidence = p.probs.max(axis=1).astype(np.float64)
    right = (p.probs.argmax(axis=1) == p.labels).astype(np.float64)
    # Bins closed on the right, as torchmetrics' bucketize: a confidence of exactly 1 goes in the last bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, confidence, minlength=n_bins) / counts
        accuracy = np.bincount(which, right, minlength=n_bins) / counts
    return Calibration(edges, counts, mean_confidence, accuracy, expected_calibration_error(p, n_bins))
