"""The app in a real browser, for journeys and benchmarks alike: start and stop its server, find Debian's
Chromium, and drive a tab with the waits Streamlit needs.

Plain code (no pytest), so benchmarks/ measure the same server, and act the same way, as the journeys.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest

from tests.lab_helpers import REPO, wait_until_serving

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Without the background-networking flags Chromium keeps dialling out on a machine with no internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 90
# Records the text of every sidebar navigation entry the page ever shows, from before its first script run.
NAV_WATCH_SCRIPT = """
window.__labNavSeen = new Set();
new MutationObserver(() => {
    document.querySelectorAll('[data-testid="stSidebarNav"] a, [data-testid="stSidebarNavItems"] a')
        .forEach(a => window.__labNavSeen.add(a.innerText.trim().split('\\n').pop().trim()));
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def find_chromium() -> str | None:
    """Path of Debian's Chromium ($MNIST_LAB_CHROMIUM overrides), or None."""
    candidates = [os.environ.get("MNIST_LAB_CHROMIUM"), *CHROMIUM_CANDIDATES, shutil.which("chromium")]
    return next((p for p in candidates if p and os.access(p, os.X_OK)), None)


def in_ci() -> bool:
    """True on the CI machine (CI=true), where a missing browser or proxy is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str):
    """Skip the test for a missing program, or fail it on CI, where every journey must run."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: browser journeys must run)")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    """True once the Streamlit server at url answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_lab_server(runs_dir: Path, log_path: Path | None = None, executor: str = "local",
                     extra_env: dict | None = None, extra_args: tuple[str, ...] = (),
                     entry: str = "launch") -> tuple[subprocess.Popen, str]:
    """`python -m launch` (`streamlit run streamlit_app.py`, as `make app` runs it) on a free port with its own
    runs folder and executor; (process, base URL).
    `extra_args`: more of Streamlit's options (for example --secrets.files). `entry`: "launch", or "streamlit" for
    `streamlit run streamlit_app.py` itself, as most hosts start an app.

    Raises RuntimeError, with the end of the server's log, if it does not answer within 90 s.
    """
    port = free_port()
    env = {
        **os.environ,
        "MNIST_LAB_DATA": os.environ.get("MNIST_LAB_DATA", str(REPO / "data")),
        "MNIST_LAB_RUNS": str(runs_dir),
        "MNIST_LAB_EXECUTOR": executor,  # the tests' own process trains in threads (tests/conftest.py): not a server
        # Every test browser comes from 127.0.0.1: a class behind one address, so its new-id limit is the class's.
        "MNIST_LAB_NEW_IDS_PER_HOUR": "1000",
        **(extra_env or {}),
    }
    start = {"launch": ["launch"], "streamlit": ["streamlit", "run", "streamlit_app.py"]}[entry]
    command = [
        sys.executable, "-m", *start,  # launch: as `make app` starts it, `streamlit run streamlit_app.py` warming early
        "--server.headless", "true",
        "--global.developmentMode", "false",
        "--server.fileWatcherType", "none",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        *extra_args,
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with open(log_path or os.devnull, "wb") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(server, lambda: healthy(url), SERVER_START_TIMEOUT_S, "its health check", log_path, 0.25)
    except AssertionError as error:
        stop_lab_server(server)
        raise RuntimeError(f"Streamlit did not start: {error}") from None
    return server, url


def stop_lab_server(server: subprocess.Popen) -> None:
    """Stop the server by its own pid: terminate, then kill if it lingers; then any of its workers still left
    (a killed server cannot stop them, and a stray worker slows every later test)."""
    try:
        workers = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        workers = []
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    for worker in workers:
        with contextlib.suppress(psutil.NoSuchProcess):
            worker.kill()


RAY_HEAD_START_TIMEOUT_S = 180  # Ray's start took about 26 s on a busy 2-core machine


class RayHead(NamedTuple):
    """A Ray head started for a test or a benchmark, and what a lab server needs to join it."""

    process: subprocess.Popen
    env: dict  # RAY_ADDRESS and the token (RAY_AUTH_MODE, RAY_AUTH_TOKEN)


def start_ray_head(log_path: Path, num_cpus: int) -> RayHead:
    """`ray start --head --block` on a free port with token authentication and a token of its own.

    Raises RuntimeError, with the end of its log, if it does not say it started within 180 s.
    """
    import secrets

    port = free_port()
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_ADDRESS": f"127.0.0.1:{port}"}
    command = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--port", str(port),
               "--num-cpus", str(num_cpus), "--include-dashboard", "false", "--disable-usage-stats"]
    with open(log_path, "wb") as log:
        # As a host starts it: in a folder of its own, without the lab's settings (the lab hands them over).
        plain = {name: value for name, value in os.environ.items() if not name.startswith("MNIST_LAB_")}
        head = subprocess.Popen(command, cwd=log_path.parent, env={**plain, **env, "RAY_ADDRESS": ""}, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        wait_until_serving(head, lambda: "Ray runtime started" in log_path.read_text(errors="replace"),
                           RAY_HEAD_START_TIMEOUT_S, "it says it started", log_path, 0.5)
    except AssertionError as error:
        stop_ray_head(RayHead(head, env))
        raise RuntimeError(f"Ray's head did not start: {error}") from None
    return RayHead(head, env)


RAY_STOP_GRACE_S = 5


def stop_ray_head(head: RayHead) -> None:
    """End the head and every process of its cluster (detached actors included), found by the head's own pid: all
    are asked to stop at once, and those left after a few seconds are killed. The head alone stops them one after
    another, which took about 30 s."""
    try:
        cluster = psutil.Process(head.process.pid)
        processes = [cluster, *cluster.children(recursive=True)]
    except psutil.NoSuchProcess:
        processes = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, left = psutil.wait_procs(processes, timeout=RAY_STOP_GRACE_S)
    for process in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    head.process.wait()


@contextlib.contextmanager
def chromium_kept_niced(nice: int, period_s: float = 0.5):
    """Keep every Chromium process below this one at `nice` while the block runs.

    A nice given at launch does not last: Chromium running as root sets its renderers' and GPU process's
    priorities itself (seen here: renderers at 0 and 5, the GPU process at -8 under a browser at 19).
    """
    done = threading.Event()

    def keep() -> None:
        me = psutil.Process()
        while not done.wait(period_s):
            for process in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "chrom" in process.name() and process.nice() != nice:
                        process.nice(nice)

    keeper = threading.Thread(target=keep, daemon=True, name="chromium-nice")
    keeper.start()
    try:
        yield
    finally:
        done.set()
        keeper.join()


class LabInChromium(NamedTuple):
    """A running lab server, its runs folder and a Chromium to visit it with."""

    server: subprocess.Popen
    url: str
    browser: object
    runs: Path


@contextlib.contextmanager
def lab_in_chromium(browser_nice: int = 0, executor: str = "local", extra_env: dict | None = None,
                    entry: str = "launch"):
    """A lab server with a runs folder of its own (started by `entry`, see start_lab_server) and a headless
    Chromium; yields a LabInChromium.

    `browser_nice` lowers Chromium's CPU priority (the processes it starts later inherit it): in a class the
    students' browsers run on their own computers, not on the server's cores.
    """
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as runs:
        server, url = start_lab_server(Path(runs), executor=executor, extra_env=extra_env, entry=entry)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
                with chromium_kept_niced(browser_nice) if browser_nice else contextlib.nullcontext():
                    yield LabInChromium(server, url, browser, Path(runs))
                browser.close()
        finally:
            stop_lab_server(server)


def drawn(key: str) -> str:
    """CSS selector of the element with this widget key as the page draws it now. During a rerun Streamlit keeps the
    last run's elements, marked stale, until the run ends: a widget drawn at a new place is then on the page twice."""
    return f'.st-key-{key}:not([data-stale="true"])'


SHELL_DRAWN = "() => getComputedStyle(document.documentElement).getPropertyValue('--mnist-lab-styles').trim() === '1'"


class StreamlitPage:
    """A Playwright page on the app, with the waits Streamlit needs (see /work/shared/NOTES.md)."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url

    def open(self, path: str = "") -> float:
        """Load base_url/path and wait until the script has run once; returns the seconds it took."""
        start = time.perf_counter()
        self.page.goto(f"{self.base_url}/{path}")
        # A direct link first runs its page alone, as Streamlit's legacy page, which hands over to the lab's shell
        # (pages/ui/common.require_shell): the script reads "notRunning" between the two, before the shell has drawn
        # anything. The shell's stylesheet (its focus outlines) is the sign that it has run.
        self.page.wait_for_function(SHELL_DRAWN)
        self.wait_until_idle()
        return time.perf_counter() - start

    def wait_until_idle(self) -> None:
        """Connected and the script not running (do not use while a fragment polls: wait for content)."""
        self.page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]')
        self.page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')

    def go_to(self, title: str, heading: str | None = None) -> float:
        """Click a page in the sidebar, wait for its heading (default: the title) and the script to end.

        Returns the seconds it took. The heading is waited for because the script state may still read
        "notRunning" from the previous page for a moment after the click.
        """
        start = time.perf_counter()
        self.page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
        self.page.locator("h1", has_text=heading or title).first.wait_for()
        self.wait_until_idle()
        return time.perf_counter() - start

    def start_two_rate_sweep(self) -> None:
        """On Hyperparameters: the sweep of the default rates less 0.1, on the fewest training images, started."""
        values = self.page.locator(".st-key-sw_values_lr")
        values.get_by_role("button", name="Remove 0.1", exact=True).click()
        values.get_by_role("button", name="Remove 0.1", exact=True).wait_for(state="detached")
        self.wait_until_idle()
        thumb = self.page.locator(".st-key-sw_subset input[type=range]")
        thumb.focus()
        thumb.press("Home")  # the fewest training images: 2,000
        self.page.locator(".st-key-sw_subset", has_text="2,000").wait_for()
        self.wait_until_idle()
        self.page.locator(".st-key-sw_start button").first.click()

    def nav_titles(self) -> list[str]:
        """The page titles in the sidebar, top to bottom."""
        texts = self.page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        return [t.strip().splitlines()[-1].strip() for t in texts]  # the icon's ligature name comes first

    def watch_nav(self) -> None:
        """From the next page load on, remember every sidebar entry shown (see `nav_seen`)."""
        self.page.add_init_script(NAV_WATCH_SCRIPT)

    def nav_seen(self) -> set[str]:
        """Every sidebar entry shown since `watch_nav`, even for a moment."""
        return set(self.page.evaluate("Array.from(window.__labNavSeen || [])"))

    def metric_value(self, label: str):
        """Locator of the value of the st.metric with this label."""
        box = self.page.locator('[data-testid="stMetric"]').filter(
            has=self.page.locator('[data-testid="stMetricLabel"]', has_text=label)
        )
        return box.locator('[data-testid="stMetricValue"]').first

    def screenshot(self, name: str) -> None:
        """Save a full-page PNG to $MNIST_LAB_SCREENSHOTS/<name>.png when that variable is set."""
        folder = os.environ.get("MNIST_LAB_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    def assert_no_exception(self) -> None:
        """No Streamlit exception box anywhere on the page."""
        assert_no_exception(self.page)


def until_shown(action, shown, tries: int = 3, wait_ms: int = 10_000) -> None:
    """Do `action()` until the locator `shown` appears within `wait_ms`, at most `tries` times. A page that polls
    redraws itself: a refresh can swallow a click, or replace a button while Playwright waits for it to hold still,
    so an action that times out counts as one try. Raises Playwright's TimeoutError after the last."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        with contextlib.suppress(PlaywrightTimeout):
            action()
        try:
            shown.wait_for(timeout=wait_ms)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def assert_no_exception(page) -> None:
    """Fail if the page shows a Streamlit exception (`stException`)."""
    count = page.locator('[data-testid="stException"]').count()
    assert count == 0, (
        f"{count} exception(s) on {page.url}: {page.locator('[data-testid=stException]').all_inner_texts()}"
    )
