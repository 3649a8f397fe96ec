"""Two lab servers on one Ray head, one lab: a run started on A is live on B, outlives A (and is live on A again once
A restarts), and its owner controls it from B; the waiting limit counts both servers' runs. Real MNIST.

The test starts the head (token authentication, one CPU: one run trains at a time) and ends it by its pid. Both
servers share the runs folder, so the owner cookie (signed with runs/.lab_secret) is valid on both; one browser
context holds it for 127.0.0.1 whatever the port.
"""

import json
import re
import statistics
from urllib.parse import urlencode

import pytest

from core.engine.status import Status
from tests.browser.lab_server import (
    StreamlitPage,
    start_lab_server,
    start_ray_head,
    stop_lab_server,
    stop_ray_head,
)
from tests.browser.test_training_journeys import RUN_MS, button, ended_text, wait_for_points
from tests.lab_helpers import true_progress, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WARM_MS = 300_000  # the coordinator imports torch and warms its actors after the head's own start
SETTINGS = urlencode({"epochs": 6})
# The first run trains long enough to be paused from B before it ends even on a quiet machine (about 45 s there:
# 6 epochs took 26 s, and ended before B's tab drew it), and may then take minutes to finish on a loaded one.
FIRST = {"epochs": 10, "batch_size": 16}
FIRST_SETTINGS = urlencode(FIRST)
PER_EPOCH = 60_000 // FIRST["batch_size"]  # the first run's steps in an epoch
FINISH_MS = 480_000
STEP = re.compile(r"step ([\d,]+) of [\d,]+")
SHOWN = re.compile(STEP.pattern + r" · ([\d,]+) samples/s")


def shown_speeds(page, readings: int = 10) -> list[tuple[int, float]]:
    """(step, samples per second) as the progress line shows them, read about once a second."""
    seen = []
    for _ in range(2 * readings):
        found = SHOWN.search(page.locator('[data-testid="stProgress"]').first.inner_text())
        if found:
            seen.append((int(found.group(1).replace(",", "")), float(found.group(2).replace(",", ""))))
        if len(seen) == readings:
            break
        page.wait_for_timeout(1000)
    return seen


def wait_for_step(page, step: int) -> None:
    """Wait until the progress line shows at least `step` steps."""
    progress = page.locator('[data-testid="stProgress"]').first
    wait_until(lambda: (found := STEP.search(progress.inner_text())) and int(found.group(1).replace(",", "")) >= step,
               RUN_MS / 1000, f"step {step} shown", every=0.2)


@pytest.fixture
def two_servers(tmp_path):
    """A Ray head and two lab servers joined to it with one runs folder; yields (url A, server A, url B, runs,
    a function that starts one more server on them: A again, after a restart)."""
    runs = tmp_path / "runs"
    head = start_ray_head(tmp_path / "ray.log", num_cpus=1)
    servers = []

    def start_server(name: str) -> tuple:
        servers.append(start_lab_server(runs, tmp_path / f"streamlit-{name}.log", executor="ray", extra_env=head.env))
        return servers[-1]

    try:
        (server_a, url_a), (_, url_b) = start_server("a"), start_server("b")
        yield url_a, server_a, url_b, runs, start_server
    finally:
        for server, _ in servers:
            if server.poll() is None:
                stop_lab_server(server)
        stop_ray_head(head)


def job_in_url(page) -> str:
    """The run's id the Train page put in its address (job=) after Train."""
    page.wait_for_url(re.compile(r"[?&]job="))
    return re.search(r"[?&]job=([^&]+)", page.url).group(1)


def queue_one(app: StreamlitPage) -> str:
    """Open Train with the journey's settings in a fresh session, press Train; the run's id."""
    app.open(f"train?{SETTINGS}")
    button(app.page, "train_start").click()
    return job_in_url(app.page)


