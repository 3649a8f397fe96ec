"""Calibration: torchmetrics' expected calibration error, the reliability bins beside it, and its words."""

import numpy as np
import pytest

from core.engine.calibration import calibration, expected_calibration_error
from core.engine.predictions import Predictions
from core.lessons.calibration import calibration_text
from core.views.mistakes_charts import reliability_figure


def predictions(confidence: float, right: float, n: int = 1000) -> Predictions:
    """n answers each given with `confidence` to the predicted digit, a fraction `right` of them right."""
    probs = np.full((n, 10), (1 - confidence) / 9, dtype=np.float32)
    probs[:, 0] = confidence
    labels = np.zeros(n, dtype=np.int64)
    labels[int(right * n):] = 1
    return Predictions(labels, np.zeros(n, dtype=np.int64), probs)


def test_an_overconfident_network_has_the_gap_as_its_error():
    c = calibration(predictions(0.95, 0.75))
    assert c.ece == pytest.approx(0.20, abs=1e-4)
    assert c.overconfident
    (bin_,) = np.flatnonzero(c.counts)
    assert c.counts[bin_] == 1000 and c.accuracy[bin_] == pytest.approx(0.75)
    assert c.confidence[bin_] == pytest.approx(0.95)
    assert "over-confident" in calibration_text(c) and "20.00 %" in calibration_text(c)


def test_bins_agree_with_torchmetrics_on_mixed_predictions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3000, 10)) * 3
    probs = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
    labels = rng.integers(0, 10, 3000)
    labels[:2000] = probs[:2000].argmax(axis=1)
    p = Predictions(labels, probs.argmax(axis=1), probs)
    c = calibration(p)
    used = c.counts > 0
    by_bins = np.sum(np.abs(c.accuracy[used] - c.confidence[used]) * c.counts[used]) / c.counts.sum()
    assert c.ece == pytest.approx(by_bins, abs=1e-5)
    assert c.ece == expected_calibration_error(p)
    assert c.counts.sum() == 3000


def test_an_underconfident_network_is_named_so():
    c = calibration(predictions(0.55, 0.95))
    assert not c.overconfident and "under-confident" in calibration_text(c)


def test_the_reliability_diagram_draws_the_used_bins_against_the_diagonal():
    fig = reliability_figure(calibration(predictions(0.95, 0.75)))
    bars, diagonal = fig.data
    assert list(bars.y) == pytest.approx([75.0]) and list(diagonal.x) == [0, 100]
