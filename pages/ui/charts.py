"""One way to draw a chart on a page: the figure with its alt text, the words that carry its message, and a
"Show the numbers" table a screen reader can walk (the words come from core.views, built with the figure)."""

from __future__ import annotations

import streamlit as st

from core.views.chart_words import ChartWords

PLOTLY_CONFIG = {"displayModeBar": False}  # students need no zoom/export toolbar; it also takes keyboard stops
NUMBERS_LABEL = "Show the numbers"


def chart(figure, words: ChartWords, *, key: str, container=None, numbers: bool = True, **options):
    """Draw a Plotly figure (or dict), an Altair chart or a Graphviz source with `words.alt` as its accessible name,
    then `words.summary` as visible text and the numbers in a collapsed table. Returns the chart's selection state
    where `on_select` is given. `container`: where to draw (a column; default: the page)."""
    where = container if container is not None else st
    if isinstance(figure, str):  # DOT source
        drawn = where.graphviz_chart(figure, alt=words.alt, **options)
    elif _is_altair(figure):
        drawn = where.altair_chart(figure, key=key, alt=words.alt, **options)
    else:
        drawn = where.plotly_chart(figure, key=key, alt=words.alt, config=PLOTLY_CONFIG, **options)
    described(words, container=where, numbers=numbers, key=key)
    return drawn


def described(words: ChartWords, *, container=None, numbers: bool = True, key: str | None = None) -> None:
    """The words beside a figure or picture drawn by other means (st.image): the sentence, then the table."""
    where = container if container is not None else st
    if words.summary:
        where.markdown(words.summary)
    if numbers and words.numbers and any(words.numbers.values()):
        import pandas as pd  # not at the top: pages import this module before their first text is painted

        with where.expander(NUMBERS_LABEL, icon=":material/table:"):
            st.dataframe(pd.DataFrame(words.numbers), hide_index=True, key=None if key is None else f"{key}_numbers")


def _is_altair(figure) -> bool:
    return type(figure).__module__.startswith("altair")
