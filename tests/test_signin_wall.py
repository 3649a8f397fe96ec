"""MNIST_LAB_SIGN_IN_EVERY_PAGE: with it on and sign-in configured, a visitor not signed in sees only a Sign in
prompt on every page, deep links included; off (the default), the pages show as before."""

from dataclasses import replace

import pytest

from core.engine.presets import QUICK
from core.engine.run_store import RunStore
from core.lab.identity import SIGN_IN_EVERY_PAGE_ENV, sign_in_every_page
from tests.fake_runs import save_finished_run

PAGES = ["pages/home.py", "pages/autograd.py", "pages/hyperparameters.py", "pages/train.py", "pages/mistakes.py",
         "pages/class.py"]
STRANGER = {"is_logged_in": False}
ANN = {"is_logged_in": True, "iss": "https://id.school.example", "sub": "ann-1", "email": "ann@school.edu",
       "name": "Ann Lee", "email_verified": True}
WALL = "Sign in to use this lab"


def test_the_setting_is_off_unless_the_host_turns_it_on():
    assert not sign_in_every_page({})
    for off in ("", " ", "0", "no", "false", "OFF", "False"):
        assert not sign_in_every_page({SIGN_IN_EVERY_PAGE_ENV: off})
    for on in ("1", "yes", "true", "on", "ture"):  # a typo closes the lab rather than leaving it open
        assert sign_in_every_page({SIGN_IN_EVERY_PAGE_ENV: on})


def visit(page: str, user: dict, first: bool = False, **query):
    """An AppTest of the app as this account (st.user) sees it at `page`, with the link's `query`: switched to from
    Home, or (`first`) opened by the link in a new session, the page's file run first as a deep link is."""
    from streamlit.testing.v1 import AppTest

    from tests.lab_helpers import APP

    at = AppTest.from_file(APP, default_timeout=30)
    at.user = user
    at.query_params.update(query)
    if not first:
        at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def shows_only_the_wall(at) -> bool:
    """Nothing of any page: no title, no chart, no download, no table; the Sign in prompt and its button."""
    main = [b for b in at.button if b.key != "lab_sign_in"]  # the sidebar's own Sign in aside
    drawn = [*at.title, *at.header, *at.get("plotly_chart"), *at.get("download_button"), *at.dataframe, *at.table,
             *at.selectbox, *at.slider, *at.number_input]
    return (not drawn and [b.key for b in main] == ["lab_sign_in_page"]
            and [i.value for i in at.info] == ["Sign in to use this lab: its pages are for the class's accounts only."])


@pytest.fixture
def signin_on(lab, monkeypatch):
    """The lab with sign-in configured ([auth] in its secrets, as the pages see it) and a saved run to link to."""
    from pages.ui import common

    monkeypatch.setattr(common, "signin_configured", lambda: True)
    monkeypatch.delenv("MNIST_LAB_INSTRUCTOR_TOKEN", raising=False)
    return lab


def test_with_every_page_behind_sign_in_a_stranger_sees_only_sign_in_deep_links_included(signin_on, runs_dir,
                                                                                          monkeypatch):
    run_id = save_finished_run(RunStore(runs_dir), replace(QUICK, lr=0.05), "Ann", 91.0)
    monkeypatch.setenv(SIGN_IN_EVERY_PAGE_ENV, "1")
    for page in PAGES:
        assert shows_only_the_wall(visit(page, STRANGER)), page
    # The probe's link: any saved run, with its script, for whoever had its id; and a link to a setup.
    for first in (True, False):
        assert shows_only_the_wall(visit("pages/mistakes.py", STRANGER, first, run=run_id))
        assert shows_only_the_wall(visit("pages/train.py", STRANGER, first, lr="0.5"))
    assert visit("pages/mistakes.py", ANN, run=run_id).title[0].value == "Mistakes"  # an account sees the lab


def test_off_by_default_the_pages_show_to_a_stranger_as_before(signin_on, runs_dir, monkeypatch):
    monkeypatch.delenv(SIGN_IN_EVERY_PAGE_ENV, raising=False)
    for page in ("pages/home.py", "pages/mistakes.py", "pages/class.py"):
        at = visit(page, STRANGER)
        assert at.title and not any(WALL in i.value for i in at.info), page


def test_on_without_sign_in_configured_the_lab_stays_closed_and_says_why(lab, monkeypatch):
    monkeypatch.setenv(SIGN_IN_EVERY_PAGE_ENV, "1")
    at = visit("pages/mistakes.py", STRANGER)
    assert not at.title and "sign-in is not set up on this server" in at.error[0].value
