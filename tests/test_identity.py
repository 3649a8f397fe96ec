"""core.lab.identity as plain Python: signed owner ids, the lab's secret, new ids per address, client addresses,
signed-in accounts; the instructor token's guard (core.lab.instructor_token.TokenGuard); and the lab's one count of both
(core.lab.guards)."""

import logging
import secrets
import stat
import subprocess
import sys

import pytest

from core.engine.config import TrainConfig
from core.engine.run_store import RunStore
from core.lab.guards import LabGuards
from core.lab.identity import (
    DEFAULT_NEW_IDS_PER_HOUR,
    LOCAL_ADDRESS,
    NEW_IDS_ENV,
    OLD_NEW_IDS_ENV,
    PROXY_ENV,
    SECRET_ENV,
    SECRET_FILE,
    Identity,
    NewIds,
    OwnerIds,
    account_display_name,
    account_owner_id,
    client_address,
    instructor_accounts,
    is_instructor,
    lab_secret,
    new_ids_per_hour,
    proxies_in_front,
)
from core.lab.instructor_token import TokenGuard, token_matches
from core.lab.jobs import MAX_WAITING_PER_OWNER, JobManager, RunRefused
from tests.lab_helpers import REPO

SECRET = b"k" * 64


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def forged_cookies(owner: str) -> list:
    """Cookies a student could write by hand: none of them signed by the server."""
    other = OwnerIds(b"another server's secret, long enough....")
    signed = OwnerIds(SECRET).cookie_for(owner)
    dot = signed.index(".") + 1  # the signature's first character (the last one has bits base64 ignores)
    flipped = signed[:dot] + ("A" if signed[dot] != "A" else "B") + signed[dot + 1:]
    return [secrets.token_hex(16), owner, f"{owner}.", flipped, other.cookie_for(owner),
            signed.replace(owner, secrets.token_hex(16)), "x" * 500, "", None, 42]


# --- signed owner ids ------------------------------------------------------------------------------------------
def test_a_signed_id_round_trips_and_anything_else_is_refused():
    ids = OwnerIds(SECRET)
    first = ids.identify(None, "10.0.0.1")
    assert len(first.owner) == 32 and first.cookie and first.owner in first.cookie and not first.shared
    assert ids.owner_from_cookie(first.cookie) == first.owner
    assert ids.identify(first.cookie, "10.9.9.9") == Identity(first.owner)  # any address: kept, no new cookie
    for cookie in forged_cookies(first.owner):
        assert ids.owner_from_cookie(cookie) is None, cookie


def test_an_edited_cookie_gets_its_addresss_stand_in_and_its_next_visit_a_fresh_signed_id():
    ids = OwnerIds(SECRET)
    typed = secrets.token_hex(16)  # what the cookie held before: any 32 hex digits made an owner
    edited = ids.identify(typed, "10.0.0.2")
    assert edited.owner == ids.stand_in_for("10.0.0.2") != typed and edited.shared and edited.cookie == ""
    fresh = ids.identify(None, "10.0.0.2")  # the cookie was dropped: the browser's next visit is a new one
    assert fresh.owner != edited.owner and ids.owner_from_cookie(fresh.cookie) == fresh.owner
    assert OwnerIds(b"another lab's secret, long enough.....").stand_in_for("10.0.0.2") != edited.owner


def test_a_flood_of_edited_cookies_from_one_address_gets_one_stand_in_and_nobodys_id():
    clock = Clock()
    ids = OwnerIds(SECRET, NewIds(clock=clock).issue)
    hostile = ids.identify(None, "10.0.0.3")
    classmate = ids.identify(None, "10.0.0.3")  # behind the same school address, the newest id issued there
    owners = {ids.identify(cookie, "10.0.0.3").owner for cookie in forged_cookies(hostile.owner)
              if isinstance(cookie, str) and cookie}
    clock.now += 3600  # no new owner once the minute's limit has passed either
    owners.add(ids.identify(secrets.token_hex(16), "10.0.0.3").owner)
    assert owners == {ids.stand_in_for("10.0.0.3")}
    assert not owners & {hostile.owner, classmate.owner}  # an edit never takes over a classmate's runs
    assert ids.identify(secrets.token_hex(16), "10.0.0.4").owner not in owners  # another address: its own


