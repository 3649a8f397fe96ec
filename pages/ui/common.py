"""Streamlit-side helpers shared by the pages. Not listed in st.navigation, so it is not a page."""

from __future__ import annotations

import math

import streamlit as st

from core.lab import identity
from pages.ui.services import name_registry, owner_ids

SHELL_RAN = "lab_shell_ran"
WANTED_PAGE = "lab_wanted_page"
WANTED_QUERY = "lab_wanted_query"  # that deep link's query parameters (?run=, ?job=, settings), kept for the page


def require_shell(page: str) -> None:
    """Make sure this page runs inside streamlit_app.py's navigation, and behind sign-in if the host wants every
    page there; call it first on every page.

    Streamlit treats a folder named pages/ as legacy auto-navigation until some session has run
    st.navigation. Until then a deep link (/autograd) runs the page file alone: no page config, and a
    sidebar listing every file in pages/. Such a visit goes through the shell once, then to the page, with
    the link's query parameters (st.switch_page would otherwise clear them).
    """
    if not st.session_state.get(SHELL_RAN):
        st.session_state[WANTED_PAGE] = page
        st.session_state[WANTED_QUERY] = st.query_params.to_dict()
        st.switch_page("streamlit_app.py")
    if sign_in_wall():  # the shell runs no page behind it; this holds for a page run alone as well
        st.stop()


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


# --- Who this visitor is (see core/lab/identity.py and docs/hosts.md, "Who is who") ------------------------
OWNER = "lab_owner"  # session state: this browser's owner id
OWNER_SHARED = "lab_owner_shared"  # session state: the id is this address's stand-in (see OwnerIds)
OWNER_COOKIE_DUE = "lab_owner_cookie_due"  # session state: the cookie to store, until a run has drawn it
OWNER_COOKIE = "mnist_lab_owner"  # the browser's cookie: the owner id, signed by the server
ACCOUNT_NAME_TRIED = "lab_account_name_tried"  # session state: the account's name was offered to the registry
COOKIE_MAX_AGE_S = 365 * 24 * 3600


def _connection() -> tuple[str | None, str | None]:
    """The connection's address and its X-Forwarded-For header; the one place they are read (tests replace it)."""
    return st.context.ip_address, st.context.headers.get("X-Forwarded-For")


def _sent_cookie() -> str | None:
    """The owner cookie the browser sent when this session started (tests replace it: AppTest has no browser)."""
    return st.context.cookies.get(OWNER_COOKIE)


def client_address() -> str:
    """The address this visitor is counted under; X-Forwarded-For only behind a proxy ($MNIST_LAB_BEHIND_PROXY)."""
    ip, forwarded_for = _connection()
    return identity.client_address(ip, forwarded_for, identity.proxies_in_front())


def signin_configured() -> bool:
    """True when the host configured sign-in: an [auth] section in .streamlit/secrets.toml. The one place asked."""
    try:
        return st.secrets.load_if_toml_exists() and "auth" in st.secrets
    except Exception:  # noqa: BLE001 - an unreadable secrets file: Streamlit names it; the lab stays anonymous
        return False


def signed_in_user() -> dict | None:
    """The signed-in account's claims (iss, sub, email, name...), or None (not signed in, or sign-in is off)."""
    if not signin_configured() or not st.user.is_logged_in:
        return None
    user = st.user.to_dict()
    return user if isinstance(user.get("sub"), str) and user["sub"] else None


def _sign_in() -> None:
    """Start the provider's login; a host's broken [auth] section is said in words, not as a traceback."""
    from streamlit.errors import StreamlitAuthError

    try:
        st.login()
    except StreamlitAuthError as error:
        st.error(f"Sign-in is not set up correctly on this server; tell your instructor. ({error})")


def _sign_in_prompt(words: str) -> None:
    """Why to sign in, and the Sign in button, in the page's body."""
    st.info(words, icon=":material/login:")
    if st.button("Sign in", key="lab_sign_in_page", type="primary", icon=":material/login:"):
        _sign_in()


