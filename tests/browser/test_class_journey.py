"""A lecture's challenge end to end in three browsers: an instructor and two students, on a server with an
instructor token. Real MNIST, tiny runs (1 epoch on 2,000 images). The board is read from the dataframe's
accessible cells, which hold each name as text.
"""

import json
import time
from urllib.parse import urlencode

import pytest

from core.lab.classroom import CLASS_FILE
from core.lab.instructor_token import TOKEN_ENV
from tests.browser.conftest import browser_tabs
from tests.browser.lab_server import StreamlitPage, start_lab_server, stop_lab_server, until_shown

pytestmark = pytest.mark.browser
TOKEN = "journey-token-7f3c9a1e52"
TINY = {"epochs": 1, "train_subset": 2000, "batch_size": 64, "hidden": "128-64", "seed": 0}
BOARD_MS = 10_000  # "within a few seconds": the board polls every 3 s


@pytest.fixture
def class_server(tmp_path, monkeypatch, browser):
    """A server of its own with MNIST_LAB_INSTRUCTOR_TOKEN set; yields (base URL, runs folder, new_tab)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    runs = tmp_path / "runs"
    server, url = start_lab_server(runs, tmp_path / "streamlit.log")
    try:
        with browser_tabs(browser, url) as new_tab:
            yield url, runs, new_tab
    finally:
        stop_lab_server(server)


def button(page, key: str):
    return page.locator(f".st-key-{key} button").first


def wait_for_board(page, names: list[str], table: int = 0, timeout_ms: int = BOARD_MS) -> None:
    """Wait until the n-th dataframe lists exactly these names, in this order (no reload: the page polls).

    The board's names are its second column (after the place); the rule-breakers' table starts with them.
    """
    page.wait_for_function(
        """([i, want]) => {
            const frame = document.querySelectorAll('[data-testid="stDataFrame"]')[i];
            if (!frame) return false;
            const column = i === 0 ? "2" : "1";
            const got = Array.from(frame.querySelectorAll(`td[aria-colindex="${column}"]`)).map(td => td.innerText);
            return JSON.stringify(got) === JSON.stringify(want);
        }""",
        arg=[table, names],
        timeout=timeout_ms,
    )


def choose_option(page, picker: str, name: str, attempts: int = 5) -> None:
    """Open a selectbox and click the option containing `name`. The picker follows the board, which polls
    every few seconds: a refresh can close the open list, so open it again (at most `attempts` times)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        page.locator(picker).last.click()  # during a refresh the old picker may still be drawn, greyed
        try:
            page.get_by_role("option", name=name, exact=False).click(timeout=5_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")


def unlock(teacher: StreamlitPage) -> None:
    """Type the instructor token and unlock the controls. The Class page's board polls every 3 s, and a refresh
    can swallow the click: click again until the controls show."""
    def try_token() -> None:
        token = teacher.page.locator(".st-key-class_token input")
        if token.count():  # not yet unlocked
            token.fill(TOKEN, timeout=5_000)
            teacher.page.get_by_role("button", name="Unlock").click(timeout=5_000)

    until_shown(try_token, button(teacher.page, "class_i_logout"))


def type_name(app: StreamlitPage, name: str) -> None:
    field = app.page.locator(".st-key-class_name input")
    field.fill(name)
    field.press("Enter")
    app.page.locator(f".st-key-class_name input[value='{name}']").wait_for()
    # The server has taken the name (the box alone changes before it does): the page says runs now carry it.
    app.page.get_by_text("Your runs from now on appear on the board under this name").wait_for()


def train(app: StreamlitPage) -> None:
    """Click Train and wait until the run has finished."""
    button(app.page, "train_start").click()
    app.page.locator('[data-testid="stAlertContainer"]', has_text="Finished: test accuracy").first.wait_for(
        timeout=120_000)


def test_a_lecture_challenge_with_an_instructor_and_two_students(class_server, record_timing):
    url, runs, new_tab = class_server
    teacher, ann, bob = new_tab(), new_tab(), new_tab()

    # The instructor unlocks the controls and sets the lecture's challenge (its network and SGD, <= 3 epochs).
    teacher.open("class")
    unlock(teacher)
    challenge = teacher.page.get_by_role("button", name="Set the challenge")
    until_shown(lambda: challenge.click(timeout=5_000), teacher.page.get_by_text("The challenge is set"))
    teacher.page.get_by_text("Highest test accuracy wins").first.wait_for()
    teacher.assert_no_exception()
    challenge_file = (runs / CLASS_FILE).read_bytes()

    # A student's attempts at the controls change nothing: the URL (even with the right token in it) and
    # 20 wrong tokens typed in.
    bob.open("class?" + urlencode({"token": TOKEN, "class_token": TOKEN, "instructor": "1", "unlock": "true"}))
    bob.page.get_by_text("Highest test accuracy wins").first.wait_for()
    assert bob.page.get_by_role("button", name="Set the challenge").count() == 0
    for attempt in range(20):
        bob.page.locator(".st-key-class_token input").fill(f"guess-{attempt}")
        bob.page.get_by_role("button", name="Unlock").click()
        bob.page.locator('[data-testid="stAlertContainer"]', has_text="not the instructor token").or_(
            bob.page.locator('[data-testid="stAlertContainer"]', has_text="then try again")).first.wait_for()
        bob.wait_until_idle()
    assert bob.page.get_by_role("button", name="Set the challenge").count() == 0
    assert bob.page.get_by_role("button", name="Start a fresh board").count() == 0
    assert (runs / CLASS_FILE).read_bytes() == challenge_file
    bob.assert_no_exception()

    # Ann keeps the rules with the Train link's settings and a name typed on the Class page; Bob types his
    # name, then opens a Train link: his browser holds the name, so the new page still signs with it. A link
    # never carries a name. Both train with SGD on the lecture's network.
    ann.open("train?" + urlencode({**TINY, "optimizer": "sgd", "lr": 0.1}))
    ann.go_to("Class")
    type_name(ann, "Ann <b>&</b>")
    ann.go_to("Train")
    assert "name=" not in ann.page.url
    ann.page.get_by_text("On the Class page's board as: Ann <b>&</b>").wait_for()
    type_name(bob, "Bob")
    bob.open("train?" + urlencode({**TINY, "optimizer": "sgd", "lr": 0.01, "name": "Ann <b>&</b>"}))
    bob.page.get_by_text("On the Class page's board as: Bob").wait_for()  # an old link's name= is ignored
    start = time.perf_counter()
    train(ann)
    train(bob)
    record_timing("two tiny runs trained (1 epoch, 2,000 images each)", time.perf_counter() - start)

    # Every screen shows both, best first, without a reload; each student's own run is marked.
    ann_board = new_tab(ann.page.context)  # Ann's second tab: the same browser, so her runs are "yours"
    ann_board.open("class")
    bob.go_to("Class")
    for screen in (teacher, ann_board, bob):
        start = time.perf_counter()
        wait_for_board(screen.page, ["Ann <b>&</b>", "Bob"])
        record_timing("both runs on the board", time.perf_counter() - start)
        screen.assert_no_exception()
    assert ann_board.page.locator('td[aria-colindex="8"]', has_text="yours").count() == 1

    # Bob breaks a rule (Adam): his run is listed apart, with the rule, on the instructor's screen too.
    bob.open("train?" + urlencode({**TINY, "optimizer": "adam", "lr": 0.002}))
    train(bob)
    bob.go_to("Class")
    teacher.page.get_by_text("Runs that broke a rule").wait_for(timeout=BOARD_MS)
    wait_for_board(teacher.page, ["Bob"], table=1)
    teacher.page.locator("td", has_text="Optimizer: SGD is fixed; this run used Adam").first.wait_for(state="attached")
    wait_for_board(teacher.page, ["Ann <b>&</b>", "Bob"], table=0)

    # The instructor spotlights the winner: every student's page shows it, with its curves and Mistakes link.
    choose_option(teacher.page, ".st-key-class_i_spot", "Ann <b>&</b>")
    until_shown(lambda: button(teacher.page, "class_i_spot_go").click(timeout=5_000),
                teacher.page.get_by_text("Every Class page now shows this run"))
    ann_board.page.locator("h2", has_text="Spotlight").wait_for(timeout=BOARD_MS)
    bob.page.locator("h2", has_text="Spotlight").wait_for(timeout=BOARD_MS)
    bob.page.get_by_text("Ann <b>&</b> ·", exact=False).first.wait_for()
    # The spotlight's two charts (what the class found draws its own chart further down the page).
    assert bob.page.locator('.st-key-class_spotlight [data-testid="stPlotlyChart"]').count() == 2
    bob.page.get_by_role("link", name="See its mistakes").click()
    bob.page.locator("h1", has_text="Mistakes").wait_for()
    spotlit = json.loads((runs / CLASS_FILE).read_text())["spotlight"]
    bob.page.wait_for_url(f"**/mistakes?run={spotlit}")
    assert spotlit in bob.page.locator(".st-key-mk_run input").input_value()  # the Mistakes page shows Ann's run
    teacher.screenshot("class-instructor")
    bob.screenshot("class-student-mistakes")
    for screen in (teacher, ann_board, bob):
        screen.assert_no_exception()
