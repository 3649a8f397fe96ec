"""The run doctor in a real browser: SGD at learning rate 5 diverges, the Train page says why, and its Try
button changes the settings. Real MNIST; the run blows up within a dozen steps.
"""

import re
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.browser
RUN_MS = 120_000
LECTURE_AT_LR_5 = {"lr": 5, "batch_size": 64, "epochs": 3, "hidden": "128-64", "optimizer": "sgd", "seed": 0,
                   "normalize": "plain"}


def test_a_diverged_run_is_diagnosed_and_try_changes_the_settings(streamlit_app):
    app, page = streamlit_app, streamlit_app.page
    app.open("train?" + urlencode(LECTURE_AT_LR_5))
    page.locator(".st-key-train_start button").first.click()
    page.locator('[data-testid="stAlertContainer"]', has_text="Diverged").first.wait_for(timeout=RUN_MS)
    finding = page.locator('[data-testid="stMarkdownContainer"]', has_text="each step overshoots").first
    finding.wait_for(timeout=30_000)  # the page reruns once when the run ends, then shows the doctor
    assert "Diverged" in finding.inner_text() and "learning rate 5" in finding.inner_text()
    app.assert_no_exception()
    app.screenshot("doctor-diverged")

    try_button = page.locator(".st-key-train_doctor_try_0 button").first
    assert try_button.inner_text().strip().endswith("Try learning rate 0.1")
    try_button.click()
    page.wait_for_url(re.compile(r"[?&]lr=0\.1(&|$)"))  # the settings, and the URL that carries them
    page.get_by_text("Settings:").first.wait_for()
    assert "lr 0.1" in page.locator('[data-testid="stMarkdownContainer"]', has_text="Settings:").first.inner_text()
    app.assert_no_exception()
