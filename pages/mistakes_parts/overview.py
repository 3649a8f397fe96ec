"""The headline, the clickable confusion matrix, per-class accuracy and the most-confused pairs."""

from __future__ import annotations

from functools import partial

import streamlit as st

from core.lessons.mistakes import Predictions, confusion, headline, most_confused_pairs
from core.views.mistakes_charts import MATRIX_LEGEND, MATRIX_SELECTION
from pages.mistakes_parts import keys, loaders, paging
from pages.ui.charts import chart
from pages.ui.common import table


def _cell_clicked(chart_key: str) -> None:
    # A click selects one cell of the matrix: its selection point holds the true and the predicted digit.
    event = st.session_state.get(chart_key)
    points = event["selection"].get(MATRIX_SELECTION) if event else None
    if not points:
        return  # a deselection (second click or double click) leaves the filters as they are
    true, predicted = int(points[0]["true"]), int(points[0]["predicted"])
    st.session_state[keys.TRUE] = true
    st.session_state[keys.PREDICTED] = predicted
    if true == predicted:  # a diagonal cell holds right answers: show them
        st.session_state[keys.CORRECT] = True
    paging.restart(keys.PAGE)
    # A fresh chart key clears the chart's own selection, so clicking that same cell later works again.
    st.session_state[keys.MATRIX_CLICKS] = st.session_state.get(keys.MATRIX_CLICKS, 0) + 1


def show(run, p: Predictions) -> None:
    """Headline, confusion matrix (counts or row %), per-class accuracy and the most-confused pairs of a run."""
    st.subheader(headline(p))
    left, right = st.columns([3, 2], gap="large")
    with left:
        view = st.segmented_control(
            "Confusion matrix", ["counts", "percent"], default="counts", required=True, key=keys.MATRIX_VIEW,
            format_func={"counts": "Counts", "percent": "% of each true digit"}.get, persist_state="session",
        )  # fmt: skip
        (matrix, matrix_words), (accuracy, accuracy_words) = loaders.overview_figures(run, percent=view == "percent")
        chart_key = f"{keys.MATRIX}_{st.session_state.get(keys.MATRIX_CLICKS, 0)}"
        chart(matrix, matrix_words, key=chart_key, on_select=partial(_cell_clicked, chart_key),
              selection_mode=[MATRIX_SELECTION])
        st.caption(
            f"Rows: the true digit; columns: what the network answered. {MATRIX_LEGEND} "
            "**Click a cell** to show those images in the gallery below "
            "(with the keyboard: the gallery's “True digit” and “Predicted digit” choices do the same)."
        )
    with right:
        st.markdown("**Accuracy per digit**")
        chart(accuracy, accuracy_words, key=keys.ACCURACY)
        pairs = most_confused_pairs(p, k=5)
        st.markdown("**Most confused pairs**")
        if pairs:
            totals = confusion(p).sum(axis=1)
            table({
                "True": [pair.true for pair in pairs],
                "Predicted": [pair.predicted for pair in pairs],
                "Images": [pair.count for pair in pairs],
                "Share of the true digit": [f"{100 * pair.count / totals[pair.true]:.1f} %" for pair in pairs],
            })  # fmt: skip
        else:
            st.success("No mistakes at all on the test set.")
