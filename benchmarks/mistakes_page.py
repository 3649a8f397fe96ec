"""How fast the Mistakes page is in a real browser, for a run with 10,000 test predictions.

Measures, from the action to the moment the result is on screen (script done, the gallery's counts line
updated, every gallery image decoded, the confusion matrix drawn):
  open      load /mistakes in a fresh tab (server warm: MNIST and the run already in memory)
  navigate  click "Mistakes" in the sidebar, coming from Home
  filter    click a "True digit" pill
  page      click the pagination's "next page" arrow
  cell      click a confusion-matrix cell

For scale, on the same server and browser: "home" opens the Home page in a fresh tab (no Plotly), and
"script" lines time the page's Python alone (AppTest, in this process) for opening and for a filter change.

Run: python -m benchmarks.mistakes_page [--repeats 5]. It starts its own server (free port, a temporary
runs folder with one short run trained into it) unless --url and --runs-dir are given. Prints median, min
and max, and the machine's load. The journey test (tests/browser/test_mistakes_journey.py) uses the same
actions and waits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.browser.lab_server import REPO, start_lab_server, stop_lab_server

WAIT_MS = 30_000
MATRIX = '[class*="st-key-mk_matrix_"]:not(.st-key-mk_matrix_view)'  # the confusion matrix's chart (its key changes)
GALLERY_COUNTS = '[data-testid="stMarkdownContainer"]:has-text("showing")'
IMAGES_READY = """(n) => {
    const imgs = [...document.querySelectorAll('[data-testid="stImage"] img')];
    return imgs.length >= n && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""


# --- actions and waits (shared with the browser journey) ---------------------------------------------------


def wait_for_gallery(page, counts_text: str | None = None, images: int = 1) -> None:
    """Wait until the page shows the gallery: counts line (containing counts_text), images decoded, matrix drawn."""
    counts = page.locator(GALLERY_COUNTS)
    if counts_text is not None:
        counts = counts.filter(has_text=counts_text)
    counts.first.wait_for(timeout=WAIT_MS)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=WAIT_MS)
    page.wait_for_function(IMAGES_READY, arg=images, timeout=WAIT_MS)
    page.locator(f"{MATRIX} path[aria-label]").first.wait_for(timeout=WAIT_MS)


def counts_line(page) -> str:
    """The gallery's line "N mistakes · showing a–b · page p of n"."""
    return page.locator(GALLERY_COUNTS).first.inner_text()


def open_mistakes(page, base_url: str) -> float:
    """Load /mistakes and wait for the gallery; seconds taken."""
    start = time.perf_counter()
    page.goto(f"{base_url}/mistakes")
    wait_for_gallery(page)
    return time.perf_counter() - start


def navigate_from_home(page, base_url: str) -> float:
    """Open Home, then time the sidebar click on Mistakes until the gallery is shown."""
    page.goto(base_url)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=WAIT_MS)
    page.locator("h1", has_text="MNIST Lab").first.wait_for(timeout=WAIT_MS)
    start = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"] a', has_text="Mistakes").first.click()
    wait_for_gallery(page)
    return time.perf_counter() - start


def filter_true_digit(page, digit: int | None, expect: str) -> float:
    """Click the "True digit" pill `digit` (None: click the selected one off); wait for `expect` in the counts."""
    pills = page.locator(".st-key-mk_true")
    pill = pills.locator('[aria-checked="true"]') if digit is None else pills.get_by_role("radio", name=str(digit))
    start = time.perf_counter()
    pill.first.click()
    wait_for_gallery(page, expect)
    return time.perf_counter() - start


def next_page(page) -> float:
    """Click the pagination's next arrow and wait for the following page's images."""
    before = counts_line(page)
    page_no = int(before.split("page ")[1].split(" of")[0])
    start = time.perf_counter()
    page.locator('[class*="st-key-mk_page_"] [data-testid="stPaginationNext"]').click()
    wait_for_gallery(page, f"page {page_no + 1} of")
    return time.perf_counter() - start


def click_matrix_cell(page, true: int, predicted: int) -> float:
    """Click the confusion-matrix cell (true, predicted) and wait for the gallery to show that pair."""
    # Vega draws each cell as an SVG path labelled with its digits; the click lands on the cell's number, as a
    # student's would.
    cell = f'{MATRIX} path[aria-label^="predicted digit: {predicted}; true digit: {true};"]'
    box = page.locator(cell).first.bounding_box()
    start = time.perf_counter()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    what = "test images" if true == predicted else "mistakes"
    wait_for_gallery(page, f"{what} with true digit {true} and predicted {predicted}")
    return time.perf_counter() - start


