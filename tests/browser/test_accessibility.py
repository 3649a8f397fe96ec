"""The lab under axe-core (WCAG 2.0 and 2.1, levels A and AA) in every page state a class goes through: Home, each
Autograd tab, Hyperparameters with the finder's curve and a sweep's result, Train idle, training, paused and finished,
Mistakes with its gallery, a picked confusion cell, calibration and the drawing pad, Class with a board, a class
experiment and the instructor's live view, and the Delete… dialog. Real MNIST, tiny runs, one server.

Every state is audited before the test fails, so one run names every violation: its rule, the state, the elements
(axe's target selectors) and what axe says would fix it. Nothing is excused: what Streamlit 1.67's own markup got
wrong here (the contrast of captions and code, focus) pages/ui/accessible.css fixes. A violation the app cannot fix
would be listed here by its rule and element, with the Streamlit issue that tracks it.
"""

from __future__ import annotations

import contextlib
import time
from urllib.parse import urlencode

import pytest

from benchmarks.mistakes_page import click_matrix_cell, open_mistakes
from core.engine.run_store import RunStore
from core.lessons.mistakes import most_confused_pairs
from core.views.mistakes_view import default_run, viewable
from tests.browser.lab_server import until_shown
from tests.browser.test_class_journey import (  # noqa: F401 - class_server is a fixture
    TOKEN,
    button,
    choose_option,
    class_server,
    type_name,
)

pytestmark = pytest.mark.browser
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_A_AA}, "resultTypes": ["violations"]}
RUN_MS = 120_000
# A run that outlasts its audit while it trains (30 epochs of the lecture's setup: it is stopped after the audit),
# and one that finishes in seconds.
LONG = {"epochs": 30, "batch_size": 64, "optimizer": "sgd", "lr": 0.01, "hidden": "128-64"}
TINY = {"epochs": 1, "train_subset": 2000, "batch_size": 64}
SMALL = {"epochs": 1, "batch_size": 32, "hidden": "32"}  # cheap steps for the finder and the sweep's runs


