"""Two runs side by side: the test images one gets right and the other gets wrong."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.lessons.mistakes import Predictions, compare, page_slice
from core.views.mistakes_view import (
    COMPARE_KINDS,
    compare_alt,
    compare_caption,
    comparison_counts,
    gallery_tile,
    run_option_line,
)
from pages.mistakes_parts import keys, loaders, paging

PAGE_SIZE = 40
TITLES = {kind.key: kind.title for kind in COMPARE_KINDS}


def _first_page() -> None:
    paging.restart(keys.COMPARE_PAGE)


def show(run, p: Predictions, runs: list, images: np.ndarray) -> None:
    """Pick run B; count and show the images where A and B disagree."""
    others = {other.id: other for other in runs if other.id != run.id}
    if not others:
        st.info("There is only one run with predictions. Train a second one (other settings) to compare them.")
        st.page_link("pages/train.py", label="Train another run", icon=":material/model_training:")
        return
    if st.session_state.get(keys.OTHER) not in others:
        st.session_state[keys.OTHER] = next(iter(others))
    st.markdown(f"**A** is the run chosen above: {run_option_line(run)}")
    other_id = st.selectbox("**B**: compare with", list(others), format_func=lambda i: run_option_line(others[i]),
                            key=keys.OTHER)
    q = loaders.predictions(others[other_id])
    if q is None:
        return
    try:
        split = compare(p, q)
    except ValueError as error:
        st.error(f"These two runs cannot be compared image by image. {error}.")
        return
    counts = comparison_counts(split)
    columns = st.columns(4)
    for column, (name, label) in zip(columns, [*TITLES.items(), ("both_right", "Both right")], strict=True):
        column.metric(label, f"{counts[name]:,}")
    kind = st.segmented_control("Show", list(TITLES), format_func=TITLES.get, default="a_right_b_wrong",
                                required=True, key=keys.COMPARE_KIND, on_change=_first_page)
    indices = getattr(split, kind)
    if len(indices) == 0:
        st.info("No test image in this group.")
        return
    n_pages = page_slice(indices, 1, PAGE_SIZE)[1]
    page = paging.pagination(keys.COMPARE_PAGE, n_pages)
    shown, _ = page_slice(indices, page, PAGE_SIZE)
    tiles = [gallery_tile(images[i], bool(p.correct[i])) for i in shown]
    st.image(tiles, caption=[compare_caption(p, q, i) for i in shown], width=tiles[0].shape[1], output_format="PNG",
             alt=[compare_alt(p, q, i) for i in shown])
    st.caption("Under each digit: the true digit, then the answers of A and B · test image number. "
               "Frames show run A: blue right, orange wrong (the words under each digit say it too).")
