"""The dashboard's numbers, measured with a real server and Chromium (Playwright), as a student meets them.

    python -m benchmarks.dashboard            # everything, on both paths; about 8 minutes on the 2-core lab machine
    python -m benchmarks.dashboard --json     # one JSON line at the end as well
    python -m benchmarks.dashboard --only cold,switches --paths streamlit   # some parts, one path

Each path is a fresh server: `python -m launch` (as `make app` starts the lab, warming from the server's start) and
`streamlit run streamlit_app.py` (as Streamlit Community Cloud, Hugging Face's template and most hosts start an
app: nothing runs before the first visit). Each path's numbers are printed as they come, then side by side.

1. Quick preset: test accuracy and training time of one run started from the Train page.
2. Click on Train to the first loss point drawn in the browser (warm server; median and worst of --repeats).
3. While a run trains, another page opens: a sidebar click in the training tab, and a new tab opening
   /autograd, each to its heading and the script idle (median and worst of --repeats).
4. Server memory (RSS) over --runs runs one after another, each started by a click and watched to its end.
5. The Autograd page's "One training step" tab: its first draw in a session (a click on the tab until its
   pictures are shown and the script idle) against Home's page switch (a sidebar click to Home), medians and
   their ratio (the issue's target: at most 2).
6. Every page, switched to by a sidebar click in one session (with a saved run for Mistakes): its first visit
   and its median switch over --repeats rounds, as ratios to Home's median switch (targets: every median
   switch at most 2x, every first visit at most 3x), and the bytes the browser received for each: websocket
   frames (the script's output: figures, images) and HTTP bodies (JavaScript chunks loaded on first use).
7. The first loss point of a just-started server (cold: Train clicked as soon as the page is up) against the
   warm server's median (target: cold at most 5x warm).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from urllib.parse import urlencode

import psutil

from pages.ui.one_step_panel import TAB_LABEL
from tests.browser.lab_server import REPO, StreamlitPage, lab_in_chromium

TIMEOUT_MS = 180_000
SHORT = {"epochs": 1, "train_subset": 5000}  # Quick's network and optimizer, about half a second of training
LONG = {"epochs": 30}  # trains for a minute or more: it is stopped when measured
# Sidebar title -> the page's h1; Home last, so each round ends where the next begins.
PAGES = {"Autograd": "Autograd", "Hyperparameters": "Hyperparameters", "Train": "Train", "Mistakes": "Mistakes",
         "Class": "Class", "Home": "MNIST Lab"}
SWITCH_TARGET, FIRST_VISIT_TARGET, COLD_TARGET = 2.0, 3.0, 5.0  # ratios the issue asks for


class Tab(StreamlitPage):
    """A tab of its own (own cookies, so its own Streamlit session) on the app; counts the bytes it receives."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.set_default_timeout(TIMEOUT_MS)
        super().__init__(self.context.new_page(), url)
        self.ws_bytes = self.http_bytes = 0
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._frame))
        self.page.on("requestfinished", self._response)

    def _frame(self, payload) -> None:
        self.ws_bytes += len(payload)

    def _response(self, request) -> None:
        with contextlib.suppress(Exception):  # a request the page dropped: nothing was received
            self.http_bytes += max(0, request.sizes()["responseBodySize"])

    def switch(self, title: str) -> tuple[float, int, int]:
        """A sidebar click to a page: (seconds to its heading and the script idle, websocket bytes, HTTP bytes)."""
        ws, http = self.ws_bytes, self.http_bytes
        seconds = self.go_to(title, heading=PAGES[title])
        time.sleep(0.3)  # frames still in flight after the script went idle
        self.assert_no_exception()
        return seconds, self.ws_bytes - ws, self.http_bytes - http

    def click_train(self) -> float:
        """Click Train; the seconds until the first loss point is drawn."""
        began = time.perf_counter()
        self.page.locator(".st-key-train_start button").first.click()
        self.page.wait_for_function(
            """() => {
                const plot = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
                return !!(plot && plot.data && plot.data.length && (plot.data[0].x || []).length > 0);
            }""")
        return time.perf_counter() - began

    def ended(self, text: str) -> str:
        alert = self.page.locator('[data-testid="stAlertContainer"]', has_text=text).first
        alert.wait_for()
        return alert.inner_text()

    def stop(self) -> None:
        self.page.locator(".st-key-job_stop button").first.click()
        self.ended("Stopped at epoch")


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def quick_preset(tab: Tab) -> dict:
    tab.open("train")  # no settings in the URL: the Quick preset
    tab.click_train()
    message = tab.ended("Finished: test accuracy")
    accuracy, seconds = re.search(r"accuracy ([\d.]+) % after \d+ epochs? \(([\d.]+) s of training", message).groups()
    return {"quick_test_accuracy": float(accuracy), "quick_train_seconds": float(seconds)}


