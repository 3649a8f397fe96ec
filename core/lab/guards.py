"""What slows a hostile visitor, counted once for the whole lab: new owner ids per network address, and tries at
the instructor token. The lab's JobManager keeps one LabGuards (the Lab's issue_owner_id and try_token); with several
web processes (Ray) that is the coordinator's, so a web process more gives nobody more ids or more guesses.
"""

from __future__ import annotations

import threading

from core.lab.identity import NewIds, new_ids_per_hour
from core.lab.instructor_token import TokenGuard, TokenTry


class LabGuards:
    """The lab's NewIds and TokenGuard behind two calls; thread-safe. The limit of new ids is read at the first
    one ($MNIST_LAB_NEW_IDS_PER_HOUR), so a wrong setting is said to the visitor, not raised at the lab's start."""

    def __init__(self, new_ids: NewIds | None = None, token_guard: TokenGuard | None = None):
        self._new_ids = new_ids
        self.token_guard = token_guard or TokenGuard()
        self._lock = threading.Lock()

    def issue_owner_id(self, address: str) -> str | None:
        """A new owner id for a visitor from `address`; None once the address has had its new ids for the hour."""
        with self._lock:
            if self._new_ids is None:
                self._new_ids = NewIds(new_ids_per_hour())  # ValueError: the host's setting, said in words
        return self._new_ids.issue(address)

    def try_token(self, address: str, right: bool) -> TokenTry:
        """A try at the instructor token from `address` that was `right` or not (see TokenGuard.attempt)."""
        return self.token_guard.attempt(address, right)
