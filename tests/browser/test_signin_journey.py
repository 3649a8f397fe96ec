"""Sign-in end to end: a real OpenID Connect provider (oidc-provider-mock, on a free port) and the lab with an
[auth] section in its secrets, through Streamlit's own st.login. Students are accounts: their runs carry them,
a classmate watching a run gets no controls nor their name, and only a listed account sees the instructor's
controls.
Without sign-in, a hand-edited owner cookie is replaced on the first visit.
"""

import json
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlencode

import pytest

from core.engine.run_store import owner_tag
from core.lab.identity import account_owner_id
from tests.browser.conftest import browser_tabs
from tests.browser.lab_server import StreamlitPage, free_port, start_lab_server, stop_lab_server, until_shown
from tests.lab_helpers import wait_until, wait_until_serving

pytestmark = pytest.mark.browser
USERS = {  # the provider says each email is verified, as Google does: only then does an email entry count
    "ann": {"sub": "ann-sub", "email": "ann@school.edu", "name": "Ann", "email_verified": True},
    "bob": {"sub": "bob-sub", "email": "bob@school.edu", "name": "Bob", "email_verified": True},
    "cy": {"sub": "cy-sub", "email": "cy@school.edu", "name": "Cy", "email_verified": True},
    "teacher": {"sub": "teacher-sub", "email": "teacher@school.edu", "name": "Ms Lovelace", "email_verified": True},
}
TINY = {"epochs": 1, "train_subset": 2000, "batch_size": 64, "seed": 0}
LONGER = {**TINY, "epochs": 4, "train_subset": 6000}  # still short, but long enough to be watched while it trains
RUN_MS = 120_000


@pytest.fixture
def oidc_provider(tmp_path):
    """oidc-provider-mock on a free port, with the journey's accounts offered on its login page; yields its URL."""
    port = free_port()
    claims = [arg for user in USERS.values() for arg in ("--user-claims", json.dumps(user))]
    log = open(tmp_path / "oidc.log", "wb")  # noqa: SIM115 - closed after the provider stops
    provider = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(port), *claims],
                                stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def issuer_of() -> str | None:
        try:
            with urllib.request.urlopen(f"{url}/.well-known/openid-configuration", timeout=2) as response:
                return json.load(response)["issuer"]
        except OSError:
            return None

    try:
        issuer = wait_until_serving(provider, issuer_of, 30, "its configuration", tmp_path / "oidc.log")
    except AssertionError as error:
        provider.terminate()
        pytest.fail(f"the OpenID Connect provider did not start: {error}")
    try:
        yield url, issuer
    finally:
        provider.terminate()
        provider.wait(10)
        log.close()


@pytest.fixture
def signin_lab(tmp_path, oidc_provider, browser):
    """The lab with sign-in through the provider and one instructor account; yields (runs folder, issuer, new_tab)."""
    provider_url, issuer = oidc_provider
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'  # Streamlit fills in its own port
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "mnist-lab"\n'
        f'client_secret = "{secrets.token_hex(16)}"\n'
        f'server_metadata_url = "{provider_url}/.well-known/openid-configuration"\n'
    )
    runs = tmp_path / "runs"
    server, url = start_lab_server(runs, tmp_path / "streamlit.log",
                                   extra_env={"MNIST_LAB_INSTRUCTORS": USERS["teacher"]["email"]},
                                   extra_args=("--secrets.files", str(secrets_file)))
    try:
        with browser_tabs(browser, url) as new_tab:
            yield runs, issuer, new_tab
    finally:
        stop_lab_server(server)


def button(page, key: str):
    return page.locator(f".st-key-{key} button").first


def sign_in(app: StreamlitPage, who: str) -> None:
    """Sign in through the provider's login page as one of USERS; back on the lab, signed in."""
    app.open()
    button(app.page, "lab_sign_in").click()
    app.page.get_by_role("button", name=USERS[who]["sub"], exact=True).click()  # the provider's page
    app.page.get_by_text(f"Signed in as {USERS[who]['email']}").wait_for()
    app.wait_until_idle()


def finished(app: StreamlitPage) -> None:
    app.page.locator('[data-testid="stAlertContainer"]', has_text="Finished: test accuracy").first.wait_for(
        timeout=RUN_MS)


