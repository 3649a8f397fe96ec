"""Streamlit-side helpers shared by the pages. Not listed in st.navigation, so it is not a page."""

from __future__ import annotations

import math
import re
import secrets

import streamlit as st

SHELL_RAN = "lab_shell_ran"
WANTED_PAGE = "lab_wanted_page"


def require_shell(page: str) -> None:
    """Make sure this page runs inside streamlit_app.py's navigation; call it first on every page.

    Streamlit treats a folder named pages/ as legacy auto-navigation until some session has run
    st.navigation. Until then a deep link (/autograd) runs the page file alone: no page config, and a
    sidebar listing every file in pages/. Such a visit goes through the shell once, then to the page.
    """
    if not st.session_state.get(SHELL_RAN):
        st.session_state[WANTED_PAGE] = page
        st.switch_page("streamlit_app.py")


@st.cache_resource(show_spinner="Loading MNIST (first time only)…")
def _mnist_tensors():
    # Imported here so pages that never need MNIST (Autograd) do not pay for torchvision.
    from core.engine.data import load_mnist

    return load_mnist()


def mnist():
    """MNIST tensors, loaded once per server process and shared; None (after a message) if unavailable."""
    from core.engine.data import MNISTUnavailable

    try:
        return _mnist_tensors()
    except MNISTUnavailable as error:
        st.error(f"MNIST is not available, so this part cannot be shown. {error}")
        return None


def fmt(value: float) -> str:
    """A number for display: up to 6 significant digits, and words for inf and nan."""
    if math.isnan(value):
        return "nan (undefined)"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def table(columns: dict[str, list]) -> None:
    """A small static table (st.table), no index column; every cell shown as its text, formatted by the caller."""
    import pandas as pd  # here, not on top: every page imports this module before its first text is painted

    # Text cells: a column that mixes numbers and words ("inf", "none") stays as written, and Arrow accepts it.
    frame = pd.DataFrame({name: [str(cell) for cell in cells] for name, cells in columns.items()})
    st.table(frame, hide_index=True)


# --- Training jobs (Hyperparameters and Train pages) ---------------------------------------------------
@st.cache_resource(show_spinner=False)
def _job_manager(runs_dir: str):
    from core.engine.runs import RunStore
    from core.lab.jobs import JobManager

    # The class's locked settings and the name a run is signed with are checked on the server at every
    # submission, whatever a page showed. Also marks runs left "running" by a dead server interrupted.
    manager = JobManager(RunStore(runs_dir), gates=[_classroom(runs_dir).lock_problem],
                         name_check=_name_registry(runs_dir).holder_problem)
    manager.warm_up()  # MNIST and Accelerate load in the background, so the first Train click is quick
    return manager


def _runs_dir() -> str:
    from core.engine.folders import default_runs_dir

    return str(default_runs_dir().resolve())


def job_manager():
    """The server's one JobManager for its runs folder, shared by every session (it is thread-safe)."""
    return _job_manager(_runs_dir())


@st.cache_resource(show_spinner=False)
def _classroom(runs_dir: str):
    from core.lab.classroom import ClassRoom

    return ClassRoom(runs_dir)


def classroom():
    """The class's shared state (challenge, locks, board, spotlight) in the runs folder's class.json."""
    return _classroom(_runs_dir())


@st.cache_resource(show_spinner=False)
def _name_registry(runs_dir: str):
    from core.lab.names import NameRegistry

    return NameRegistry(runs_dir)


def name_registry():
    """The class's display names (who holds which) in the runs folder's names.json."""
    return _name_registry(_runs_dir())


@st.cache_resource(show_spinner=False)
def _board_reader(runs_dir: str):
    from core.engine.runs import RunStore
    from core.views.board import BoardReader

    return BoardReader(RunStore(runs_dir))


def board_reader():
    """The server's one reader of the board's runs, shared by every session (it remembers unchanged runs)."""
    return _board_reader(_runs_dir())


OWNER = "lab_owner"  # session state: this browser's owner id
OWNER_SENT = "lab_owner_sent"  # session state: the cookie script was sent in this session
OWNER_COOKIE = "mnist_lab_owner"  # the browser's cookie
_OWNER_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def owner_id() -> str:
    """This browser's id as the owner of its runs, kept in a cookie: a refresh or a new tab keeps control.

    The URL only names a run, so a shared link lets others watch it; the controls go to this id alone.
    """
    state = st.session_state
    cookie = st.context.cookies.get(OWNER_COOKIE)
    cookie = cookie if isinstance(cookie, str) and _OWNER_TOKEN.match(cookie) else None  # tests have no browser
    if OWNER not in state:
        state[OWNER] = cookie or secrets.token_hex(16)
    if cookie != state[OWNER] and not state.get(OWNER_SENT):
        # Cookies reach the server when a session starts; only the browser can store one, once is enough.
        state[OWNER_SENT] = True
        st.sidebar.html(
            f"<script>document.cookie = '{OWNER_COOKIE}={state[OWNER]}; path=/; max-age=31536000; "
            "SameSite=Strict';</script>",
            unsafe_allow_javascript=True,
        )
    return state[OWNER]


def table_rows(rows: list[dict], columns: list[str] | None = None) -> None:
    """`table` from a list of row dicts (the first row's keys, or `columns`, in order); None shows as –."""
    if not rows:
        return
    columns = columns or list(rows[0])
    table({c: ["–" if row.get(c) is None else row[c] for row in rows] for c in columns})


def crisp_images() -> None:
    """Let the browser draw images pixel by pixel, never smoothed: enlarged 28×28 digits stay sharp on any screen.

    Only a <style> tag, so it takes no room on the page; it applies while the calling page is shown.
    """
    st.html("<style>[data-testid='stImage'] img { image-rendering: pixelated; }</style>")
