"""A lab server with MNIST_LAB_EXECUTOR=ray: a student trains on a Ray actor and sees it live. Real MNIST.

The server starts a local Ray (no dashboard) and warms one actor per CPU before the first click.
"""

import re
import time
from urllib.parse import urlencode

import pytest

from tests.browser.lab_server import StreamlitPage, start_lab_server, stop_lab_server
from tests.browser.test_training_journeys import RUN_MS, button, ended_text, wait_for_points

pytestmark = pytest.mark.browser
WARM_MS = 240_000  # a local ray.init() took 26 s on a busy 2-core machine, then the actors import torch


@pytest.fixture
def ray_server(tmp_path):
    """A lab server of its own whose runs train on Ray; yields (url, runs folder)."""
    runs = tmp_path / "runs"
    server, url = start_lab_server(runs, tmp_path / "streamlit.log", executor="ray")
    try:
        yield url, runs
    finally:
        stop_lab_server(server)


def test_a_run_trains_on_a_ray_actor_and_is_saved_by_the_server(ray_server, page, record_timing):
    url, runs = ray_server
    app = StreamlitPage(page, url)
    app.open("train?" + urlencode({"epochs": 2, "train_subset": 10_000}))
    app.assert_no_exception()
    # Warm: Ray has started and its actors are ready, so the caption counts them.
    page.get_by_text(re.compile(r"This lab trains \d+ runs? at once on 1 machine")).first.wait_for(timeout=WARM_MS)
    start = time.perf_counter()
    button(page, "train_start").click()
    wait_for_points(page, 0)
    record_timing("click Train -> first loss point drawn (Ray, warm server)", time.perf_counter() - start)
    message = ended_text(page, "Finished: test accuracy", RUN_MS)
    assert float(re.search(r"accuracy ([\d.]+) %", message).group(1)) > 85, message
    app.assert_no_exception()
    (run,) = [p for p in runs.iterdir() if (p / "run.json").exists()]
    assert (run / "model.pt").exists() and (run / "predictions.npz").exists()  # sent back, saved here