def saved_runs(runs) -> dict[str, dict]:
    """Every saved run's run.json, by the display name it was trained under."""
    records = (json.loads(path.read_text()) for path in runs.glob("*/run.json"))
    return {record["student"]: record for record in records}


def test_students_and_the_instructor_are_their_accounts(signin_lab, record_timing):
    runs, issuer, new_tab = signin_lab

    # Nobody signed in: a Sign in button, and no way to train.
    stranger = new_tab()
    stranger.open("train?" + urlencode(TINY))
    stranger.page.get_by_text("Sign in to train and to control your runs").wait_for()
    assert button(stranger.page, "train_start").count() == 0
    stranger.assert_no_exception()

    # Two students sign in and train; a third watches Ann's run through its link, without controls.
    ann, bob, cy = new_tab(), new_tab(), new_tab()
    start = time.perf_counter()
    for app, who in ((ann, "ann"), (bob, "bob"), (cy, "cy")):
        sign_in(app, who)
    record_timing("three students signed in through the provider", time.perf_counter() - start)
    ann.open("train?" + urlencode(LONGER))
    ann.page.get_by_text("On the Class page's board as: Ann").wait_for()  # the account's name
    bob.open("train?" + urlencode(TINY))
    button(ann.page, "train_start").click()
    button(bob.page, "train_start").click()
    ann.page.wait_for_url(re.compile(r"job="))
    # Held while Cy opens the link: on a quiet machine it could end first.
    until_shown(lambda: button(ann.page, "job_pause").click(timeout=10_000), button(ann.page, "job_resume"))
    cy.open(ann.page.url.split("/", 3)[3])  # the link Ann shares, as it stands in her address bar
    cy.page.locator('[data-testid="stProgress"]').first.wait_for()
    assert button(cy.page, "job_stop").count() == 0 and button(cy.page, "job_resume").count() == 0
    cy.assert_no_exception()
    button(ann.page, "job_resume").click()
    for app in (ann, bob):
        finished(app)
        app.assert_no_exception()
    for who in ("ann", "bob"):
        record = saved_runs(runs)[USERS[who]["name"]]
        assert record["owner_tag"] == owner_tag(account_owner_id(issuer, USERS[who]["sub"]))

    # Only the listed account sees the instructor's controls, and without any token.
    teacher = new_tab()
    sign_in(teacher, "teacher")
    teacher.go_to("Class")
    teacher.page.get_by_role("button", name="Set the challenge").wait_for()
    assert teacher.page.locator(".st-key-class_token").count() == 0
    cy.go_to("Class")
    assert cy.page.locator(".st-key-class_name input").input_value() == "Cy"  # the account's name
    name_field = cy.page.locator(".st-key-class_name input")
    name_field.fill("Ann")  # a classmate's account name: held by her
    name_field.press("Enter")
    cy.page.get_by_text("already taken in this class").wait_for()
    assert cy.page.get_by_role("button", name="Set the challenge").count() == 0
    assert cy.page.locator(".st-key-class_token").count() == 0
    assert cy.page.locator("h2", has_text="Instructor").count() == 0
    for app in (teacher, cy):
        app.assert_no_exception()


def test_without_sign_in_a_cookie_the_server_did_not_sign_is_replaced(streamlit_app):
    """Anonymous mode in a real browser: a hand-edited owner cookie does not survive the first visit."""
    typed = secrets.token_hex(16)  # before, any 32 hex digits in the cookie were an owner
    streamlit_app.page.context.add_cookies([{"name": "mnist_lab_owner", "value": typed, "url": streamlit_app.base_url}])
    streamlit_app.open("train")

    def owner_cookie():
        cookies = streamlit_app.page.context.cookies(streamlit_app.base_url)
        return next((c["value"] for c in cookies if c["name"] == "mnist_lab_owner"), None)

    wait_until(lambda: owner_cookie() != typed, 10, "the typed owner cookie to go", every=0.1)
    assert owner_cookie() != typed  # replaced by a signed id, or deleted so the next visit gets one
    streamlit_app.assert_no_exception()