def click_to_first_point(tab: Tab, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        tab.open("train?" + urlencode(SHORT))
        times.append(tab.click_train())
        tab.ended("Finished")
        tab.assert_no_exception()
    return times


def new_tab_open(browser, url: str) -> float:
    """A new tab opening /autograd: to its heading and the script idle."""
    other = Tab(browser, url)
    began = time.perf_counter()
    other.page.goto(f"{url}/autograd")
    other.page.locator("h1", has_text="Autograd").wait_for()
    other.wait_until_idle()
    seconds = time.perf_counter() - began
    other.assert_no_exception()
    other.context.close()
    return seconds


def page_open_while_training(browser, url: str, repeats: int) -> tuple[list[float], list[float]]:
    trainer = Tab(browser, url)
    trainer.open("train?" + urlencode(LONG))
    trainer.click_train()
    sidebar, new_tab = [], []
    for _ in range(repeats):
        # The training tab: to Hyperparameters by the sidebar and back to Train (the run still training).
        began = time.perf_counter()
        trainer.page.locator('[data-testid="stSidebarNav"] a', has_text="Hyperparameters").first.click()
        trainer.page.locator("h1", has_text="Hyperparameters").wait_for()
        trainer.wait_until_idle()
        sidebar.append(time.perf_counter() - began)
        trainer.assert_no_exception()
        trainer.page.locator('[data-testid="stSidebarNav"] a', has_text="Train").first.click()
        trainer.page.locator(".st-key-job_stop button").first.wait_for()
        new_tab.append(new_tab_open(browser, url))  # another student's tab
    trainer.stop()
    trainer.context.close()
    return sidebar, new_tab


def memory_over_runs(tab: Tab, pid: int, runs: int) -> dict:
    tab.open("train?" + urlencode(SHORT))
    tab.click_train()
    tab.ended("Finished")
    before = rss_mb(pid)
    for _ in range(runs):
        tab.open("train?" + urlencode(SHORT))
        tab.click_train()
        tab.ended("Finished")
    time.sleep(1)
    after = rss_mb(pid)
    return {"rss_before_mb": round(before, 1), "rss_after_mb": round(after, 1),
            "rss_growth_mb": round(after - before, 1), "runs": runs}


def one_step_first_draw(browser, url: str, repeats: int) -> tuple[list[float], list[float]]:
    """Per fresh session: Home's page switch, then the One training step tab's first draw on Autograd."""
    home, first_draw = [], []
    for _ in range(repeats):
        tab = Tab(browser, url)  # a new session: the tab has never been drawn in it
        tab.open("autograd")
        home.append(tab.go_to("Home", heading="MNIST Lab"))
        tab.go_to("Autograd")
        began = time.perf_counter()
        tab.page.get_by_role("tab", name=TAB_LABEL).click()
        tab.page.locator('[data-testid="stImage"] img').nth(8).wait_for()
        tab.page.locator('[data-testid="stPlotlyChart"]', has_text="after the step").wait_for()
        tab.wait_until_idle()
        first_draw.append(time.perf_counter() - began)
        tab.assert_no_exception()
        tab.context.close()
    return home, first_draw


def save_a_run(runs_dir) -> None:
    """A short run trained by the CLI into the server's runs folder, so Mistakes has something to show."""
    command = [sys.executable, "-m", "core.train", "--epochs", "1", "--train-subset", "5000", "--runs-dir",
               str(runs_dir), "--json", "--no-progress"]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=600)


def page_switches(browser, url: str, rounds: int) -> dict:
    """In one session: every page's first visit, then `rounds` rounds of sidebar switches; per page the times
    and the bytes received, and the ratios to Home's median switch."""
    tab = Tab(browser, url)
    tab.open("")
    first, switches, ws_first, http_first, ws_switch = {}, {t: [] for t in PAGES}, {}, {}, {t: [] for t in PAGES}
    for title in PAGES:
        first[title], ws_first[title], http_first[title] = tab.switch(title)
    for _ in range(rounds):
        for title in PAGES:
            seconds, ws, _ = tab.switch(title)
            switches[title].append(seconds)
            ws_switch[title].append(ws)
    tab.context.close()
    home = statistics.median(switches["Home"])
    return {title: {"first_visit_s": round(first[title], 3), "first_visit_over_home": round(first[title] / home, 2),
                    "median_switch_s": round(statistics.median(switches[title]), 3),
                    "switch_over_home": round(statistics.median(switches[title]) / home, 2),
                    "first_visit_ws_kb": round(ws_first[title] / 1024, 1),
                    "first_visit_http_kb": round(http_first[title] / 1024, 1),
                    "switch_ws_kb": round(statistics.median(ws_switch[title]) / 1024, 1)}
            for title in PAGES}


