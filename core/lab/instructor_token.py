"""The instructor token that unlocks the Class page's controls: where the server reads it, how a guess and an
unlocked session are checked, and the guard that slows guesses for the whole lab (core.lab.guards keeps one).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

TOKEN_ENV = "MNIST_LAB_INSTRUCTOR_TOKEN"


def instructor_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The server's instructor token, or None when it is not set (then there are no instructor controls)."""
    token = (environ if environ is not None else os.environ).get(TOKEN_ENV, "").strip()
    return token or None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def token_matches(guess: object, token: str | None) -> bool:
    """True when `guess` is the token; compared in constant time (equal-length digests), never True without one."""
    if not token or not isinstance(guess, str):
        return False
    return hmac.compare_digest(_digest(guess.strip()), _digest(token))


def unlock_proof(token: str) -> str:
    """What an unlocked browser session keeps: derived from the token, so only someone who knew the token has it,
    and a new token on the server locks every session again."""
    return hmac.new(token.encode(), b"mnist-lab instructor session", hashlib.sha256).hexdigest()


def proof_matches(proof: object, token: str | None) -> bool:
    """True when a session's proof was made from the server's current token."""
    return bool(token) and isinstance(proof, str) and hmac.compare_digest(proof, unlock_proof(token))


@dataclass(frozen=True)
class TokenTry:
    """What became of one try at the token: `unlocked`; `counted` (False: it came during a wait, so its answer was
    thrown away); `wait_s` before the next try; how many wrong tries this address has made."""

    unlocked: bool
    counted: bool = True
    wait_s: float = 0.0
    wrong_from_address: int = 0


class TokenGuard:
    """Slows guesses at the instructor token for the whole lab, not per tab: thread-safe, one per lab (with several
    web processes, the coordinator's: core.lab.guards).

    After a wrong try an address waits `address_wait_s`, doubling with each further wrong try; past
    `free_failures` wrong tries in the lab within `window_s`, every address waits too, doubling up to
    `max_wait_s`. A try during a wait does not count, right or wrong. The guard never sees the guess (the web
    process compares it, `token_matches`); wrong tries are logged with the address.
    """

    def __init__(self, address_wait_s: float = 1.0, free_failures: int = 3, window_s: float = 60.0,
                 max_wait_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.address_wait_s, self.free_failures = address_wait_s, free_failures
        self.window_s, self.max_wait_s = window_s, max_wait_s
        self.clock = clock
        self._by_address: dict[str, tuple[int, float]] = {}  # wrong tries, and the time it may try again
        self._failures: deque[float] = deque()  # times of the lab's wrong tries within the window
        self._everyone_until = 0.0
        self._lock = threading.Lock()

    def wait_left(self, address: str) -> float:
        """Seconds before `address` may try again (0: now)."""
        now = self.clock()
        with self._lock:
            return self._wait_left(address, now)

    def _wait_left(self, address: str, now: float) -> float:
        _, until = self._by_address.get(address, (0, 0.0))
        return max(0.0, until - now, self._everyone_until - now)

    def attempt(self, address: str, right: bool) -> TokenTry:
        """A try from `address` that was `right` (token_matches) or not: unlocked if right and `address` need not
        wait; a wrong one is counted and logged."""
        now = self.clock()
        with self._lock:
            wait = self._wait_left(address, now)
            wrong, _ = self._by_address.get(address, (0, 0.0))
            if wait > 0:
                return TokenTry(False, False, wait, wrong)
            if right:
                self._by_address.pop(address, None)
                return TokenTry(True)
            wrong += 1
            until = now + min(self.max_wait_s, self.address_wait_s * 2 ** (wrong - 1))
            self._by_address[address] = (wrong, until)
            while self._failures and self._failures[0] <= now - self.window_s:
                self._failures.popleft()
            self._failures.append(now)
            over = len(self._failures) - self.free_failures
            if over > 0:
                self._everyone_until = now + min(self.max_wait_s, 2.0 ** (over - 1))
            recent = len(self._failures)
            self._forget(now)
            wait = self._wait_left(address, now)
        log.warning("Wrong instructor token from %s: %d wrong from this address, %d in the lab in the last "
                    "%.0f s; the next try waits %.1f s", address, wrong, recent, self.window_s, wait)
        return TokenTry(False, True, wait, wrong)

    def _forget(self, now: float) -> None:
        """Forget addresses whose wait ended a window ago, so memory stays small."""
        if len(self._by_address) > 1000:
            for address in [a for a, (_, until) in self._by_address.items() if until < now - self.window_s]:
                del self._by_address[address]