def _sign_in_first() -> None:
    """Stop the page with a Sign in button: with sign-in on, only an account may train or own runs."""
    _sign_in_prompt("Sign in to train and to control your runs: the lab knows each student by their account.")
    st.stop()


def sign_in_wall() -> bool:
    """With every page behind sign-in ($MNIST_LAB_SIGN_IN_EVERY_PAGE) and nobody signed in, draw only a Sign in
    prompt and return True: the shell then runs no page, deep links included. False otherwise."""
    if not identity.sign_in_every_page():
        return False
    if not signin_configured():  # closed, as the host asked, rather than open to everyone
        st.error("This lab shows its pages only to signed-in accounts, but sign-in is not set up on this server. "
                 "Tell your instructor.", icon=":material/lock:")
        return True
    if signed_in_user() is not None:
        return False
    _sign_in_prompt("Sign in to use this lab: its pages are for the class's accounts only.")
    return True


def owner_id() -> str:
    """Who owns this session's runs: the signed-in account, or (sign-in off) a server-signed id in a cookie,
    so a refresh or a new tab keeps control. A page that needs it stops with a Sign in button when sign-in
    is on and nobody is signed in. The URL only names a run: a shared link lets others watch, not control.
    """
    if signin_configured():
        user = signed_in_user()
        if user is None:
            _sign_in_first()
        return identity.account_owner_id(str(user.get("iss", "")), user["sub"])
    state = st.session_state
    if OWNER not in state:
        try:
            issued = owner_ids().identify(_sent_cookie(), client_address())
        except ValueError as error:  # the host's setting or secret file: said once, in words, on every page
            st.error(f"This lab server is not set up correctly, so it cannot tell browsers apart: {error}")
            st.stop()
        state[OWNER], state[OWNER_SHARED] = issued.owner, issued.shared
        if issued.cookie is not None:
            state[OWNER_COOKIE_DUE] = issued.cookie
    due = state.get(OWNER_COOKIE_DUE)
    if due is not None:
        # Cookies reach the server when a session starts; only the browser can store one. A cookie this server
        # did not sign is deleted, so that the browser's next visit counts as new.
        st.sidebar.html(
            f"<script>document.cookie = '{OWNER_COOKIE}={due}; path=/; max-age={COOKIE_MAX_AGE_S if due else 0}; "
            "SameSite=Strict';</script>",
            unsafe_allow_javascript=True,
        )
    return state[OWNER]


def owner_cookie_delivered() -> None:
    """Call at the end of the shell's run: the run drew the cookie's script, so the browser has stored it. (A run
    cut short, by a page switch for one, may never reach the browser: then the next run sends it again.)"""
    st.session_state.pop(OWNER_COOKIE_DUE, None)


def identity_sidebar() -> None:
    """The sidebar's part about who you are: Sign in, or the account and Sign out (sign-in on); else the
    anonymous id's cookie, and a word when this browser shares its network address's stand-in id."""
    if not signin_configured():
        owner_id()
        if st.session_state.get(OWNER_SHARED):
            st.sidebar.caption("This tab shares an id with other browsers at your network address (many new "
                               "ones came from there in the last hour, or this browser's id was not one this lab "
                               "made), so they can control each other's runs. Reload the page later to get your "
                               "own, or ask your instructor.")
        return
    user = signed_in_user()
    if user is None:
        if st.sidebar.button("Sign in", key="lab_sign_in", type="primary", icon=":material/login:"):
            with st.sidebar:
                _sign_in()
        st.sidebar.caption("Sign in to train and to put your runs on the class board.")
        return
    if not st.session_state.get(ACCOUNT_NAME_TRIED):  # once a session: the account's name, unless taken or refused
        st.session_state[ACCOUNT_NAME_TRIED] = True
        owner, name = owner_id(), identity.account_display_name(user)
        if name and not name_registry().name_of(owner):
            name_registry().claim(owner, name)  # a name a classmate holds is refused: the student picks another
    account = user.get("email") or user.get("name") or user["sub"]
    st.sidebar.text(f"Signed in as {account}")  # the provider's text: plain text only, never Markdown
    if st.sidebar.button("Sign out", key="lab_sign_out", icon=":material/logout:"):
        st.logout()


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