def test_two_servers_are_one_lab(two_servers, page):
    url_a, server_a, url_b, runs, start_server = two_servers
    on_a, on_b = StreamlitPage(page, url_a), StreamlitPage(page.context.new_page(), url_b)

    on_a.open(f"train?{FIRST_SETTINGS}")
    page.get_by_text(re.compile(r"This lab trains 1 run at once on 1 machine")).first.wait_for(timeout=WARM_MS)
    button(page, "train_start").click()
    wait_for_points(page, 0)
    first = job_in_url(page)

    # B shows A's run live, with the owner's controls: same cookie, same owner, one job manager. The owner pauses
    # it from B, so it holds the one slot while the queue fills.
    on_b.open(f"train?job={first}")
    wait_for_points(on_b.page, 0)
    speeds = shown_speeds(on_b.page)  # judged once the run has ended, against the epochs it measured
    # Paused only in the epoch after the last reading: the epochs the readings fall in then end before the pause and
    # A's restart, whose load slowed the rest of the epoch they shared and made it read 30 % slower than B saw.
    wait_for_step(on_b.page, ((speeds[-1][0] - 1) // PER_EPOCH + 1) * PER_EPOCH + 1)
    button(on_b.page, "job_pause").click()
    button(on_b.page, "job_resume").wait_for()
    on_b.assert_no_exception()

    # The waiting limit counts both servers: 2 waiting through A, 1 through B, the 4th is refused on B.
    queued_a = StreamlitPage(page.context.new_page(), url_a)
    stop_me = queue_one(queued_a)
    queue_one(queued_a)
    queued_b = StreamlitPage(page.context.new_page(), url_b)
    queue_one(queued_b)
    queued_b.open(f"train?{SETTINGS}")
    button(queued_b.page, "train_start").click()
    queued_b.page.get_by_text(re.compile(r"one browser may have at most 3 waiting")).first.wait_for()
    queued_a.page.close()
    queued_b.page.close()

    # A ends mid-run: the run goes on (resumed from B, B keeps drawing it) and ends finished, saved once. A restarted
    # web process finds the same lab: the run's link shows it there again.
    stop_lab_server(server_a)
    button(on_b.page, "job_resume").click()
    _, url_a_again = start_server("a-restarted")
    on_a_again = StreamlitPage(page.context.new_page(), url_a_again)
    on_a_again.open(f"train?job={first}")
    wait_for_points(on_a_again.page, 0)
    on_a_again.page.close()
    message = ended_text(on_b.page, "Finished: test accuracy", FINISH_MS)
    assert "10 epochs" in message, message

    # The owner stops, from B, a run that was queued through A and now trains.
    on_b.open(f"train?job={stop_me}")
    wait_for_points(on_b.page, 0)
    button(on_b.page, "job_stop").click()
    ended_text(on_b.page, "Stopped", RUN_MS)
    on_b.assert_no_exception()

    records = [json.loads(p.read_text()) for p in runs.glob("*/run.json")]
    statuses = sorted(record["status"] for record in records)
    assert statuses.count(Status.FINISHED) == 1 and statuses.count(Status.STOPPED) == 1, statuses
    assert Status.INTERRUPTED not in statuses, statuses

    # The speed B showed was believable: the steps reach B through the coordinator in bursts, but the speed comes
    # from when they happened (it read millions of samples/s). The truth: the samples trained between B's first and
    # last reading over the training time the run's epochs measured between them.
    (record,) = [record for record in records if record["status"] == Status.FINISHED]
    epochs = json.loads((runs / record["id"] / "epochs.json").read_text())
    per_epoch, n_train = record["total_steps"] // len(epochs), record["n_train"]
    (first_step, _), (last_step, _) = speeds[0], speeds[-1]
    trained_for = (true_progress(epochs, per_epoch, n_train, first_step)[1]
                   - true_progress(epochs, per_epoch, n_train, last_step)[1])
    truth = (last_step - first_step) * n_train / per_epoch / trained_for
    shown = statistics.mean(speed for _, speed in speeds)
    assert len(speeds) >= 5 and 0.75 <= shown / truth <= 1.25, (shown, truth, speeds, epochs)