def print_page_switches(pages: dict) -> None:
    print(f"{'page':<16}{'first visit':>13}{'x Home':>8}{'median switch':>15}{'x Home':>8}"
          f"{'first: ws KB':>14}{'http KB':>9}{'switch: ws KB':>15}", flush=True)
    for title, m in pages.items():
        print(f"{title:<16}{m['first_visit_s']:>11.2f} s{m['first_visit_over_home']:>8.2f}"
              f"{m['median_switch_s']:>13.2f} s{m['switch_over_home']:>8.2f}{m['first_visit_ws_kb']:>14.1f}"
              f"{m['first_visit_http_kb']:>9.1f}{m['switch_ws_kb']:>15.1f}", flush=True)
    worst_switch = max(m["switch_over_home"] for m in pages.values())
    worst_first = max(m["first_visit_over_home"] for m in pages.values())
    print(f"worst median switch: {worst_switch:.2f} x Home's (target: at most {SWITCH_TARGET:g}); "
          f"worst first visit: {worst_first:.2f} x Home's median switch (target: at most {FIRST_VISIT_TARGET:g})",
          flush=True)


def summary(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} s, worst {max(times):.2f} s ({len(times)} tries)"


PATHS = {"launch": "python -m launch", "streamlit": "streamlit run"}


def measure(path: str, parts: set[str], args) -> dict:
    """The parts asked for, on a fresh server started by `path` ("launch" or "streamlit"), printed as they come."""
    results: dict = {"load_average_at_start": os.getloadavg()[0]}

    def say(text: str) -> None:
        print(f"[{PATHS[path]}] {text}", flush=True)

    with lab_in_chromium(entry=path) as (server, url, browser, runs_dir):
        tab = Tab(browser, url)
        if "cold" in parts:  # a just-started server: Train clicked as soon as the page is up
            tab.open("train?" + urlencode(SHORT))
            results["cold_first_point_s"] = round(tab.click_train(), 3)
            tab.ended("Finished")
        tab.open("train")
        time.sleep(8)  # the server's warm-up: MNIST loaded, Accelerate imported, the machine timed
        if "cold" in parts:
            warm = statistics.median(click_to_first_point(tab, args.repeats))
            cold = results["cold_first_point_s"]
            results.update(warm_first_point_s=round(warm, 3), cold_over_warm=round(cold / warm, 2))
            say(f"first loss point: cold server {cold:.2f} s, warm median {warm:.2f} s: {cold / warm:.1f} x "
                f"(target: at most {COLD_TARGET:g})")
        if "switches" in parts:
            save_a_run(runs_dir)
            results["pages"] = page_switches(browser, url, args.repeats)
            say("every page in one session:")
            print_page_switches(results["pages"])
        if "quick" in parts:
            results.update(quick_preset(tab))
            say(f"Quick preset: {results['quick_test_accuracy']:.2f} % test accuracy after "
                f"{results['quick_train_seconds']:.1f} s of training")
        if "first" in parts:
            first = click_to_first_point(tab, args.repeats)
            results["click_to_first_point_s"] = [round(t, 3) for t in first]
            say(f"click Train -> first loss point: {summary(first)}")
        if "pages" in parts:
            idle = [new_tab_open(browser, url) for _ in range(args.repeats)]
            results["page_open_idle_new_tab_s"] = [round(t, 3) for t in idle]
            say(f"no run training, a new tab opens /autograd: {summary(idle)}")
            sidebar, new_tab = page_open_while_training(browser, url, args.repeats)
            results["page_open_while_training_sidebar_s"] = [round(t, 3) for t in sidebar]
            results["page_open_while_training_new_tab_s"] = [round(t, 3) for t in new_tab]
            say(f"while training, sidebar to Hyperparameters: {summary(sidebar)}")
            say(f"while training, a new tab opens /autograd: {summary(new_tab)}")
        if "memory" in parts:
            results.update(memory_over_runs(tab, server.pid, args.runs))
            say(f"server memory over {args.runs} runs: {results['rss_before_mb']:.0f} MB -> "
                f"{results['rss_after_mb']:.0f} MB ({results['rss_growth_mb']:+.0f} MB)")
        if "onestep" in parts:
            home, first_draw = one_step_first_draw(browser, url, args.repeats)
            ratio = statistics.median(first_draw) / statistics.median(home)
            results.update(home_page_switch_s=[round(t, 3) for t in home],
                           one_step_first_draw_s=[round(t, 3) for t in first_draw],
                           one_step_over_home=round(ratio, 2))
            say(f"sidebar click to Home: {summary(home)}")
            say(f"One training step tab, first draw: {summary(first_draw)}")
            say(f"ratio of the medians, tab / Home: {ratio:.2f} (target: at most 2)")
    results["load_average_at_end"] = os.getloadavg()[0]
    return results