def test_new_ids_per_address_are_limited_and_the_limit_passes_after_an_hour():
    clock = Clock()
    ids = OwnerIds(SECRET, NewIds(per_hour=3, clock=clock).issue)
    owners = [ids.identify(None, "10.0.0.5") for _ in range(5)]
    assert len({o.owner for o in owners[:3]}) == 3 and not any(o.shared for o in owners[:3])
    assert [o.owner for o in owners[3:]] == [ids.stand_in_for("10.0.0.5")] * 2 and all(o.shared for o in owners[3:])
    assert owners[3].cookie is None  # a shared id is never stored: a later visit may get its own
    assert not ids.identify(None, "10.0.0.6").shared  # the limit is per address
    clock.now += 61
    assert ids.identify(None, "10.0.0.5").shared  # a minute is not enough: the address is remembered for an hour
    clock.now += 3600
    assert not ids.identify(None, "10.0.0.5").shared


def test_past_the_limit_a_browser_without_a_cookie_never_gets_a_classmates_id():
    ids = OwnerIds(SECRET, NewIds(per_hour=2, clock=Clock()).issue)
    classmates = [ids.identify(None, "10.0.0.8") for _ in range(2)]  # behind one school address
    deleter = ids.identify(None, "10.0.0.8")  # deleted their cookie once the address had its new ids
    assert deleter.shared and deleter.owner == ids.stand_in_for("10.0.0.8")
    assert deleter.owner not in {c.owner for c in classmates}  # no pause, stop or delete of the newest one's runs


def hostile_owners(minutes: float, clock: Clock, ids: OwnerIds, address: str) -> set[str]:
    """What a student gets who, every 10 s for `minutes`, edits their cookie, reloads without the cookie the lab
    deleted, and deletes the one it gave next: the owners of every visit."""
    owners, cookie = set(), None
    for _ in range(int(minutes * 6)):
        for action in ("edit", "reload", "delete"):
            sent = {"edit": secrets.token_hex(16), "reload": cookie, "delete": None}[action]
            got = ids.identify(sent, address)
            owners.add(got.owner)
            if got.cookie is not None:
                cookie = got.cookie or None
        clock.now += 10
    return owners


def test_a_student_who_edits_and_deletes_cookies_for_a_whole_class_gets_no_more_ids_than_for_a_minute():
    clock = Clock()
    ids = OwnerIds(SECRET, NewIds(clock=clock).issue)
    for_a_minute = hostile_owners(1, clock, ids, "10.0.1.1")
    for_a_class = hostile_owners(50, clock, ids, "10.0.1.2")
    assert len(for_a_class) <= len(for_a_minute) <= DEFAULT_NEW_IDS_PER_HOUR + 1  # the ids and the stand-in


def test_a_flood_of_edited_cookies_cannot_queue_more_than_the_waiting_limit(tmp_path, make_random_mnist):
    ids = OwnerIds(SECRET)
    manager = JobManager(RunStore(tmp_path / "runs"), data=make_random_mnist(500, 100), max_concurrent=1)
    try:
        manager.submit(TrainConfig(epochs=5, batch_size=1), owner="teacher")  # holds the one slot: the rest wait
        quick = TrainConfig(epochs=1, batch_size=50, train_subset=500)
        student = ids.identify(None, "10.0.0.7")
        queued = refused = 0
        for _ in range(8):  # eight tabs, each with the cookie edited to another owner
            owner = ids.identify(secrets.token_hex(16), "10.0.0.7").owner
            try:
                manager.submit(quick, owner=owner)
                queued += 1
            except RunRefused:
                refused += 1
        assert queued == MAX_WAITING_PER_OWNER and refused == 8 - MAX_WAITING_PER_OWNER
        assert manager.waiting_of(ids.stand_in_for("10.0.0.7")) == MAX_WAITING_PER_OWNER
        assert manager.waiting_of(student.owner) == 0  # the student's own id is untouched
    finally:
        manager.stop_all(instructor=True)
        manager.shutdown()


def test_the_limit_comes_from_the_environment():
    assert new_ids_per_hour({}) == DEFAULT_NEW_IDS_PER_HOUR
    assert new_ids_per_hour({NEW_IDS_ENV: " 40 "}) == 40
    assert new_ids_per_hour({OLD_NEW_IDS_ENV: "30"}) == 30  # a host who raised the older setting for a class
    assert new_ids_per_hour({NEW_IDS_ENV: "20", OLD_NEW_IDS_ENV: "30"}) == 20
    for name in (NEW_IDS_ENV, OLD_NEW_IDS_ENV):
        for bad in ("0", "-3", "many"):
            with pytest.raises(ValueError, match=name):
                new_ids_per_hour({name: bad})


