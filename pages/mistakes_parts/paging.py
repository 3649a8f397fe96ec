"""Pagination that starts again at page 1 whenever what it pages through changes (a filter, a group)."""

import streamlit as st


def restart(name: str) -> None:
    """Make the next `pagination(name, ...)` start at page 1 (call it from a filter's on_change)."""
    st.session_state[f"{name}_generation"] = st.session_state.get(f"{name}_generation", 0) + 1


def pagination(name: str, n_pages: int, **kwargs) -> int:
    """st.pagination under a key that changes at each restart.

    A fresh key starts at the default page 1. Writing 1 into the old key's state instead makes Streamlit log
    a warning with a stack trace, and removing that state leaves the browser's widget on its old page.
    """
    generation = st.session_state.get(f"{name}_generation", 0)
    return st.pagination(n_pages, key=f"{name}_{generation}", **kwargs)