class Audit:
    """Runs axe on a page state and keeps what it finds; `report()` lists it all."""

    def __init__(self):
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.found: list[str] = []
        self.states: list[str] = []

    def _settled_run(self, page) -> list:
        """axe's violations once no element is stale: Streamlit fades the elements of a script or fragment that is
        rerunning (text at 0.4 opacity, #a5a9ad on white), which axe reports as low contrast if it runs then."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        with contextlib.suppress(PlaywrightTimeout):  # a page that never settles is audited as it is
            page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=15_000)
        return self.axe.run(page, options=AXE_OPTIONS).response["violations"]

    def __call__(self, page, state: str) -> None:
        # axe checks only the frames it is loaded in: a component drawn in an iframe is audited too.
        for frame in page.frames[1:]:
            frame.evaluate(self.axe.axe_script)
        violations = self._settled_run(page)
        if violations:  # a real violation is there again; a fade caught mid-rerun is not
            violations = self._settled_run(page)
        self.states.append(state)
        for violation in violations:
            nodes = violation["nodes"]
            lines = [f"{state}: {violation['id']} ({violation['impact']}) on {len(nodes)} element(s): "
                     f"{violation['help']}"]
            for node in nodes[:5]:
                summary = " ".join(node["failureSummary"].split())
                lines.append(f"    {' > '.join(map(str, node['target']))}\n      {node['html'][:160]}\n      {summary}")
            if len(nodes) > 5:
                lines.append(f"    … and {len(nodes) - 5} more")
            self.found.append("\n".join(lines))

    def report(self) -> str:
        return f"{len(self.found)} violation(s) in {len(self.states)} page states:\n" + "\n".join(self.found)


def ended(page, start: str, timeout_ms: int = RUN_MS) -> None:
    page.locator('[data-testid="stAlertContainer"]', has_text=start).first.wait_for(timeout=timeout_ms)


def audit_autograd(app, audit) -> None:
    app.go_to("Autograd")
    app.metric_value("dy/dx from backward()").wait_for()
    audit(app.page, "Autograd, tab 1")
    for number, shown in ((2, "Values of x"), (3, "x1"), (4, "f(x) or f(x, y) =")):
        app.page.get_by_role("tab").filter(has_text=f"{number}. ").first.click()
        app.page.get_by_label(shown, exact=True).first.wait_for()
        app.wait_until_idle()
        audit(app.page, f"Autograd, tab {number}")
    app.page.get_by_role("tab", name="5. One training step").click()
    app.page.locator('[data-testid="stPlotlyChart"]', has_text="after the step").wait_for()
    app.wait_until_idle()
    audit(app.page, "Autograd, One training step")


def audit_hyperparameters(app, audit) -> None:
    page = app.page
    app.open("hyperparameters?" + urlencode(SMALL))
    audit(page, "Hyperparameters")
    button(page, "lr_find").click()
    page.locator('.st-key-lr_curve [data-testid="stPlotlyChart"]').wait_for(timeout=RUN_MS)
    app.wait_until_idle()
    audit(page, "Hyperparameters, the finder's curve")
    app.start_two_rate_sweep()
    ended(page, "Best: learning rate")
    page.locator("td", has_text="finished").nth(1).wait_for()
    app.wait_until_idle()
    audit(page, "Hyperparameters, a sweep's result")


def audit_train(app, teacher, audit) -> None:
    """Idle, training (a long run), paused (and the instructor's live view of it), then a tiny run finished and
    the Delete… dialog."""
    page = app.page
    app.open("train?" + urlencode(LONG))
    audit(page, "Train, idle")
    button(page, "train_start").click()
    button(page, "job_pause").wait_for()
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    audit(page, "Train, training")
    assert button(page, "job_pause").count(), "the long run stopped training during its audit: make it longer"
    # The page redraws its controls every second while the run is live: a click event, not a wait for them to hold
    # still (until_shown clicks again if a redraw swallowed it).
    until_shown(lambda: button(page, "job_pause").dispatch_event("click"), button(page, "job_resume"))
    audit(page, "Train, paused")

    live = teacher.page.locator(".st-key-class_live")
    live.locator('[data-testid="stDataFrame"]').wait_for()  # the view polls: no reload
    audit(teacher.page, "Class, the instructor's live view")

    until_shown(lambda: button(page, "job_stop").dispatch_event("click"),
                page.locator('[data-testid="stAlertContainer"]', has_text="Stopped at epoch"))
    app.open("train?" + urlencode(TINY))
    until_shown(lambda: button(page, "train_start").click(timeout=10_000),
                page.locator('[data-testid="stAlertContainer"]', has_text="Finished: test accuracy"),
                wait_ms=RUN_MS)
    button(page, "history_delete").wait_for()
    app.wait_until_idle()
    audit(page, "Train, finished")

    button(page, "history_delete").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    audit(page, "Train, the Delete… dialog")
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")


def audit_mistakes(app, runs, audit) -> None:
    page = app.page
    open_mistakes(page, app.base_url)
    audit(page, "Mistakes, the gallery")
    shown = default_run(viewable(RunStore(runs).list()))  # the run the page opens with
    pair = most_confused_pairs(shown.predictions(), k=1)[0]
    click_matrix_cell(page, pair.true, pair.predicted)
    audit(page, "Mistakes, a confusion cell picked")
    page.get_by_text("How sure against how right").click()
    page.locator('.st-key-mk_reliability [data-testid="stPlotlyChart"]').wait_for()
    app.wait_until_idle()
    audit(page, "Mistakes, calibration open")
    page.get_by_role("tab", name="Try it yourself").click()
    page.locator("canvas.upper-canvas").first.wait_for()
    app.wait_until_idle()
    audit(page, "Mistakes, the drawing pad")


def test_every_page_state_meets_wcag_21_aa(class_server, record_timing):  # noqa: F811
    url, runs, new_tab = class_server
    student, teacher = new_tab(), new_tab()
    audit = Audit()
    start = time.perf_counter()

    student.page.goto(url)  # a fresh server's first visit loads MNIST: on a busy machine it takes longer
    student.page.locator('[data-testid="stImage"] img').first.wait_for(timeout=RUN_MS)
    student.wait_until_idle()
    audit(student.page, "Home")
    audit_autograd(student, audit)
    audit_hyperparameters(student, audit)

    teacher.open("class")
    teacher.page.locator(".st-key-class_token input").fill(TOKEN)
    teacher.page.get_by_role("button", name="Unlock").click()
    teacher.page.locator(".st-key-class_live").wait_for()
    student.open("class")
    type_name(student, "Ann")
    audit_train(student, teacher, audit)
    audit_mistakes(student, runs, audit)

    choose_option(teacher.page, ".st-key-class_x_base", "Your settings")
    button(teacher.page, "class_x_start").click()
    teacher.page.get_by_text("The experiment has started").wait_for()
    teacher.page.locator('[data-testid="stDataFrame"]').first.wait_for()  # the board, with Ann's run
    audit(teacher.page, "Class, the instructor's view with a board and a class experiment")
    student.open("class")
    student.page.locator(".st-key-class_experiment").wait_for()
    student.page.locator('[data-testid="stDataFrame"]').first.wait_for()
    audit(student.page, "Class, a student's with a board and a class experiment")
    record_timing(f"axe audit of {len(audit.states)} page states, runs included", time.perf_counter() - start)

    for app in (student, teacher):
        app.assert_no_exception()
    assert not audit.found, audit.report()
