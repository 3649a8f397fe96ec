"""Two patterns every page with a callback or live work shares. Not a page (st.navigation does not list it).

- `CallbackMessage`: what a button's callback did (or why it did nothing), left for the rerun the click triggers.
- `live_fragment`: a part of the page that polls while some work goes on, and reruns the whole page once it ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class CallbackMessage:
    """The message a callback leaves in session state under `key`, for the page to show: once, or (`keep`) on every
    run until a callback leaves another or clears it (a message inside a polling fragment must outlive its polls)."""

    key: str
    keep: bool = False

    def leave(self, kind: str, text: str, icon: str | None = None) -> None:
        """From a callback: `kind` is the st function that shows it ("success", "error", "warning", "info")."""
        st.session_state[self.key] = (kind, text, icon)

    def clear(self) -> None:
        st.session_state.pop(self.key, None)

    def show(self, where=st) -> None:
        """The message left, in `where` (st, a column, a container); nothing if none was left."""
        message = st.session_state.get(self.key) if self.keep else st.session_state.pop(self.key, None)
        if message and message[1]:
            kind, text, icon = message
            getattr(where, kind)(text, icon=icon)


def live_fragment(draw: Callable[..., bool | None], *args, every_s: float, live: bool = True) -> None:
    """`draw(*args)` in a fragment that runs again every `every_s` seconds while the work is `live` (else once).

    `draw` returns False once the work has ended (or what the page draws around it changed): the first such run
    reruns the whole page once, which draws the end and stops the polling. Any other answer keeps polling.
    """

    def poll() -> None:
        if draw(*args) is False and live:
            st.rerun()

    st.fragment(poll, run_every=every_s if live else None)()
