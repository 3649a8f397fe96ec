"""Helpers several test files share: open the app at a page in AppTest, and wait for a condition."""

from __future__ import annotations

import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # the repository's root: tests and benchmarks find the lab's files from it
TIMING = "timing"  # a journey's timings, among its report's user properties (tests/browser/conftest.py)
APP = REPO / "streamlit_app.py"  # the app, as `streamlit run` and AppTest open it


def open_app_page(page: str, timeout: float = 30, **query):
    """An AppTest of the whole app (its shell first, as a browser has it), switched to `page`, no exception."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params.update(query)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def wait_until(predicate, timeout: float = 30.0, what: str = "condition", every: float = 0.01):
    """Poll `predicate` every `every` seconds until it is true, and return what it answered; AssertionError naming
    `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (answer := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)
    return answer


def wait_until_serving(process, ready, timeout: float, what: str, log: Path | None = None, every: float = 0.2):
    """wait_until `ready` answers while the started `process` runs; AssertionError with the end of its `log` if the
    process ends first or `timeout` passes."""

    def answered():
        if process.poll() is not None:
            raise AssertionError(f"the process ended before {what}")
        return ready()

    try:
        return wait_until(answered, timeout, what, every)
    except AssertionError as error:
        tail = log.read_text(errors="replace")[-3000:] if log else "(no log kept)"
        raise AssertionError(f"{error}; its log:\n{tail}") from None


def steps_of(job) -> int:
    """How many steps a job has trained, from its snapshot."""
    return job.snapshot().step


def numbers_tables(at) -> list:
    """The "Show the numbers" tables under the charts (pages.ui.charts), apart from a page's own tables."""
    from pages.ui.charts import NUMBERS_LABEL

    return [table for expander in at.expander if expander.label == NUMBERS_LABEL for table in expander.dataframe]


def page_tables(at) -> list:
    """A page's own st.dataframe tables, without the charts' "Show the numbers" ones."""
    shown = {id(table.proto) for table in numbers_tables(at)}
    return [table for table in at.dataframe if id(table.proto) not in shown]


def true_progress(epochs: list[dict], per_epoch: int, samples_per_epoch: int, step: int) -> tuple[float, float]:
    """What a run's epochs, measured once it has ended, say of the moment it had done `step` steps: (the samples per
    second of that step's epoch, the seconds left at that pace, evaluations included)."""
    # At that pace, not at the later epochs' own: no time left can foresee the machine's load changing (in one CI run
    # the first epoch trained about a quarter slower than the three after it, by the readings it printed, and the time
    # left read 1.25 times that future).
    index = (step - 1) // per_epoch  # the epoch of that step, from 0
    seconds = epochs[index]["seconds"]
    left = (len(epochs) * per_epoch - step) * seconds / per_epoch + sum(e["eval_seconds"] for e in epochs[index:])
    return samples_per_epoch / seconds, left


def live_job(manager, config, owner: str, **kwargs):
    """Submit a run to a JobManager and return its live Job, which a test watches change (a page reads snapshots)."""
    return manager.job(manager.submit(config, owner, **kwargs).id)
