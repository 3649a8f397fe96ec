"""A student who uses only the keyboard: Tab, Shift+Tab, Enter, Space and the arrow keys, never a click. They pick a
preset, train a run, pause and resume it, open Mistakes, step through the gallery and read the result. At every stop
of the focus, the focused element shows that it has it (WCAG 2.4.7). Real MNIST: the Quick preset.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser
RUN_MS = 120_000
# More than any page of the lab has stops between two targets. On Mistakes the gallery's page buttons, one per page,
# come before Next, so the count grows with the run's mistakes: 80 was too few for a run with many pages.
MOST_PRESSES = 150

# What has the focus, and whether it is shown: an outline of some width, or a box shadow (Streamlit's focus ring on
# its buttons is one).
FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const style = getComputedStyle(el);
    const keyed = el.closest('[class*="st-key-"]');
    const tested = el.closest("[data-testid]");
    return {
        html: el.outerHTML.slice(0, 160),
        text: (el.innerText || el.getAttribute("aria-label") || el.value || "").trim().slice(0, 80),
        key: keyed ? (keyed.className.match(/st-key-(\\S+)/) || [])[1] : null,
        testid: tested ? tested.dataset.testid : null,
        outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
        shadow: style.boxShadow !== "none" && style.boxShadow !== "",
    };
}"""


# Why widgets that should be stops were not: for each choice group, pagination and toggle, how many of its buttons
# are disabled, taken out of the tab order, not rendered, under an inert element or stale.
SKIPPED = """() => [...document.querySelectorAll(
        '[data-testid="stButtonGroup"], [data-testid="stPagination"], .stToggle')].map(group => {
    const buttons = [...group.querySelectorAll("button, input")];
    const count = (test) => buttons.filter(test).length;
    return `${(group.innerText || "").trim().split("\\n")[0].slice(0, 20)}: ${buttons.length} buttons, ` +
        `${count(b => b.disabled)} disabled, ${count(b => b.tabIndex < 0)} untabbable, ` +
        `${count(b => !b.checkVisibility({visibilityProperty: true}))} unrendered, ` +
        `${count(b => b.closest("[inert]"))} inert, ${count(b => b.closest('[data-stale="true"]'))} stale`;
})"""


def focused(page) -> dict | None:
    return page.evaluate(FOCUSED)


def move_focus(page, wanted, key: str = "Tab") -> dict:
    """Press `key` (Tab, Shift+Tab or an arrow) until `wanted(focused)` holds; every stop on the way must show its
    focus.

    Returns the focused element's description. Fails after MOST_PRESSES presses, naming the stops it made.
    """
    seen, lost = [], 0
    for _ in range(MOST_PRESSES):
        page.keyboard.press(key)
        now = focused(page)
        if now is None:  # the focus left the page (past its last stop) and comes back with the next press
            lost += 1
            continue
        seen.append(now)
        assert now["outline"] or now["shadow"], f"focus not visible on {now['html']}"
        if wanted(now):
            return now
    raise AssertionError(
        f"not reached with {key}; stops: {[(s['key'], s['text']) for s in seen[-40:]]}; {lost} presses left no focus; "
        f"the widgets that can be stops: {page.evaluate(SKIPPED)}; script state: "
        f"{page.locator('[data-testid=stApp]').get_attribute('data-test-script-state')}"
    )


def with_key(key: str):
    return lambda now: now["key"] == key


def with_text(text: str):
    return lambda now: now["text"] == text or now["text"].endswith(f"\n{text}")


def test_a_student_trains_and_reads_mistakes_with_the_keyboard_only(streamlit_app):
    app, page = streamlit_app, streamlit_app.page
    app.open("hyperparameters?epochs=1")  # a link to the lab, with one setting of the student's own
    page.get_by_text("Now: your own settings").wait_for()

    # Pick a preset.
    move_focus(page, with_key("preset_Quick"))
    page.keyboard.press("Enter")
    page.get_by_text("Now: Quick").wait_for()
    app.wait_until_idle()

    # To the Train page by the link under the preview, and train.
    move_focus(page, with_text("Train with these settings"))
    page.keyboard.press("Enter")
    page.locator("h1", has_text="Train").wait_for()
    app.wait_until_idle()
    move_focus(page, with_key("train_start"))
    page.keyboard.press("Enter")

    # Pause it, then resume it. Both buttons sit under the Train button, which is disabled while the run trains.
    page.locator(".st-key-job_pause button").wait_for()
    move_focus(page, with_key("job_pause"))
    page.keyboard.press("Enter")
    page.locator(".st-key-job_resume button").wait_for()
    page.locator('[data-testid="stProgress"]', has_text="paused").first.wait_for()
    move_focus(page, with_key("job_resume"))
    page.keyboard.press("Space")
    finished = page.locator('[data-testid="stAlertContainer"]', has_text="Finished: test accuracy").first
    finished.wait_for(timeout=RUN_MS)
    accuracy = float(re.search(r"accuracy ([\d.]+) %", finished.inner_text()).group(1))
    assert accuracy > 90, finished.inner_text()
    app.wait_until_idle()

    # Back up to the sidebar and open Mistakes: its gallery shows this run's mistakes.
    move_focus(page, with_text("Mistakes"), key="Shift+Tab")
    page.keyboard.press("Enter")
    counts = page.locator('[data-testid="stMarkdownContainer"]', has_text="· showing").first
    counts.wait_for()
    app.wait_until_idle()
    mistakes = round((100 - accuracy) / 100 * 10_000)
    headline = page.locator("h3", has_text="mistakes out of 10,000").first.inner_text()
    assert f"({accuracy:.2f} % accuracy)" in headline, headline
    assert abs(int(headline.split()[0].replace(",", "")) - mistakes) <= 1, headline
    assert "page 1 of" in counts.inner_text()

    # Step through the gallery: the next page, then only the mistakes on true 7s (a pill, chosen with Space).
    move_focus(page, lambda now: now["testid"] == "stPaginationNext")
    page.keyboard.press("Enter")
    page.locator('[data-testid="stMarkdownContainer"]', has_text="page 2 of").first.wait_for()
    app.wait_until_idle()
    # The pills are one stop (the arrow keys move between them), as a radio group's options are.
    move_focus(page, with_key("mk_true"), key="Shift+Tab")
    move_focus(page, lambda now: now["key"] == "mk_true" and now["text"] == "7", key="ArrowRight")
    page.keyboard.press("Space")
    filtered = page.locator('[data-testid="stMarkdownContainer"]', has_text="with true digit 7").first
    filtered.wait_for()
    assert re.match(r"\d+ mistakes? with true digit 7 · showing", filtered.inner_text()), filtered.inner_text()
    captions = page.locator('.st-key-mk_gallery [data-testid="stImageCaption"]').all_inner_texts()
    assert captions and all(c.startswith("7\u00a0→") for c in captions), captions[:3]
    app.assert_no_exception()
