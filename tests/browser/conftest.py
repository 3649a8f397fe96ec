"""Fixtures for real-browser journeys: a Streamlit server on a free port, Debian's Chromium via Playwright.

Outside CI the journeys skip (with the reason) when Chromium or Playwright is missing; under CI=true
they fail instead, so a broken browser setup cannot pass unnoticed.
Journeys use the `streamlit_app` fixture (a `StreamlitPage`) and record timings with `record_timing`;
the timings are printed at the end of the test session. MNIST_LAB_SCREENSHOTS=dir saves screenshots.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.browser.lab_server import (
    CHROMIUM_ARGS,
    StreamlitPage,
    find_chromium,
    start_lab_server,
    stop_lab_server,
    unavailable,
)
from tests.lab_helpers import TIMING

TIMEOUT_MS = 30_000  # generous: the machine has two cores shared with others


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's Chromium ($MNIST_LAB_CHROMIUM overrides); skip or fail if there is none."""
    path = find_chromium()
    if path is None:
        unavailable("Chromium not found: install it with `sudo apt-get install chromium` (or `make browser`)")
    return path


# Base URL of each server started here -> the runs folder it reads ($MNIST_LAB_RUNS), see `app_runs_dir`.
SERVER_RUNS: dict[str, Path] = {}


@contextlib.contextmanager
def run_app_server(tmp_path_factory):
    """Start the lab as `make app` does (`python -m launch`) on a free port; yield its base URL; stop it by its pid."""
    log_path = tmp_path_factory.mktemp("server") / "streamlit.log"
    runs_dir = tmp_path_factory.mktemp("runs")
    try:
        # One run at a time, so that the journeys can see a second student wait in the queue.
        server, url = start_lab_server(runs_dir, log_path, extra_env={"MNIST_LAB_MAX_CONCURRENT_RUNS": "1"})
    except RuntimeError as error:
        pytest.fail(str(error))
    SERVER_RUNS[url] = runs_dir
    try:
        yield url
    finally:
        stop_lab_server(server)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> str:
    """The app's server, shared by every journey in the session; yields its base URL."""
    with run_app_server(tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="session")
def app_runs_dir(app_server) -> Path:
    """The runs folder the shared server reads: a journey saves runs there (python -m core.train --runs-dir)."""
    return SERVER_RUNS[app_server]


@pytest.fixture
def fresh_app_server(tmp_path_factory) -> str:
    """A server of its own that no browser has visited yet (costs a start-up of a few seconds)."""
    with run_app_server(tmp_path_factory) as url:
        yield url


@pytest.fixture
def fresh_app_runs_dir(fresh_app_server) -> Path:
    """The runs folder of the fresh server: runs saved there before the first visit are that visit's to see."""
    return SERVER_RUNS[fresh_app_server]


_browsers: list = []  # the session's Chromium, for what its tabs showed when a journey failed


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed: pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        _browsers.append(chromium)
        yield chromium
        _browsers.remove(chromium)
        chromium.close()


# The main area's text, or the whole page's where the main area is missing or empty, after the app's connection and
# script states (an empty page that is still running reads differently from one that ended).
SHOWN = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const main = document.querySelector('[data-testid="stMain"]');
    const text = main && main.innerText.trim() ? main.innerText : "(main area empty) " + document.body.innerText;
    const state = app ? `[${app.dataset.testConnectionState}, script ${app.dataset.testScriptState}] ` : "[no app] ";
    return state + text;
}"""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed journey's report ends with what each open tab showed (its address and text): a failure in CI can
    then be read without a screenshot."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or not _browsers:
        return
    shown = []
    for number, tab in enumerate(tab for context in _browsers[0].contexts for tab in context.pages):
        try:
            text = tab.evaluate(SHOWN)
        except Exception as error:  # a closed or crashed tab: say so, and go on with the others
            text = f"(unreadable: {error})"
        shown.append(f"--- tab {number}: {tab.url}\n{' '.join(text.split())[:4000]}")
    report.sections.append(("what the browser tabs showed", "\n".join(shown)))


@pytest.fixture
def page(browser):
    """A fresh browser tab (own cookies, so its own Streamlit session) per test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def streamlit_app(page, app_server) -> StreamlitPage:
    """The app in a fresh tab, not yet opened: call `.open()` first."""
    return StreamlitPage(page, app_server)


@pytest.fixture
def fresh_streamlit_app(page, fresh_app_server) -> StreamlitPage:
    """The app on a server of its own that no browser has visited yet: call `.open()` first."""
    return StreamlitPage(page, fresh_app_server)


@pytest.fixture
def record_timing(request):
    """Call with (what, seconds) to have the timing printed in the session summary (tests/conftest.py). It travels
    in the test's report, so a timing measured in a pytest-xdist worker reaches the summary too."""

    def record(what: str, seconds: float) -> None:
        request.node.user_properties.append((TIMING, (what, seconds)))

    return record


@contextlib.contextmanager
def browser_tabs(browser, url: str):
    """Yields new_tab(context=None): a StreamlitPage at `url`, in a browser context of its own (its own cookies,
    so its own student) unless one is given; every context made is closed at the end."""
    contexts = []

    def new_tab(context=None) -> StreamlitPage:
        if context is None:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(TIMEOUT_MS)
            contexts.append(context)
        return StreamlitPage(context.new_page(), url)

    try:
        yield new_tab
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def new_streamlit_app(browser, app_server):
    """A factory of StreamlitPages, each in its own browser context (its own Streamlit session)."""
    with browser_tabs(browser, app_server) as new_tab:
        yield new_tab


@pytest.fixture
def plotly_traces():
    """A function (page, chart_index=0) -> the traces of that Plotly chart as drawn: [{"name", "points"}]."""
    return _plotly_traces


def _plotly_traces(page, chart_index: int = 0) -> list[dict]:
    return page.evaluate(
        """(i) => {
            const plots = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot');
            const plot = plots[i];
            if (!plot || !plot.data) return [];
            return plot.data.map(t => ({name: t.name || "", points: (t.x || []).length}));
        }""",
        chart_index,
    )
