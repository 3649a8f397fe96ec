"""Who a visitor is: a server-signed owner id in a cookie (anonymous mode), or a signed-in account.

Anonymous mode: the server makes every owner id and signs it (itsdangerous, HMAC-SHA1 keyed by the lab's
secret), so an edited cookie is just ignored; each client address gets a few new ids an hour, so clearing
cookies for a whole class earns no more owners than clearing them for a minute. With sign-in, the id comes from
the provider's issuer and subject. Plain Python: the pages pass in the cookie, the address and the account's
claims.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, Signer

from core.engine.display_name import clean_name, name_problem

log = logging.getLogger(__name__)

SECRET_ENV = "MNIST_LAB_SECRET"  # the host's own secret; else one is made in the runs folder
SECRET_FILE = ".lab_secret"
SECRET_BYTES = 32
NEW_IDS_ENV = "MNIST_LAB_NEW_IDS_PER_HOUR"
OLD_NEW_IDS_ENV = "MNIST_LAB_NEW_IDS_PER_MINUTE"  # its name until ids were counted per hour; still read
DEFAULT_NEW_IDS_PER_HOUR = 6
PROXY_ENV = "MNIST_LAB_BEHIND_PROXY"  # how many proxies in front of the lab append to X-Forwarded-For
INSTRUCTORS_ENV = "MNIST_LAB_INSTRUCTORS"
SIGN_IN_EVERY_PAGE_ENV = "MNIST_LAB_SIGN_IN_EVERY_PAGE"  # on: a visitor not signed in sees only Sign in
LOCAL_ADDRESS = "local"  # Streamlit gives no address for a browser on the server's own machine
_ANONYMOUS_ID = re.compile(r"^[0-9a-f]{32}$")
_SALT = b"mnist-lab owner cookie"
_EDITED_SALT = b"mnist-lab edited cookie:"


# --- the lab's secret --------------------------------------------------------------------------------------
def lab_secret(runs_dir: str | os.PathLike, environ: Mapping[str, str] | None = None) -> bytes:
    """The key that signs owner ids: $MNIST_LAB_SECRET, else runs/.lab_secret, made once (mode 0600).

    Two server processes starting together agree: the file appears whole or not at all (written aside,
    then hard-linked into place, which fails if another process got there first).
    """
    given = (environ if environ is not None else os.environ).get(SECRET_ENV, "").strip()
    if given:
        return given.encode()
    path = Path(runs_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        aside = path.with_name(f"{SECRET_FILE}.{secrets.token_hex(8)}.tmp")
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(secrets.token_hex(SECRET_BYTES).encode())
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):  # another process made it first: theirs is kept
                os.link(aside, path)
        finally:
            aside.unlink(missing_ok=True)
    secret = path.read_bytes().strip()
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"The lab's secret {path} is damaged (shorter than {SECRET_BYTES} characters). "
                         "Delete it and restart the lab: it makes a new one, and every browser gets a new id.")
    return secret


# --- the client's address ----------------------------------------------------------------------------------
def proxies_in_front(environ: Mapping[str, str] | None = None) -> int:
    """How many proxies the host says stand in front of the lab ($MNIST_LAB_BEHIND_PROXY; 0 when unset)."""
    raw = (environ if environ is not None else os.environ).get(PROXY_ENV, "").strip().lower()
    if raw in {"", "0", "no", "false"}:
        return 0
    if raw in {"yes", "true"}:
        return 1
    try:
        return max(0, int(raw))
    except ValueError:
        raise ValueError(f"{PROXY_ENV} must be the number of proxies in front of the lab (for example 1), "
                         f"not {raw!r}") from None


def client_address(ip: str | None, forwarded_for: str | None, proxies: int) -> str:
    """The address a visitor is counted under: the connection's, or, behind `proxies` proxies, the entry
    of X-Forwarded-For that the outermost one added (entries further left are whatever the client sent)."""
    if proxies and isinstance(forwarded_for, str):
        entries = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
        if entries:
            return entries[max(0, len(entries) - proxies)]
    return ip if isinstance(ip, str) and ip else LOCAL_ADDRESS


def new_ids_per_hour(environ: Mapping[str, str] | None = None) -> int:
    """New owner ids one address may get in an hour ($MNIST_LAB_NEW_IDS_PER_HOUR, else the older
    $MNIST_LAB_NEW_IDS_PER_MINUTE, at least 1)."""
    environ = environ if environ is not None else os.environ
    name = NEW_IDS_ENV if environ.get(NEW_IDS_ENV, "").strip() else OLD_NEW_IDS_ENV
    raw = environ.get(name, "").strip()
    if not raw:
        return DEFAULT_NEW_IDS_PER_HOUR
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {raw!r}")
    return value


# --- anonymous owner ids -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """Who a session is. `cookie`: what the browser should store: a signed id, "" to delete its cookie, None to
    keep what it has. A `shared` id is the address's stand-in, handed out instead of an id of its own: for a
    cookie the server did not sign, or to a browser without one once the address has had its new ids."""

    owner: str
    cookie: str | None = None
    shared: bool = False


class NewIds:
    """Makes new anonymous owner ids, at most `per_hour` in any hour per address; thread-safe, one per lab (with
    several web processes, the coordinator's: core.lab.guards).

    An hour, not a minute: a student who deletes or edits their cookie again and again would otherwise earn the
    minute's ids anew every minute of a class. The ids already handed out are never shared past the limit
    (OwnerIds gives the address's stand-in), so nobody takes over the classmate who came last.
    """

    WINDOW_S = 3600.0

    def __init__(self, per_hour: int = DEFAULT_NEW_IDS_PER_HOUR, clock: Callable[[], float] = time.monotonic):
        if per_hour < 1:
            raise ValueError("at least one new id an hour")
        self.per_hour = per_hour
        self.clock = clock
        self._issued: OrderedDict[str, deque[float]] = OrderedDict()  # by address, least recently issued first
        self._lock = threading.Lock()

    def issue(self, address: str) -> str | None:
        """A new id for a visitor from `address`; None once the address has had `per_hour` in the last hour."""
        now = self.clock()
        with self._lock:
            self._forget_before(now - self.WINDOW_S)
            times = self._issued.get(address) or deque()
            while times and times[0] <= now - self.WINDOW_S:
                times.popleft()
            if len(times) >= self.per_hour:
                return None
            times.append(now)
            self._issued[address] = times
            self._issued.move_to_end(address)  # now the most recent
            return secrets.token_hex(16)

    def _forget_before(self, cutoff: float) -> None:
        """Drop addresses with no id issued since `cutoff` (the oldest come first), so memory stays small."""
        while self._issued:
            address, times = next(iter(self._issued.items()))
            if times and times[-1] > cutoff:
                return
            del self._issued[address]


class OwnerIds:
    """Checks and signs anonymous owner ids, and asks `new_ids` (a NewIds's `issue`, or the lab coordinator's)
    for new ones; one per server process."""

    def __init__(self, secret: bytes, new_ids: Callable[[str], str | None] | None = None):
        self._signer = Signer(secret, salt=_SALT)
        self._secret = secret
        self._new_ids = new_ids or NewIds().issue

    def cookie_for(self, owner: str) -> str:
        """The cookie value for `owner`: the id and its signature."""
        return self._signer.sign(owner.encode()).decode()

    def owner_from_cookie(self, cookie: object) -> str | None:
        """The owner id in a cookie this server signed; None for anything else (edited, forged, unsigned)."""
        if not isinstance(cookie, str) or len(cookie) > 200:
            return None
        try:
            owner = self._signer.unsign(cookie.encode()).decode()
        except (BadSignature, UnicodeError):
            return None
        return owner if _ANONYMOUS_ID.match(owner) else None

    def identify(self, cookie: object, address: str) -> Identity:
        """The owner of a session that arrived with `cookie` from `address`: the cookie's id if signed here,
        else a new one from `new_ids`, or, once the address has had its new ids for the hour, its stand-in.

        A cookie this server did not sign (edited, forged; an honest browser never has one) gets the address's
        stand-in id, the same every time, and the cookie is dropped: its next visit counts as new.
        """
        owner = self.owner_from_cookie(cookie)
        if owner is not None:
            return Identity(owner)
        if isinstance(cookie, str) and cookie:
            log.info("A cookie this server did not sign, from %s: the address's stand-in id", address)
            return Identity(self.stand_in_for(address), cookie="", shared=True)
        owner = self._new_ids(address)
        if owner is None:
            log.info("No new owner id for %s (it has had the new ids of an hour): the address's stand-in id", address)
            return Identity(self.stand_in_for(address), shared=True)
        return Identity(owner, cookie=self.cookie_for(owner))

    def stand_in_for(self, address: str) -> str:
        """The one owner id of every session from `address` that brought a cookie this server did not sign, or none
        once the address has had its new ids for the hour.

        Never issued to a browser: edited or deleted cookies neither earn new owners (each with its waiting runs)
        nor take over a classmate's id behind the same address. Keyed by the lab's secret, so nobody can compute it.
        """
        return hmac.new(self._secret, _EDITED_SALT + address.encode(), hashlib.sha256).hexdigest()[:32]


# --- signed-in accounts --------------------------------------------------------------------------------------
def account_owner_id(issuer: str, subject: str) -> str:
    """The owner id of a signed-in account: the provider's issuer and subject, hashed (never an anonymous id)."""
    if not subject:
        raise ValueError("a signed-in account has a subject")
    return "acct-" + hashlib.sha256(f"{issuer}\0{subject}".encode()).hexdigest()[:32]


def account_display_name(user: Mapping) -> str:
    """The display name an account starts with: its name, else its email's local part; "" if neither is valid."""
    email = user.get("email")
    candidates = [user.get("name"), email.split("@")[0] if isinstance(email, str) else None]
    for candidate in candidates:
        if isinstance(candidate, str) and name_problem(candidate) is None:
            return clean_name(candidate)
    return ""


SUBJECT_PREFIX = "sub:"  # an instructors entry that names a subject; an entry with "@" (and no prefix) is an email


@dataclass(frozen=True)
class Instructors:
    """$MNIST_LAB_INSTRUCTORS read into its two kinds of entry: verified emails (casefolded) and exact subjects."""

    emails: frozenset[str] = frozenset()
    subjects: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.emails or self.subjects)


def instructor_accounts(environ: Mapping[str, str] | None = None) -> Instructors:
    """$MNIST_LAB_INSTRUCTORS (comma-separated): `teacher@school.edu` is an email, `sub:XYZ` a subject; an entry
    without "@" is a subject too, as the lab read it before (a subject is never matched against an email entry)."""
    raw = (environ if environ is not None else os.environ).get(INSTRUCTORS_ENV, "")
    emails, subjects = set(), set()
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        if entry.startswith(SUBJECT_PREFIX):
            subjects.add(entry[len(SUBJECT_PREFIX):].strip())
        elif "@" in entry:
            emails.add(entry.casefold())
        else:
            subjects.add(entry)
    return Instructors(frozenset(emails), frozenset(subjects - {""}))


def email_verified(user: Mapping) -> bool:
    """True only when the provider says the email is verified: True, or the text "true" in any case. Missing,
    False, "False", "no"... are not (some providers send no such claim and let anyone type any email)."""
    claim = user.get("email_verified")
    return claim is True or (isinstance(claim, str) and claim.casefold() == "true")


def is_instructor(user: Mapping, accounts: Instructors) -> bool:
    """True when a signed-in account is listed: its exact subject among the subject entries, or its verified email
    (any case) among the email entries. Each is matched against its own kind of entry only."""
    subject, email = user.get("sub"), user.get("email")
    if isinstance(subject, str) and subject in accounts.subjects:
        return True
    return email_verified(user) and isinstance(email, str) and email.strip().casefold() in accounts.emails


def sign_in_every_page(environ: Mapping[str, str] | None = None) -> bool:
    """$MNIST_LAB_SIGN_IN_EVERY_PAGE: every page behind sign-in. Off when unset, empty, 0, no, false or off; any
    other value turns it on, so a host who meant to close the lab is never left open by a typo."""
    raw = (environ if environ is not None else os.environ).get(SIGN_IN_EVERY_PAGE_ENV, "").strip().lower()
    return raw not in {"", "0", "no", "false", "off"}
