"""Who in this browser session is the instructor: an account in MNIST_LAB_INSTRUCTORS when sign-in is on, else a
session that typed the server's token. The settings pages, Train and the Class page all ask (pages/ui/instructor.py
draws the controls)."""

from __future__ import annotations

import streamlit as st

from core.lab.identity import instructor_accounts, is_instructor
from core.lab.instructor_token import instructor_token, proof_matches
from pages.ui import common

UNLOCKED = "lab_instructor"  # session state: proof that this session typed the token


def controls_exist() -> bool:
    """True when someone can be the instructor: listed accounts (sign-in on), else a token on the server."""
    if common.signin_configured():
        return bool(instructor_accounts())
    return instructor_token() is not None


def unlocked() -> bool:
    """Is this viewer the instructor? With sign-in: a listed account (never the token). Without: this browser
    session typed the server's current token."""
    if common.signin_configured():
        user = common.signed_in_user()
        return user is not None and is_instructor(user, instructor_accounts())
    return proof_matches(st.session_state.get(UNLOCKED), instructor_token())
