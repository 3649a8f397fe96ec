"""Calibration: the reliability diagram and the expected calibration error of the chosen run."""

from __future__ import annotations

import streamlit as st

from core.engine.calibration import calibration
from core.lessons.calibration import OVERCONFIDENCE, calibration_text
from core.lessons.mistakes import Predictions
from core.views.mistakes_charts import reliability_figure, reliability_words
from pages.mistakes_parts import keys
from pages.ui.charts import chart


def show(p: Predictions) -> None:
    """How sure against how right, per confidence bin, with the ECE in words; computed only once opened."""
    # A lazy expander: closed, it costs the page no chart (each Plotly chart is drawn again on every rerun).
    section = st.expander("How sure against how right (calibration)", key=keys.CALIBRATION_OPEN,
                          on_change="rerun", icon=":material/balance:")
    if not section.open:
        return
    with section:
        _diagram(calibration(p))


def _diagram(c) -> None:
    left, right = st.columns([3, 2], gap="large")
    chart(reliability_figure(c), reliability_words(c), key=keys.RELIABILITY, container=left)
    with right:
        st.markdown(calibration_text(c))
        st.caption(OVERCONFIDENCE)
