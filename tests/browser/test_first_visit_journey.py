"""The first visitor of a fresh server: only the lab's pages in the sidebar, and Home's text at once."""

import time

import pytest

from tests.browser.lab_server import healthy

pytestmark = pytest.mark.browser
PAGE_TITLES = ["Home", "Autograd", "Hyperparameters", "Train", "Mistakes", "Class"]


def test_the_first_visitor_sees_only_the_labs_pages_and_homes_text_before_the_heavy_loading(
    fresh_streamlit_app, record_timing
):
    app, page = fresh_streamlit_app, fresh_streamlit_app.page
    assert healthy(app.base_url)
    app.watch_nav()
    start = time.perf_counter()
    page.goto(app.base_url)
    page.get_by_text("An interactive companion to the lecture").wait_for()
    record_timing("fresh server: open Home -> its title and text shown", time.perf_counter() - start)
    page.locator('[data-testid="stImage"] img').first.wait_for()  # MNIST's digits, loaded after the text
    app.wait_until_idle()
    assert app.nav_titles() == PAGE_TITLES
    assert app.nav_seen() == set(PAGE_TITLES)  # never a file name of pages/, not even for a moment
    app.assert_no_exception()