# --- the lab's secret ----------------------------------------------------------------------------------------
def test_the_secret_is_made_once_private_and_reused(tmp_path):
    runs = tmp_path / "runs"
    first = lab_secret(runs, environ={})
    path = runs / SECRET_FILE
    assert len(first) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert lab_secret(runs, environ={}) == first
    assert sorted(p.name for p in runs.iterdir()) == [SECRET_FILE]  # nothing left aside
    cookie = OwnerIds(first).identify(None, "a").cookie
    assert OwnerIds(lab_secret(runs, environ={})).owner_from_cookie(cookie)  # a restart keeps every browser's id


def test_the_hosts_secret_wins_and_a_damaged_file_is_named(tmp_path):
    runs = tmp_path / "runs"
    assert lab_secret(runs, environ={SECRET_ENV: "the host's own secret"}) == b"the host's own secret"
    assert not (runs / SECRET_FILE).exists()
    runs.mkdir(exist_ok=True)
    (runs / SECRET_FILE).write_text("short")
    with pytest.raises(ValueError, match="damaged"):
        lab_secret(runs, environ={})


def test_processes_starting_together_get_the_same_secret(tmp_path):
    code = ("import sys; from core.lab.identity import lab_secret; "
            "sys.stdout.write(lab_secret(sys.argv[1], environ={}).decode())")
    workers = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "runs")], cwd=REPO,
                                stdout=subprocess.PIPE, text=True) for _ in range(4)]
    got = {worker.communicate(timeout=60)[0] for worker in workers}
    assert all(worker.returncode == 0 for worker in workers)
    assert got == {(tmp_path / "runs" / SECRET_FILE).read_text()}


# --- client addresses ------------------------------------------------------------------------------------------
def test_x_forwarded_for_counts_only_behind_a_proxy_and_only_the_proxys_entry():
    assert client_address("203.0.113.9", "1.2.3.4", proxies=0) == "203.0.113.9"  # a header anyone can send
    assert client_address(None, None, proxies=0) == LOCAL_ADDRESS
    # Behind one proxy that appends: the first entries are whatever the student typed, the last is real.
    assert client_address("10.0.0.1", "6.6.6.6, 198.51.100.7", proxies=1) == "198.51.100.7"
    assert client_address("10.0.0.1", "198.51.100.7", proxies=1) == "198.51.100.7"
    assert client_address("10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.2", proxies=2) == "198.51.100.7"
    assert client_address("10.0.0.1", " , ", proxies=1) == "10.0.0.1"
    assert proxies_in_front({}) == 0 and proxies_in_front({PROXY_ENV: "1"}) == 1
    assert proxies_in_front({PROXY_ENV: "yes"}) == 1 and proxies_in_front({PROXY_ENV: "2"}) == 2
    with pytest.raises(ValueError, match=PROXY_ENV):
        proxies_in_front({PROXY_ENV: "nginx"})


# --- signed-in accounts ----------------------------------------------------------------------------------------
def test_an_accounts_owner_id_is_its_issuer_and_subject():
    ann = account_owner_id("https://accounts.example", "ann-1")
    assert ann == account_owner_id("https://accounts.example", "ann-1")
    assert ann != account_owner_id("https://other.example", "ann-1") != account_owner_id("https://accounts.example",
                                                                                           "ann-2")
    assert OwnerIds(SECRET).owner_from_cookie(OwnerIds(SECRET).cookie_for(ann)) is None  # never an anonymous id
    with pytest.raises(ValueError):
        account_owner_id("https://accounts.example", "")


def test_an_accounts_display_name_is_its_name_else_its_emails_local_part():
    assert account_display_name({"name": " Ann Lee ", "email": "ann@school.edu"}) == "Ann Lee"
    assert account_display_name({"email": "bob.k@school.edu"}) == "bob.k"
    assert account_display_name({"name": "Evil\u202eeman", "email": "cy@school.edu"}) == "cy"
    assert account_display_name({"name": "x" * 31}) == "" and account_display_name({}) == ""


def test_instructors_are_listed_accounts_only():
    accounts = instructor_accounts({"MNIST_LAB_INSTRUCTORS": " Teacher@School.edu , sub-42 ,"})
    assert is_instructor({"sub": "x", "email": "teacher@school.edu", "email_verified": True}, accounts)
    assert is_instructor({"sub": "sub-42"}, accounts)
    assert not is_instructor({"sub": "SUB-42"}, accounts)  # subjects are exact
    assert not is_instructor({"sub": "x", "email": "teacher@school.edu", "email_verified": False}, accounts)
    assert not is_instructor({"sub": "x", "email": "student@school.edu", "email_verified": True}, accounts)
    assert not is_instructor({"sub": "teacher@school.edu"}, instructor_accounts({}))


