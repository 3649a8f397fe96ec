"""A deep link opened as the very first visit of a fresh server keeps its query parameters.

On a fresh server Streamlit runs /mistakes alone (legacy pages/ navigation) until some session has run
st.navigation, so pages.ui.common.require_shell sends that visit through streamlit_app.py: the link's
parameters must come along, and the page must show what they name. One server per test: only a server's
first session takes that path.
"""

import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from core.engine.run_store import RunStore
from tests.lab_helpers import REPO

pytestmark = pytest.mark.browser


def train_cli(runs_dir: Path, label: str) -> str:
    """A tiny run trained by the CLI into the server's runs folder (no browser visits the server); its id."""
    command = [sys.executable, "-m", "core.train", "--epochs", "1", "--train-subset", "1000", "--label", label,
               "--runs-dir", str(runs_dir), "--json", "--no-progress"]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=300)
    return next(run.id for run in RunStore(runs_dir).list() if run.record.get("label") == label)


def cut_off_metrics(page) -> list[str]:
    """The texts of metric values wider than their box (Streamlit ends them with "…")."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid="stMetricValue"]'))
        .filter(v => [v, ...v.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1))
        .map(v => v.innerText)""")


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_a_first_visit_to_a_runs_mistakes_shows_that_run_and_keeps_the_link(fresh_streamlit_app, fresh_app_runs_dir):
    app, runs_dir = fresh_streamlit_app, fresh_app_runs_dir
    linked = train_cli(runs_dir, "the linked run")
    train_cli(runs_dir, "a newer run")  # the page's default: the link must win over it
    app.open(f"mistakes?run={linked}")
    app.page.locator("h1", has_text="Mistakes").wait_for()
    app.wait_until_idle()
    chosen = app.page.locator(".st-key-mk_run")
    assert "the linked run" in chosen.inner_text() + chosen.locator("input").first.input_value()
    assert query(app.page).get("run") == [linked]
    app.page.locator('[data-testid="stMetricValue"]').first.wait_for()  # the report card, at the default width
    assert cut_off_metrics(app.page) == []
    app.assert_no_exception()


def test_a_first_visit_to_hyperparameters_with_settings_adopts_them_and_keeps_them(fresh_streamlit_app):
    app = fresh_streamlit_app
    app.open("hyperparameters?lr=0.05&epochs=2")
    app.page.locator("h1", has_text="Hyperparameters").wait_for()
    app.wait_until_idle()
    assert "0.05" in app.page.locator(".st-key-hp_lr").inner_text()
    assert query(app.page).get("lr") == ["0.05"] and query(app.page).get("epochs") == ["2"]
    app.assert_no_exception()


def test_a_first_visit_to_train_with_settings_adopts_them_and_keeps_them(fresh_streamlit_app):
    # Not job=: no run can be live before a server's first session. Its id travels the same way as run= above.
    app = fresh_streamlit_app
    app.open("train?lr=0.05&epochs=2")
    app.page.locator("h1", has_text="Train").wait_for()
    app.wait_until_idle()
    app.page.get_by_text("lr 0.05").first.wait_for()
    assert query(app.page).get("lr") == ["0.05"] and query(app.page).get("epochs") == ["2"]
    app.assert_no_exception()
