"""A class experiment on the learning rate in four browsers: the instructor sets it up from her own tiny settings,
three students join and get three different values, train, and the instructor's live view and the experiment's plot
update without a reload. Real MNIST, tiny runs (1 epoch on all 60,000 images, batch 16)."""

import contextlib
import json
import re
import time
from urllib.parse import urlencode

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.lab.classroom import CLASS_FILE
from tests.browser.lab_server import drawn, until_shown
from tests.browser.test_class_journey import (  # noqa: F401 - class_server is a fixture
    BOARD_MS,
    button,
    choose_option,
    class_server,
    type_name,
    unlock,
)

pytestmark = pytest.mark.browser
# 3,750 steps: a run of 1,250 once ended before the first student's Pause click reached the server, and then no run
# held the slot for the classmates' runs to wait behind.
TINY = {"epochs": 1, "train_subset": 60_000, "batch_size": 16, "hidden": "128-64", "optimizer": "sgd", "seed": 0}
# Five values on a log scale from 0.001 to the instructor's 0.05: each joiner gets one of the least held at random.
# Below the default 3: a run at 3 diverges at once, so a student drawn that value would have no run to pause.
HIGHEST_LR = "0.05"
GIFT = re.compile(r"Your instructor's experiment on the learning rate gave you [0-9.]+\.")


# How many runs each drawn "a run" trace of the experiment's accuracy chart holds.
EXPERIMENT_POINTS = """() => Array.from(document.querySelectorAll(
        '.st-key-class_experiment [data-testid="stPlotlyChart"] .js-plotly-plot'))
    .flatMap(p => (p.data || []).filter(t => t.name === "a run").map(t => (t.x || []).length))"""


def experiment_points(page) -> list[int]:
    """How many runs each drawn "a run" trace of the experiment's accuracy chart holds."""
    return page.evaluate(EXPERIMENT_POINTS)


@pytest.fixture
def one_run_at_a_time(monkeypatch):
    """The server trains one run at a time (set before class_server starts it): the students' later runs wait
    in the queue, so the live view has runs to show, and CI's two cores are not shared by three runs."""
    monkeypatch.setenv("MNIST_LAB_MAX_CONCURRENT_RUNS", "1")


def test_a_class_experiment_on_the_learning_rate_with_three_students(one_run_at_a_time, class_server,  # noqa: F811
                                                                     record_timing):
    url, runs, new_tab = class_server
    teacher, students = new_tab(), [new_tab() for _ in range(3)]
    names = ["Ann", "Bob", "Cy"]

    teacher.open("train?" + urlencode(TINY))  # her own settings: what the experiment fixes for the class
    teacher.go_to("Class")
    unlock(teacher)
    choose_option(teacher.page, ".st-key-class_x_base", "Your settings")
    # Choosing the base redraws the panel: until that run ends, the box is drawn twice (the old one stale).
    highest = teacher.page.locator(f"{drawn('class_x_to_lr')} input")
    # The panel's refresh can redraw the box before Enter reaches the server, and the typed value is lost: type again.
    for _ in range(3):
        highest.fill(HIGHEST_LR)
        highest.press("Enter")
        with contextlib.suppress(PlaywrightTimeout):
            # None drawn for a moment while a rerun has marked the old one stale: wait on.
            teacher.page.wait_for_function(f"() => document.querySelector(`{drawn('class_x_to_lr')} input`)?.value === "
                                           f"'{HIGHEST_LR}'", timeout=5_000)
            break
    until_shown(lambda: button(teacher.page, "class_x_start").click(timeout=5_000),
                teacher.page.get_by_text("The experiment has started"))
    teacher.page.locator(".st-key-class_live", has_text="No run is training or waiting").wait_for()

    for app, name in zip(students, names, strict=True):
        app.open("class")
        type_name(app, name)
        gift = app.page.get_by_text(GIFT)
        join = button(app.page, "class_x_join")  # in the board's fragment: a refresh can swallow a click
        until_shown(lambda join=join: join.click() if join.count() else None, gift)
    experiment = json.loads((runs / CLASS_FILE).read_text())["experiment"]
    assert max(experiment["values"]) == float(HIGHEST_LR), experiment["values"]  # the instructor's range held
    holders = experiment["holders"]
    assert len({index for _, index, _ in holders}) == 3  # three students, three different values

    start = time.perf_counter()
    for app in students:
        app.go_to("Train")
    # The first student pauses their run, which holds the one slot, so the classmates' runs wait however fast this
    # machine trains (on a quiet one, three tiny runs could come and go between two refreshes of the live view).
    first = students[0].page
    button(first, "train_start").click()
    # The Train page's fragment redraws the button every second: on a loaded machine it was replaced for 30 s while
    # Playwright waited for it to hold still.
    until_shown(lambda: button(first, "job_pause").click(timeout=10_000), button(first, "job_resume"))
    for app in students[1:]:
        button(app.page, "train_start").click()
    live = teacher.page.locator(".st-key-class_live")
    live.locator('[data-testid="stDataFrame"]').wait_for(timeout=BOARD_MS)  # no reload: the view polls
    live.locator('[data-testid="stAlertContainer"]', has_text="waiting").wait_for(timeout=BOARD_MS)
    record_timing("the live view shows the class's runs", time.perf_counter() - start)
    button(first, "job_resume").click()
    for app in students:
        app.page.locator('[data-testid="stAlertContainer"]', has_text="Finished: test accuracy").first.wait_for(
            timeout=120_000)
    record_timing("three tiny runs of the experiment trained", time.perf_counter() - start)

    # Without a reload: the live view empties and the plot holds three runs, one per value.
    live.get_by_text("No run is training or waiting").wait_for(timeout=BOARD_MS)
    teacher.page.locator(".st-key-class_experiment", has_text="3 runs so far.").wait_for(timeout=BOARD_MS)
    with contextlib.suppress(PlaywrightTimeout):  # the assertion below says what the chart holds
        teacher.page.wait_for_function(f"() => ({EXPERIMENT_POINTS})().reduce((a, b) => a + b, 0) === 3",
                                       timeout=BOARD_MS)
    assert sum(experiment_points(teacher.page)) == 3
    teacher.screenshot("class-experiment-instructor")

    until_shown(lambda: button(teacher.page, "class_x_end").click(timeout=5_000),
                teacher.page.get_by_text("The experiment has ended"))
    students[0].go_to("Class")
    students[0].page.locator("h2", has_text="Ended class experiments").wait_for(timeout=BOARD_MS)
    for app in (teacher, *students):
        app.assert_no_exception()