def test_a_subject_is_matched_only_against_subject_entries_and_an_email_only_against_email_entries():
    # The probe: an account whose subject is the listed email got the instructor's controls, whatever its email.
    by_email = instructor_accounts({"MNIST_LAB_INSTRUCTORS": "teacher@school.edu"})
    assert not is_instructor({"sub": "teacher@school.edu", "email": "eve@evil.example", "email_verified": True},
                             by_email)
    assert not is_instructor({"sub": "teacher@school.edu"}, by_email)
    # A subject that looks like an email is listed as one with "sub:", and then only a subject matches it.
    by_subject = instructor_accounts({"MNIST_LAB_INSTRUCTORS": "sub:teacher@school.edu, sub: t-9 "})
    assert is_instructor({"sub": "teacher@school.edu", "email": "ms.l@school.edu"}, by_subject)
    assert is_instructor({"sub": "t-9"}, by_subject)
    assert not is_instructor({"sub": "x", "email": "teacher@school.edu", "email_verified": True}, by_subject)
    assert not is_instructor({"sub": "sub:teacher@school.edu"}, by_subject)
    assert not instructor_accounts({"MNIST_LAB_INSTRUCTORS": " sub: , ,"})  # an empty subject lists nobody


@pytest.mark.parametrize(("claim", "verified"), [
    (True, True), ("true", True), ("TRUE", True), ("True", True),
    (False, False), ("false", False), ("False", False), ("no", False), ("0", False), ("", False), (1, False),
    (None, False), ("missing", False)])
def test_email_verified_is_read_strictly(claim, verified):
    accounts = instructor_accounts({"MNIST_LAB_INSTRUCTORS": "teacher@school.edu"})
    user = {"sub": "x", "email": "teacher@school.edu"}
    if claim != "missing":
        user["email_verified"] = claim
    assert is_instructor(user, accounts) is verified


# --- the instructor token's guard ------------------------------------------------------------------------------
TOKEN = "the-instructor-token"


def test_after_a_wrong_try_that_address_waits_and_longer_each_time():
    clock = Clock()
    guard = TokenGuard(address_wait_s=1.0, free_failures=100, clock=clock)
    first = guard.attempt("10.1.0.1", False)
    assert not first.unlocked and first.wait_s == 1.0 and first.wrong_from_address == 1
    refused = guard.attempt("10.1.0.1", True)  # even the right token does not count during the wait
    assert not refused.unlocked and not refused.counted and refused.wait_s == 1.0
    assert guard.wait_left("10.1.0.2") == 0  # another address is not held back (the server saw one failure)
    clock.now += 1.0
    assert guard.attempt("10.1.0.1", False).wait_s == 2.0
    clock.now += 2.0
    assert guard.attempt("10.1.0.1", True).unlocked


def test_twelve_fresh_sessions_cannot_make_twelve_guesses():
    clock = Clock()
    guard = TokenGuard(free_failures=3, clock=clock)
    tries = [guard.attempt(f"10.2.0.{n}", False) for n in range(12)]  # 12 addresses, same moment
    # Three free failures and the one that passes them count; then the whole lab waits.
    assert [t.wrong_from_address for t in tries] == [1] * 4 + [0] * 8
    assert [t.counted for t in tries] == [True] * 4 + [False] * 8
    assert not any(t.unlocked for t in tries) and all(t.wait_s > 0 for t in tries)
    assert not guard.attempt("10.2.0.99", True).unlocked  # even the right token, from a new address
    # From one address in 12 tabs: only the first counts, even the right token at the end does not.
    same = TokenGuard(clock=Clock())
    tries = [same.attempt("10.3.0.1", False) for _ in range(11)] + [same.attempt("10.3.0.1", True)]
    assert [t.counted for t in tries] == [True] + [False] * 11 and not any(t.unlocked for t in tries)


def test_the_server_wide_wait_doubles_and_is_capped_and_forgotten():
    clock = Clock()
    guard = TokenGuard(free_failures=2, window_s=60, max_wait_s=8, clock=clock)
    waits = []
    for n in range(8):
        clock.now += 100 if n == 0 else guard.wait_left(f"10.4.0.{n}")
        waits.append(guard.attempt(f"10.4.0.{n}", False).wait_s)
    assert waits[:2] == [1.0, 1.0] and waits[2:6] == [1.0, 2.0, 4.0, 8.0] and max(waits) == 8
    clock.now += 61 + 8
    assert guard.wait_left("10.4.0.99") == 0 and guard.attempt("10.4.0.99", True).unlocked


