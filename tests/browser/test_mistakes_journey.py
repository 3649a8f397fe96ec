"""A student's journey through Mistakes in a real browser: train a short run, read its mistakes, filter them,
click the matrix, draw and upload digits, and have a text file refused. No exception on any step.

The actions and their waits are the benchmark's (benchmarks/mistakes_page.py), so the timings recorded
here measure the same thing.
"""

import io
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.mistakes_page import (
    WAIT_MS,
    click_matrix_cell,
    counts_line,
    filter_true_digit,
    next_page,
    open_mistakes,
)
from core.engine.run_store import RunStore
from core.engine.trainer import predict
from core.lessons.digits import NOT_IMAGE, to_mnist
from core.lessons.mistakes import gallery, headline, most_confused_pairs
from tests.browser.lab_server import until_shown
from tests.lab_helpers import REPO

pytestmark = pytest.mark.browser
LABEL = "journey run"
GALLERY, CAPTION = ".st-key-mk_gallery", '[data-testid="stImageCaption"]'


@pytest.fixture(scope="module")
def journey_run(app_runs_dir):
    """One epoch of Adam on 5,000 images, trained by the CLI into the server's runs folder (a few seconds)."""
    command = [sys.executable, "-m", "core.train", "--epochs", "1", "--train-subset", "5000", "--optimizer", "adam",
               "--lr", "0.002", "--label", LABEL, "--runs-dir", str(app_runs_dir), "--json", "--no-progress"]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=300)
    return next(run for run in RunStore(app_runs_dir).list() if run.record.get("label") == LABEL)


def digit_png(image: np.ndarray) -> bytes:
    """A real MNIST test digit as a student's photo would be: 280 px, black ink on white paper."""
    buffer = io.BytesIO()
    Image.fromarray(255 - image).resize((280, 280), Image.Resampling.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()


def choose_run(page, run) -> None:
    """Pick the journey's run in the Run box, unless it is already chosen (it is, when it is the newest)."""
    box = page.locator(".st-key-mk_run")
    if LABEL in box.inner_text():
        return
    box.click()
    page.get_by_role("option", name=LABEL).first.click()
    page.locator("h3", has_text=headline(run.predictions())).wait_for(timeout=WAIT_MS)


def test_mistakes_journey(streamlit_app, journey_run, mnist, record_timing):
    app, page = streamlit_app, streamlit_app.page
    p = journey_run.predictions()

    # Open the page: the headline, the matrix and a page of crisp mistakes.
    record_timing("open Mistakes (server may still load MNIST)", open_mistakes(page, app.base_url))
    choose_run(page, journey_run)
    page.locator("h3", has_text=headline(p)).wait_for()
    assert page.locator(f"{GALLERY} img").count() == min(40, len(gallery(p)))
    assert counts_line(page).startswith(f"{len(gallery(p)):,} mistakes")
    app.assert_no_exception()
    app.screenshot("mistakes")
    record_timing("reload Mistakes (warm)", open_mistakes(page, app.base_url))

    # Filter by a true digit with the pills: only that digit's mistakes remain.
    digit = int(np.bincount(p.labels[~p.correct], minlength=10).argmax())
    seconds = filter_true_digit(page, digit, f"with true digit {digit}")
    record_timing(f"pill 'true digit {digit}' -> gallery filtered", seconds)
    first = page.locator(f"{GALLERY} {CAPTION}").first.inner_text()
    assert first.startswith(f"{digit}\u00a0→"), first
    filter_true_digit(page, None, f"{len(gallery(p)):,} mistakes · showing")
    record_timing("next page -> page 2 shown", next_page(page))
    app.assert_no_exception()

    # Click the matrix cell of the most confused pair: the gallery shows exactly those images.
    pair = most_confused_pairs(p, k=1)[0]
    record_timing("click a matrix cell -> gallery filtered", click_matrix_cell(page, pair.true, pair.predicted))
    captions = page.locator(f"{GALLERY} {CAPTION}").all_inner_texts()
    assert len(captions) == min(40, pair.count)
    assert all(c.startswith(f"{pair.true}\u00a0→\u00a0{pair.predicted}") for c in captions)
    app.assert_no_exception()
    app.screenshot("mistakes-cell-clicked")

    # Try it yourself: draw a stroke on the canvas and get an answer.
    page.get_by_role("tab", name="Try it yourself").click()
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=WAIT_MS)
    answer = page.get_by_text("The network says")

    def draw_stroke() -> None:
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + 140, box["y"] + 40)
        page.mouse.down()
        for step in range(1, 21):
            page.mouse.move(box["x"] + 140, box["y"] + 40 + 10 * step)
        page.mouse.up()

    until_shown(draw_stroke, answer, wait_ms=WAIT_MS // 3)  # a stroke drawn before the canvas listens is lost
    app.assert_no_exception()

    # Upload a photo-like picture of a real test digit: it is made MNIST-like and predicted.
    page.get_by_text("Upload a picture").click()
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.wait_for(state="attached", timeout=WAIT_MS)
    picture = digit_png(mnist.test_images[0].numpy())
    expected = int(predict(journey_run.model(), torch.from_numpy(to_mnist(picture).image))[0].argmax())
    start = time.perf_counter()
    uploader.set_input_files(files=[{"name": "my-digit.png", "mimeType": "image/png", "buffer": picture}])
    page.locator("h3", has_text=f"The network says {expected} (").wait_for(timeout=WAIT_MS)
    record_timing("upload a digit PNG -> prediction shown", time.perf_counter() - start)
    page.get_by_text("inverted (it was dark on light").first.wait_for()
    app.assert_no_exception()
    app.screenshot("mistakes-upload")

    # A text file is refused with a message in words, not a traceback.
    uploader.set_input_files(files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a digit"}])
    page.locator('[data-testid="stAlert"]', has_text=NOT_IMAGE).wait_for(timeout=WAIT_MS)
    assert page.locator("h3", has_text="The network says").count() == 0
    app.assert_no_exception()

    # The other two tabs open without an exception.
    page.get_by_role("tab", name="Inside the network").click()
    page.locator("h3", has_text="weight pictures").wait_for(timeout=WAIT_MS)
    app.wait_until_idle()
    app.assert_no_exception()
    app.screenshot("mistakes-inside")
    page.get_by_role("tab", name="Compare two runs").click()
    page.locator(".st-key-mk_other").or_(page.get_by_text("only one run with predictions")).first.wait_for()
    app.wait_until_idle()
    app.assert_no_exception()
