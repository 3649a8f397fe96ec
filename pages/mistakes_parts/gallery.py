"""The gallery of test images (filters, order, pages) and a closer look at one of them."""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from core.lessons.mistakes import N_CLASSES, SORTS, Predictions, enlarge, gallery, page_slice
from core.views.mistakes_charts import probability_chart, probability_words
from core.views.mistakes_view import TILE_LEGEND, caption, choice_label, gallery_tile, picture_alt
from pages.mistakes_parts import keys, paging
from pages.ui.charts import chart

PAGE_SIZE = 40
DIGITS = list(range(N_CLASSES))
SORT_LABELS = {"confidence": "Most confident first", "least_confident": "Least confident first", "index": "Test order"}
KEEP = {"persist_state": "session"}  # filters survive a visit to another tab or page


def _first_page() -> None:
    paging.restart(keys.PAGE)


def _clear_filters() -> None:
    st.session_state[keys.TRUE] = None
    st.session_state[keys.PREDICTED] = None
    st.session_state[keys.CORRECT] = False
    _first_page()


def _filters() -> tuple[int | None, int | None, str, bool]:
    left, right = st.columns(2)
    true = left.pills("True digit", DIGITS, key=keys.TRUE, on_change=_first_page, **KEEP)
    predicted = right.pills("Predicted digit", DIGITS, key=keys.PREDICTED, on_change=_first_page, **KEEP)
    order, switch, clear = st.columns([3, 2, 1], vertical_alignment="bottom")
    with order:
        sort = st.segmented_control(
            "Order", SORTS, format_func=SORT_LABELS.get, default="confidence", required=True, key=keys.SORT,
            on_change=_first_page, **KEEP,
        )  # fmt: skip
    with switch:
        correct = st.toggle("Show correct predictions too", key=keys.CORRECT, on_change=_first_page, **KEEP)
    clear.button("Clear filters", on_click=_clear_filters, icon=":material/filter_alt_off:")
    return true, predicted, sort, correct


def _describe(count: int, true: int | None, predicted: int | None, correct: bool) -> str:
    what = "test image" if correct else "mistake"
    parts = []
    if true is not None:
        parts.append(f"true digit {true}")
    if predicted is not None:
        parts.append(f"predicted {predicted}")
    where = " and ".join(parts)
    return f"{count:,} {what}{'' if count == 1 else 's'}" + (f" with {where}" if where else "")


# A fragment: changing a filter, the order or the page reruns only this part, not the charts above it.
@st.fragment
def show(p: Predictions, images: np.ndarray) -> None:
    """Filters, a page of crisp enlarged digits with their labels, and the probabilities of a chosen one."""
    st.subheader("Gallery")
    true, predicted, sort, correct = _filters()
    indices = gallery(p, true_digit=true, predicted_digit=predicted, sort=sort, include_correct=correct)
    if len(indices) == 0:
        st.info(f"{_describe(0, true, predicted, correct)}. Change the filters or clear them.")
        return
    n_pages = page_slice(indices, 1, PAGE_SIZE)[1]
    info, pager = st.columns([3, 2], vertical_alignment="center")
    with pager:
        page = paging.pagination(keys.PAGE, n_pages, width="stretch")
    shown, _ = page_slice(indices, page, PAGE_SIZE)
    first = (page - 1) * PAGE_SIZE + 1
    info.markdown(
        f"**{_describe(len(indices), true, predicted, correct)}** · showing {first:,}–{first + len(shown) - 1:,} · "
        f"page {page} of {n_pages}"
    )
    tiles = [gallery_tile(images[i], bool(p.correct[i])) for i in shown]
    # A fixed width: in a list, st.image would otherwise stretch each picture to share out the row.
    st.container(key=keys.GALLERY).image(
        tiles, caption=[caption(p, i) for i in shown], width=tiles[0].shape[1], output_format="PNG",
        alt=[picture_alt(p, i) for i in shown],
    )
    st.caption(TILE_LEGEND)
    _closer_look(p, images, [int(i) for i in shown])


def _closer_look(p: Predictions, images: np.ndarray, options: list[int]) -> None:
    st.subheader("A closer look")
    if st.session_state.get(keys.PICK) not in options:
        st.session_state[keys.PICK] = options[0]
    index = st.selectbox("Image (from this page of the gallery)", options, format_func=partial(choice_label, p),
                         key=keys.PICK)
    picture, bars = st.columns([1, 3], vertical_alignment="center")
    picture.image(enlarge(images[index], 8), caption=f"Test image #{index} as the network sees it", output_format="PNG",
                  alt=picture_alt(p, index))
    label = int(p.labels[index])
    chart(probability_chart(p.probs[index], true=label), probability_words(p.probs[index], true=label),
          key="mk_pick_probs", container=bars)