def test_wrong_tries_are_logged_with_the_address_and_the_guard_never_sees_a_guess(caplog):
    guard = TokenGuard(clock=Clock())
    with caplog.at_level(logging.WARNING, logger="core.lab.instructor_token"):
        guard.attempt("10.5.0.1", token_matches("my-secret-guess-123", TOKEN))  # the web process compares
        guard.attempt("10.5.0.1", True)  # refused while waiting: it does not count, not logged again
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "10.5.0.1" in messages[0] and "1 wrong" in messages[0]
    assert "my-secret-guess-123" not in messages[0] and TOKEN not in messages[0]


# --- the lab's guards: one count for every web process -----------------------------------------------------
def test_the_labs_guards_count_new_ids_and_token_tries_for_every_server_that_asks_them():
    clock = Clock()
    guards = LabGuards(NewIds(per_hour=2, clock=clock), TokenGuard(free_failures=100, clock=clock))
    first, second = (OwnerIds(SECRET, guards.issue_owner_id) for _ in range(2))  # two web processes, one lab
    got = [first.identify(None, "10.6.0.1"), second.identify(None, "10.6.0.1"), first.identify(None, "10.6.0.1")]
    assert [g.shared for g in got] == [False, False, True] and got[2].owner == first.stand_in_for("10.6.0.1")
    assert first.owner_from_cookie(got[1].cookie) == got[1].owner  # either process reads the other's cookie
    assert not guards.try_token("10.6.0.2", False).unlocked
    assert not guards.try_token("10.6.0.2", True).counted  # the wait after a wrong try holds on every process


def test_a_wrong_limit_of_new_ids_is_said_when_a_visitor_comes_not_when_the_lab_starts(monkeypatch):
    monkeypatch.setenv(NEW_IDS_ENV, "lots")
    guards = LabGuards()  # a coordinator that could not start would take the whole lab with it
    with pytest.raises(ValueError, match=NEW_IDS_ENV):
        guards.issue_owner_id("10.6.0.3")
    monkeypatch.setenv(NEW_IDS_ENV, "1")
    assert guards.issue_owner_id("10.6.0.3") is not None and guards.issue_owner_id("10.6.0.3") is None


# --- on the pages: several AppTest sessions of one server -----------------------------------------------------
@pytest.fixture
def server(lab, monkeypatch):
    """AppTests on one server; each session's address and sent cookie are what `visitor` holds when it starts
    (AppTest has no browser connection: pages/ui/common reads them through two small functions)."""
    from pages.ui import common

    visitor = {"ip": "10.8.0.1", "cookie": None}
    monkeypatch.setattr(common, "_connection", lambda: (visitor["ip"], None), raising=False)
    monkeypatch.setattr(common, "_sent_cookie", lambda: visitor["cookie"], raising=False)
    monkeypatch.delenv("MNIST_LAB_INSTRUCTOR_TOKEN", raising=False)
    return lab, visitor


def test_a_page_session_never_adopts_a_cookie_the_server_did_not_sign(server):
    from pages.ui import common, services

    lab, visitor = server
    mine = lab("pages/train.py").session_state[common.OWNER]
    for edited in (secrets.token_hex(16), mine + "x", OwnerIds(b"another secret, at least 32 chars").cookie_for(
            secrets.token_hex(16))):
        visitor["cookie"] = edited
        edited_owner = lab("pages/train.py").session_state[common.OWNER]
        assert edited_owner == services.owner_ids().stand_in_for(visitor["ip"]) != mine  # neither the edit nor mine
    visitor["cookie"] = services.owner_ids().cookie_for(mine)
    visitor["ip"] = "10.8.0.2"
    assert lab("pages/train.py").session_state[common.OWNER] == mine  # a signed cookie keeps its owner anywhere


def test_a_host_setting_the_lab_cannot_read_is_said_in_words(server, monkeypatch):
    lab, _ = server
    monkeypatch.setenv(PROXY_ENV, "nginx")
    from streamlit.testing.v1 import AppTest

    from tests.lab_helpers import APP

    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception and PROXY_ENV in at.error[0].value and "not set up correctly" in at.error[0].value


def unlock_buttons(at):
    return [b for b in at.button if b.label == "Unlock"]


