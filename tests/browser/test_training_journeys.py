"""Training in a real browser: a quick run, a stopped run, two students at once, a sweep. Real MNIST.

The server trains one run at a time (tests/browser/conftest.py sets MNIST_LAB_MAX_CONCURRENT_RUNS=1), so the
second student waits in the queue. While a fragment polls, the script state flips constantly: these journeys wait for
content, never for "notRunning".
"""

import re
import time
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.browser
RUN_MS = 120_000  # a training run on two shared cores: generous
# Quick's optimizer and network on part of MNIST: a couple of seconds of training.
SHORT = {"epochs": 2, "train_subset": 10_000}


def train_page(**settings) -> str:
    return "train?" + urlencode(settings)


def button(page, key: str):
    """A button by its Streamlit key (the element carries the class st-key-<key>)."""
    return page.locator(f".st-key-{key} button").first


def wait_for_points(page, more_than: int, chart: int = 0, timeout_ms: int = RUN_MS, or_text: str | None = None) -> None:
    """Wait until the first trace of the n-th Plotly chart has more than `more_than` points (or, if `or_text` is
    given, until an alert with that text shows)."""
    page.wait_for_function(
        """([i, n, text]) => {
            const plot = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[i];
            if (plot && plot.data && plot.data.length && (plot.data[0].x || []).length > n) return true;
            return !!text && [...document.querySelectorAll('[data-testid="stAlertContainer"]')].some(
                (alert) => alert.innerText.includes(text));
        }""",
        arg=[chart, more_than, or_text],
        timeout=timeout_ms,
    )


def ended_text(page, start: str, timeout_ms: int = RUN_MS) -> str:
    """Wait for the alert that contains `start` and return its text."""
    alert = page.locator('[data-testid="stAlertContainer"]', has_text=start)
    alert.first.wait_for(timeout=timeout_ms)
    return alert.first.inner_text()


def test_train_a_quick_setup_and_watch_it_finish(streamlit_app, record_timing, plotly_traces):
    app, page = streamlit_app, streamlit_app.page
    app.open(train_page(epochs=3, train_subset=20_000))
    app.assert_no_exception()
    start = time.perf_counter()
    button(page, "train_start").click()
    wait_for_points(page, 0)  # not the progress bar: a run that ends before the page draws it never shows one
    record_timing("click Train -> first loss point drawn (cold server)", time.perf_counter() - start)
    first = plotly_traces(page)[0]["points"]
    # The chart grows while it trains. The warm lab trains these 237 steps in a few seconds, so the run may end
    # before the chart grows again, or have ended with all its points drawn before the page says it finished.
    wait_for_points(page, first, or_text="Finished: test accuracy")
    app.assert_no_exception()
    app.screenshot("train-running")

    # The run survives leaving the page and a refresh: it shows up live again.
    app.go_to("Home", heading="MNIST Lab")
    page.locator('[data-testid="stSidebarNav"] a', has_text="Train").first.click()
    wait_for_points(page, first)
    page.reload()
    wait_for_points(page, first)

    message = ended_text(page, "Finished: test accuracy")
    accuracy = float(re.search(r"accuracy ([\d.]+) %", message).group(1))
    assert accuracy > 90, message
    names = {t["name"] for t in plotly_traces(page)}
    assert {"loss of each step", "smoothed"} <= names
    assert "job=" in page.url and "epochs=3" in page.url  # a refresh would find it again
    page.locator("td", has_text="finished").first.wait_for()  # the history has it
    app.assert_no_exception()
    app.screenshot("train-finished")


def test_stop_a_run_and_see_it_stopped(streamlit_app, record_timing):
    app, page = streamlit_app, streamlit_app.page
    app.open(train_page(epochs=20))
    button(page, "train_start").click()
    wait_for_points(page, 5)
    start = time.perf_counter()
    button(page, "job_stop").click()
    message = ended_text(page, "Stopped at epoch", timeout_ms=30_000)
    record_timing("click Stop -> 'Stopped at epoch' shown", time.perf_counter() - start)
    assert "of 20" in message
    app.assert_no_exception()


def test_two_students_train_at_once_and_the_second_waits_its_turn(new_streamlit_app):
    ann, bob = new_streamlit_app(), new_streamlit_app()
    ann.open(train_page(epochs=5, train_subset=20_000))
    bob.open(train_page(**SHORT))
    button(ann.page, "train_start").click()
    wait_for_points(ann.page, 0)
    button(bob.page, "train_start").click()
    queued = ended_text(bob.page, "Waiting for a free trainer", timeout_ms=30_000)
    assert "next in line" in queued
    for student in (ann, bob):
        ended_text(student.page, "Finished: test accuracy")
        student.assert_no_exception()
    # Each sees its own run: different job ids in their URLs.
    assert re.search(r"job=([\w-]+)", ann.page.url).group(1) != re.search(r"job=([\w-]+)", bob.page.url).group(1)


def test_a_shared_link_lets_a_classmate_watch_but_only_the_owner_controls_the_run(new_streamlit_app):
    ann, bob = new_streamlit_app(), new_streamlit_app()  # two browsers: their own cookies
    ann.open(train_page(epochs=20))
    button(ann.page, "train_start").click()
    wait_for_points(ann.page, 5)
    ann.page.reload()  # a refresh keeps the controls: the browser's cookie names the owner
    button(ann.page, "job_pause").wait_for()

    bob.open(ann.page.url.split("/", 3)[3])  # the link ann shares, as it stands in her address bar
    bob.page.get_by_text("only that browser can pause or stop it").wait_for()
    wait_for_points(bob.page, 5)  # bob watches the run live
    assert button(bob.page, "job_stop").count() == 0 and button(bob.page, "job_pause").count() == 0
    bob.assert_no_exception()

    button(ann.page, "job_stop").click()
    assert "of 20" in ended_text(ann.page, "Stopped at epoch", timeout_ms=30_000)
    ended_text(bob.page, "Stopped at epoch", timeout_ms=30_000)  # the watcher sees how it ended
    ann.assert_no_exception()


def test_a_sweep_of_two_learning_rates_shows_both_curves(streamlit_app, plotly_traces):
    app, page = streamlit_app, streamlit_app.page
    app.open("hyperparameters?epochs=1")
    app.start_two_rate_sweep()

    best = ended_text(page, "Best: learning rate")
    wait_for_points(page, 0)  # the chart is drawn again after the last run ends
    traces = plotly_traces(page)
    assert {t["name"] for t in traces} == {"0.001", "0.01"}
    assert all(t["points"] > 0 for t in traces)
    page.locator("td", has_text="finished").nth(1).wait_for()
    app.assert_no_exception()
    app.screenshot("sweep")

    winner = re.search(r"learning rate ([\d.]+)", best).group(1)
    use_best = button(page, "sw_use_best")
    if use_best.is_enabled():
        use_best.click()
    page.wait_for_url(re.compile(rf"lr={re.escape(winner)}(&|$)"))
    app.assert_no_exception()
