"""The student's display name: typed on the Class page and claimed in the class's name registry by this
browser (its owner id). Never read from a link: links are for watching, so a classmate's link signs nothing.

Not a page (st.navigation does not list it). Names are user text: shown with st.text or in a widget only.
"""

from __future__ import annotations

import streamlit as st

from core.engine.display_name import MAX_NAME_CHARS, clean_name
from pages.ui.services import name_registry

OLD_NAME_PARAM = "name"  # older links carried the name; it is ignored, and taken out of the address
STUDENT = "lab_student"  # session state: the name in use
NAME_INPUT = "class_name"  # the Class page's text field
NAME_PROBLEM = "lab_student_problem"  # (text refused, why), shown while the field still holds that text


def display_name(owner: str) -> str:
    """The name this browser holds in the class ("" for none), kept in the session: another tab's new name, or
    a refresh, finds it too."""
    held = name_registry().name_of(owner)
    st.session_state[STUDENT] = held
    return held


def drop_link_name() -> None:
    """Take an old link's name= out of the address, so it is not passed on with the link (it is never used)."""
    if OLD_NAME_PARAM in st.query_params:
        del st.query_params[OLD_NAME_PARAM]


def _name_typed(owner: str) -> None:
    """Callback of the name field: claim the name; a refused one stays in the field, with why, for editing."""
    state = st.session_state
    typed = state.get(NAME_INPUT, "")
    problem = name_registry().claim(owner, typed)
    if problem:
        state[NAME_PROBLEM] = (typed, problem)
        return
    state.pop(NAME_PROBLEM, None)
    state[STUDENT] = state[NAME_INPUT] = clean_name(typed)


def name_field(owner: str) -> str:
    """The text field for the display name, with why a name was refused; returns the name in use."""
    state = st.session_state
    name = display_name(owner)
    if NAME_INPUT not in state:
        state[NAME_INPUT] = name
    st.text_input(
        "Your display name", key=NAME_INPUT, on_change=_name_typed, args=(owner,), placeholder="for example Ada",
        help=f"1 to {MAX_NAME_CHARS} characters of one alphabet, not a name a classmate already has. Shown to the "
        "class exactly as typed. No account: this browser keeps it (its cookie), and it is never put in a link.",
    )
    refused = state.get(NAME_PROBLEM)
    if refused and refused[0] == state.get(NAME_INPUT):
        st.error(refused[1], icon=":material/badge:")  # the reason never contains the name: it is not Markdown
    if name and state.get(NAME_INPUT) != name:
        st.text(f"Your runs are still signed: {name}")  # user text: plain text only, never Markdown
    return name
