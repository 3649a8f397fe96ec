"""The student's display name: typed once on the Class page, kept for the browser session and in the Train link.

Not a page (st.navigation does not list it). A link's name= is adopted only by a session that has no name yet,
so a classmate's shared link never renames anyone.
"""

from __future__ import annotations

import streamlit as st

from core.engine.display_name import clean_name, name_problem

NAME_PARAM = "name"  # the URL key
STUDENT = "lab_student"  # session state: the name
NAME_INPUT = "class_name"  # the Class page's text field
NAME_PROBLEM = "lab_student_problem"  # why the last name typed was refused, shown once


def display_name(params: dict[str, str] | None = None) -> str:
    """This session's display name ("" until one is chosen), adopting a valid one from the link if it has none."""
    state = st.session_state
    if not state.get(STUDENT):
        linked = (params if params is not None else st.query_params.to_dict()).get(NAME_PARAM)
        if isinstance(linked, str) and name_problem(linked) is None:
            state[STUDENT] = clean_name(linked)
    return state.get(STUDENT, "")


def publish_name() -> None:
    """Put the display name into the URL (the Hyperparameters and Train links carry it)."""
    name = st.session_state.get(STUDENT, "")
    if name and st.query_params.get_all(NAME_PARAM) != [name]:
        st.query_params[NAME_PARAM] = name


def _name_typed() -> None:
    """Callback of the name field: keep a valid name, or say why it was refused (the old one stays)."""
    typed = st.session_state.get(NAME_INPUT, "")
    problem = name_problem(typed)
    if problem:
        st.session_state[NAME_PROBLEM] = problem
        st.session_state[NAME_INPUT] = st.session_state.get(STUDENT, "")  # the field shows the name in use
    else:
        st.session_state[STUDENT] = clean_name(typed)


def name_field() -> str:
    """The text field for the display name, with why a name was refused; returns the name in use."""
    name = st.session_state.get(STUDENT, "")
    if NAME_INPUT not in st.session_state:
        st.session_state[NAME_INPUT] = name
    st.text_input(
        "Your display name", key=NAME_INPUT, on_change=_name_typed, placeholder="for example Ada",
        help="1 to 30 characters, shown to the class exactly as typed. No account: it is kept while this "
        "browser tab is open, and in the Train page's link.",
    )
    problem = st.session_state.pop(NAME_PROBLEM, None)
    if problem:
        st.error(problem, icon=":material/badge:")
    return st.session_state.get(STUDENT, "")