def test_token_guesses_from_many_sessions_of_one_server_are_slowed_and_logged(server, monkeypatch, caplog):
    monkeypatch.setenv("MNIST_LAB_INSTRUCTOR_TOKEN", TOKEN)
    from pages.ui import services

    lab, visitor = server
    services.lab_guards().token_guard.clock = Clock()  # the tabs open within one moment, however slow the machine
    said = []
    with caplog.at_level(logging.WARNING, logger="core.lab.instructor_token"):
        for n in range(12):  # twelve fresh tabs from twelve addresses, one guess each, the last one right
            visitor["ip"] = f"10.9.0.{n}"
            at = lab("pages/class.py")
            at.text_input(key="class_token").set_value(TOKEN if n == 11 else f"guess-{n}")
            unlock_buttons(at)[0].click().run()
            said.append(at.error[0].value if at.error else "")
    assert [("not the instructor token" in s, "did not count" in s) for s in said] == [(True, False)] * 4 + [
        (False, True)] * 8
    assert not any(b.label == "Set the challenge" for b in at.button)  # the right token came during the wait
    logged = [r.getMessage() for r in caplog.records if r.name == "core.lab.instructor_token"]
    assert len(logged) == 4 and all(f"10.9.0.{n}" in logged[n] for n in range(4))
    assert not any("guess-" in line or TOKEN in line for line in logged)


def account_page(page: str, user: dict):
    """An AppTest of the app as seen by this account (st.user), opened at `page`."""
    from streamlit.testing.v1 import AppTest

    from tests.lab_helpers import APP

    at = AppTest.from_file(APP, default_timeout=30)
    at.user = user
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


ANN = {"is_logged_in": True, "iss": "https://id.school.example", "sub": "ann-1", "email": "ann@school.edu",
       "name": "Ann Lee"}
TEACHER = {"is_logged_in": True, "iss": "https://id.school.example", "sub": "t-9", "email": "Teacher@School.edu",
           "email_verified": True}


def test_with_sign_in_only_an_account_trains_and_its_runs_are_the_accounts(server, monkeypatch):
    from pages.ui import common, services
    from pages.ui.display_name import STUDENT

    monkeypatch.setattr(common, "signin_configured", lambda: True)
    stranger = account_page("pages/train.py", {"is_logged_in": False})
    assert "Sign in" in [b.label for b in stranger.button] and "Sign in to train" in stranger.info[0].value
    assert not any(b.key == "train_start" for b in stranger.button)
    stranger.button(key="lab_sign_in_page").click().run()  # this test's server has no [auth] to sign in with
    assert not stranger.exception and "Sign-in is not set up correctly" in stranger.error[0].value
    for page in ("pages/hyperparameters.py", "pages/class.py", "pages/home.py"):  # the rest of the lab still shows
        assert account_page(page, {"is_logged_in": False}).title
    ann = account_page("pages/train.py", ANN)
    assert ann.session_state[STUDENT] == "Ann Lee" and "Sign in" not in [b.label for b in ann.button]
    ann.button(key="train_start").click().run()
    manager = services.lab()
    job = manager.get(ann.query_params["job"][0] if isinstance(ann.query_params["job"], list)
                      else ann.query_params["job"])
    assert job.owner == account_owner_id(ANN["iss"], ANN["sub"])
    manager.wait(job.id, timeout=60)


def test_with_sign_in_listed_accounts_are_the_instructors_and_the_token_is_no_way_in(server, monkeypatch):
    from pages.ui import common

    monkeypatch.setattr(common, "signin_configured", lambda: True)
    monkeypatch.setenv("MNIST_LAB_INSTRUCTORS", "teacher@school.edu")
    monkeypatch.setenv("MNIST_LAB_INSTRUCTOR_TOKEN", TOKEN)
    teacher = account_page("pages/class.py", TEACHER)
    assert {"Set the challenge", "Start a fresh board"} <= {b.label for b in teacher.button}
    assert not any(t.label == "Instructor token" for t in teacher.text_input)
    ann = account_page("pages/class.py", ANN)
    assert not any(b.label in ("Set the challenge", "Unlock") for b in ann.button)
    assert not any(h.value == "Instructor" for h in ann.header)
    # The probe's accounts: a subject that is the listed email, and the teacher's email marked unverified as text.
    for impostor in ({**ANN, "sub": "teacher@school.edu"}, {**TEACHER, "email_verified": "False"}):
        at = account_page("pages/class.py", impostor)
        assert not any(b.label == "Set the challenge" for b in at.button)