def side_by_side(results: dict[str, dict]) -> list[tuple[str, list[str]]]:
    """The rows of the comparison: a label and one cell per path (– where that path did not measure it)."""
    paths = list(results)

    def row(label: str, cell) -> tuple[str, list[str]]:
        cells = []
        for path in paths:
            try:
                cells.append(cell(results[path]))
            except (KeyError, TypeError, ValueError):
                cells.append("–")
        return label, cells

    rows = [
        row("first loss point, cold server", lambda r: f"{r['cold_first_point_s']:.2f} s"),
        row("first loss point, warm (median)", lambda r: f"{r['warm_first_point_s']:.2f} s"),
        row(f"cold / warm (at most {COLD_TARGET:g})", lambda r: f"{r['cold_over_warm']:.2f}"),
        row("Home's median switch", lambda r: f"{r['pages']['Home']['median_switch_s']:.2f} s"),
    ]
    titles = next((list(r["pages"]) for r in results.values() if "pages" in r), [])
    rows += [row(f"{title}: first visit / switch, x Home",
                 lambda r, t=title: f"{r['pages'][t]['first_visit_over_home']:.2f} / "
                                    f"{r['pages'][t]['switch_over_home']:.2f}") for title in titles]
    rows += [
        row(f"worst first visit, x Home (at most {FIRST_VISIT_TARGET:g})",
            lambda r: f"{max(m['first_visit_over_home'] for m in r['pages'].values()):.2f}"),
        row(f"worst switch, x Home (at most {SWITCH_TARGET:g})",
            lambda r: f"{max(m['switch_over_home'] for m in r['pages'].values()):.2f}"),
        row("click Train -> first loss point (median)",
            lambda r: f"{statistics.median(r['click_to_first_point_s']):.2f} s"),
        row("while training, sidebar to Hyperparameters (median)",
            lambda r: f"{statistics.median(r['page_open_while_training_sidebar_s']):.2f} s"),
        row("server memory growth", lambda r: f"{r['rss_growth_mb']:+.0f} MB over {r['runs']} runs"),
        row("One training step tab / Home (at most 2)", lambda r: f"{r['one_step_over_home']:.2f}"),
        row("load average, start / end",
            lambda r: f"{r['load_average_at_start']:.1f} / {r['load_average_at_end']:.1f}"),
    ]
    return [(label, cells) for label, cells in rows if any(cell != "–" for cell in cells)]


def print_side_by_side(results: dict[str, dict]) -> None:
    rows = side_by_side(results)
    width = max(len(label) for label, _ in rows) + 2
    print(f"{'':<{width}}" + "".join(f"{PATHS[path]:>20}" for path in results), flush=True)
    for label, cells in rows:
        print(f"{label:<{width}}" + "".join(f"{cell:>20}" for cell in cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="tries of each timing (default 5)")
    parser.add_argument("--runs", type=int, default=10, help="runs for the memory measurement (default 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    parser.add_argument("--only", default="cold,quick,first,pages,memory,onestep,switches",
                        help="comma-separated parts to measure: cold, quick, first, pages, memory, onestep, "
                             "switches (default all)")
    parser.add_argument("--paths", default=",".join(PATHS),
                        help="comma-separated ways to start the server: launch (python -m launch), streamlit "
                             "(streamlit run streamlit_app.py); default both, in this order")
    args = parser.parse_args()
    parts, paths = set(args.only.split(",")), args.paths.split(",")
    unknown = set(paths) - set(PATHS)
    if unknown:
        parser.error(f"--paths: unknown {', '.join(sorted(unknown))} (known: {', '.join(PATHS)})")

    results = {path: measure(path, parts, args) for path in paths}
    print_side_by_side(results)
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), **results}))


if __name__ == "__main__":
    main()
