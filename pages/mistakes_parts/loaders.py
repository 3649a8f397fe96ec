"""Cached reads of a run's predictions and model, and the test images; every failure becomes a message."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.lessons.mistakes import Predictions, per_class_accuracy
from core.views.mistakes_charts import accuracy_chart, accuracy_words, confusion_chart, confusion_words
from pages.ui.common import mnist

PREDICTIONS, MODEL = "predictions.npz", "model.pt"
OTHER_RUN = "Pick another run or train a new one."


def _mtime(run, name: str) -> int:
    return (run.path / name).stat().st_mtime_ns


# Keyed by folder, id and file time: a run trained again under the same id (or rewritten) is read afresh. The run
# itself (`_run`, which Streamlit leaves out of the key) reads the file.
# cache_resource, not cache_data: the arrays are only read, so every session can share them uncopied.
@st.cache_resource(max_entries=8, show_spinner="Reading the run's predictions…")
def _predictions(root: str, run_id: str, mtime_ns: int, _run) -> Predictions:
    return _run.predictions()


@st.cache_resource(max_entries=4, show_spinner="Loading the trained network…")
def _model(root: str, run_id: str, mtime_ns: int, _run):
    return _run.model()


# Once per run and view, shared by every session, instead of on every rerun (as a Plotly figure, the matrix took
# about 0.1 s to build). Streamlit only serialises a chart, so sharing one is safe.
@st.cache_resource(max_entries=16, show_spinner=False)
def _overview_figures(root: str, run_id: str, mtime_ns: int, percent: bool, _run):
    p = _predictions(root, run_id, mtime_ns, _run)
    accuracy = per_class_accuracy(p)
    return ((confusion_chart(p, normalize=percent), confusion_words(p, normalize=percent)),
            (accuracy_chart(accuracy), accuracy_words(accuracy)))


def overview_figures(run, percent: bool):
    """((confusion matrix, its words), (accuracy per digit, its words)) of a run whose predictions
    `predictions` has read."""
    return _overview_figures(str(run.path.parent), run.id, _mtime(run, PREDICTIONS), percent, run)


def _short(error: Exception, limit: int = 160) -> str:
    # PyTorch's messages about mismatched weights run to many lines; the first words say enough.
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def predictions(run) -> Predictions | None:
    """The run's test predictions (cached), or None after a message saying why they cannot be read."""
    try:
        return _predictions(str(run.path.parent), run.id, _mtime(run, PREDICTIONS), run)
    except Exception as error:  # a damaged or half-deleted file of any kind: explain, never a traceback
        st.error(f"The saved predictions of this run cannot be read ({_short(error)}). {OTHER_RUN}")
        return None


def model(run):
    """The run's trained network in eval mode (cached), or None after a message saying why not."""
    try:
        return _model(str(run.path.parent), run.id, _mtime(run, MODEL), run)
    except Exception as error:  # missing weights, a damaged file, weights that do not fit the recorded layers
        st.error(f"The trained network of this run cannot be loaded ({_short(error)}). {OTHER_RUN}")
        return None


def test_images() -> np.ndarray | None:
    """MNIST's 10,000 test images as uint8 [N, 28, 28] (shared, read-only), or None after a message."""
    data = mnist()
    return None if data is None else data.test_images.numpy()
