"""A student's journey in a real browser: Home, then Autograd (x and a hostile expression), then the rest."""

import time

import pytest

pytestmark = pytest.mark.browser
WAIT_MS = 30_000  # generous: two shared cores

PAGE_TITLES = ["Home", "Autograd", "Hyperparameters", "Train", "Mistakes", "Class"]


def wait_for_text(locator, text: str) -> None:
    """Wait until the locator (re-queried each time, as Streamlit re-renders) shows exactly `text`."""
    from playwright.sync_api import expect

    expect(locator).to_have_text(text, timeout=WAIT_MS)


def test_autograd_journey(streamlit_app, record_timing):
    app, page = streamlit_app, streamlit_app.page

    # Home: the shell, the navigation in lecture order, the network picture.
    record_timing("open Home (first visit: server loads MNIST)", app.open())
    page.locator("h1", has_text="MNIST Lab").wait_for()
    assert app.nav_titles() == PAGE_TITLES
    page.locator('[data-testid="stGraphVizChart"] svg').first.wait_for()
    app.assert_no_exception()
    app.screenshot("home")

    # Autograd, example 1 at its default x = 2.
    record_timing("go to Autograd (sidebar click to idle)", app.go_to("Autograd"))
    dydx = app.metric_value("dy/dx from backward()")
    wait_for_text(dydx, "7")
    wait_for_text(app.metric_value("y"), "11")
    app.assert_no_exception()
    app.screenshot("autograd")

    # Type x = 3 in the number box: dy/dx becomes 2·3 + 3 = 9.
    box = page.get_by_label("x (type a value)")
    box.fill("3")
    start = time.perf_counter()
    box.press("Enter")
    wait_for_text(dydx, "9")
    record_timing("type x = 3, Enter -> dy/dx shows 9", time.perf_counter() - start)

    # Move the slider one step right with the keyboard: x = 3.1, dy/dx = 9.2.
    thumb = page.locator('[data-testid="stSlider"] input[type="range"]').first
    thumb.focus()
    start = time.perf_counter()
    thumb.press("ArrowRight")
    wait_for_text(dydx, "9.2")
    record_timing("slider ArrowRight -> dy/dx shows 9.2", time.perf_counter() - start)
    app.assert_no_exception()

    # Example 4: a hostile expression is refused with a message, and nothing breaks.
    page.get_by_role("tab", name="4. Your own function").click()
    expression = page.get_by_role("textbox", name="f(x) or f(x, y) =")
    expression.fill("__import__('os').system('id')")
    start = time.perf_counter()
    expression.press("Enter")
    refusal = page.locator('[data-testid="stAlert"]', has_text="attribute access is not allowed: .system")
    refusal.wait_for()
    record_timing("hostile expression, Enter -> refusal shown", time.perf_counter() - start)
    app.wait_until_idle()
    app.assert_no_exception()

    # A good expression brings back the value, the table and the graph.
    expression.fill("x**3")
    start = time.perf_counter()
    expression.press("Enter")
    refusal.wait_for(state="detached")
    wait_for_text(app.metric_value("f(1)"), "1")
    page.locator('[data-testid="stGraphVizChart"] svg', has_text="PowBackward").first.wait_for()
    record_timing("expression x**3, Enter -> value and graph shown", time.perf_counter() - start)
    app.assert_no_exception()
    app.screenshot("autograd-own-function")

    # Example 5: one training step of the network on a test digit; take it, and the network guesses again.
    start = time.perf_counter()
    page.get_by_role("tab", name="5. One training step").click()
    steps = app.metric_value("Steps taken")
    wait_for_text(steps, "0")
    page.locator('[data-testid="stImage"] img').nth(8).wait_for()  # digit, activations, gradients, biases
    page.locator('[data-testid="stPlotlyChart"]', has_text="after the step").wait_for()
    record_timing("open the One training step tab -> pictures shown", time.perf_counter() - start)
    loss_after = app.metric_value("Loss after the step").inner_text()
    start = time.perf_counter()
    page.get_by_role("button", name="Take this step").click()
    wait_for_text(steps, "1")
    wait_for_text(app.metric_value("Loss"), loss_after)  # the adjusted network's guess is the new start
    record_timing("Take this step -> the next step shown", time.perf_counter() - start)
    assert page.locator('[data-testid="stImage"] img').count() >= 9
    app.assert_no_exception()
    app.screenshot("autograd-one-step")

    # Every other page opens without an exception.
    for title in PAGE_TITLES[2:]:
        record_timing(f"go to {title}", app.go_to(title))
        app.assert_no_exception()
    record_timing("back to Home", app.go_to("Home", heading="MNIST Lab"))
    app.assert_no_exception()
    record_timing("reload Home (MNIST already in memory)", app.open())
    record_timing("open /autograd directly", app.open("autograd"))
    wait_for_text(app.metric_value("dy/dx from backward()"), "7")
    app.assert_no_exception()


def test_a_deep_link_as_the_first_visit_still_gets_the_shell(fresh_streamlit_app, record_timing):
    # Until some session has run st.navigation, Streamlit routes /autograd straight to pages/autograd.py
    # (legacy pages/ folder); pages.ui.common.require_shell sends that visit through streamlit_app.py first.
    app, page = fresh_streamlit_app, fresh_streamlit_app.page
    record_timing("open /autograd as the server's first visit", app.open("autograd"))
    wait_for_text(app.metric_value("dy/dx from backward()"), "7")
    assert app.nav_titles() == PAGE_TITLES
    assert page.url.rstrip("/").endswith("/autograd")
    app.assert_no_exception()