# --- a server and a run of our own ---------------------------------------------------------------------------


def train_short_run(runs_dir: Path) -> None:
    """One epoch of Adam on 5,000 images (a few seconds): about 88 % right, so about 1,200 mistakes."""
    command = [sys.executable, "-m", "core.train", "--epochs", "1", "--train-subset", "5000", "--optimizer", "adam",
               "--lr", "0.002", "--label", "benchmark", "--runs-dir", str(runs_dir), "--json", "--no-progress"]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=300)


# --- the measurements ------------------------------------------------------------------------------------


def measure(base_url: str, repeats: int) -> dict[str, list[float]]:
    """Seconds per action, `repeats` times each, after one warm-up visit (MNIST, run and JS loaded)."""
    from playwright.sync_api import sync_playwright

    from tests.browser.lab_server import CHROMIUM_ARGS, find_chromium

    chromium = find_chromium()
    names = ("first open", "open", "navigate", "filter", "page", "cell", "home")
    times: dict[str, list[float]] = {name: [] for name in names}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        times["first open"].append(open_mistakes(page, base_url))  # includes loading MNIST on the server
        for _ in range(repeats):
            tab = context.new_page()  # a new Streamlit session; the browser's cache stays warm, like a student's
            times["open"].append(open_mistakes(tab, base_url))
            unfiltered = counts_line(tab)
            digit = len(times["filter"]) % 10
            times["filter"].append(filter_true_digit(tab, digit, f"with true digit {digit}"))
            filter_true_digit(tab, None, unfiltered)  # back to every mistake
            times["page"].append(next_page(tab))
            times["cell"].append(click_matrix_cell(tab, 9, 4))
            times["navigate"].append(navigate_from_home(tab, base_url))
            tab.close()
            home = context.new_page()
            start = time.perf_counter()
            home.goto(base_url)
            home.locator("h1", has_text="MNIST Lab").wait_for(timeout=WAIT_MS)
            home.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=WAIT_MS)
            times["home"].append(time.perf_counter() - start)
            home.close()
        browser.close()
    return times


def script_times(runs_dir: Path, repeats: int) -> dict[str, list[float]]:
    """The page's Python alone, through AppTest: opening it, and one filter change (includes AppTest's overhead)."""
    from streamlit.testing.v1 import AppTest

    os.environ["MNIST_LAB_RUNS"] = str(runs_dir)
    times: dict[str, list[float]] = {"script: open": [], "script: filter": []}
    for k in range(repeats + 1):
        at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60).run()
        start = time.perf_counter()
        at.switch_page("pages/mistakes.py").run()
        opened = time.perf_counter() - start
        at.pills(key="mk_true").set_value(k % 10)
        start = time.perf_counter()
        at.run()
        filtered = time.perf_counter() - start
        if k:  # the first round loads MNIST and the run into this process
            times["script: open"].append(opened)
            times["script: filter"].append(filtered)
    return times


def report(times: dict[str, list[float]]) -> None:
    """Print median, min and max per action in milliseconds."""
    print(f"{'action':<12}{'median ms':>10}{'min ms':>9}{'max ms':>9}  n")
    for name, values in times.items():
        if values:
            ms = [1000 * v for v in values]
            print(f"{name:<12}{statistics.median(ms):>10.0f}{min(ms):>9.0f}{max(ms):>9.0f}  {len(ms)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--url", help="a running server to measure (it must already have a finished run)")
    parser.add_argument("--runs-dir", type=Path, help="with --url: the runs folder that server reads")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (1 min) at the start")
    if args.url:
        times = measure(args.url.rstrip("/"), args.repeats)
        if args.runs_dir:
            times |= script_times(args.runs_dir, args.repeats)
        report(times)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            runs_dir = Path(tmp) / "runs"
            train_short_run(runs_dir)
            server, url = start_lab_server(runs_dir)
            try:
                times = measure(url, args.repeats)
            finally:
                stop_lab_server(server)
            report(times | script_times(runs_dir, args.repeats))
    print(f"machine: load average {os.getloadavg()[0]:.1f} (1 min) at the end")


if __name__ == "__main__":
    main()
