"""A run watched by classmates: does it train as fast as alone, and can a watcher control it?

    python -m benchmarks.watchers            # about 2-3 minutes on the 2-core lab machine
    python -m benchmarks.watchers --json     # one JSON line at the end as well

1. A fresh server's first visit: seconds from the page request to Home's title and text on screen.
2. The Quick preset (12 epochs, so that the watchers join within its first quarter) trained from the
   Train page alone, then watched by --watchers other browsers through
   the owner's link (the address bar as shared), alternated --rounds times; the ratio of the medians of
   the training time the run reports (the target is at most 1.5).
3. Whether any watcher was offered Pause or Stop (the target is none).
4. While a run trains and the watchers poll, each page of the lab opened in a new tab, to its heading.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.dashboard import Tab
from tests.browser.lab_server import CHROMIUM_ARGS, find_chromium, start_lab_server, stop_lab_server

PAGES = {"": "MNIST Lab", "autograd": "Autograd", "hyperparameters": "Hyperparameters", "train": "Train",
         "mistakes": "Mistakes"}
CONTROLS = ("job_pause", "job_resume", "job_stop", "job_cancel")
QUICK_LONGER = "train?epochs=12"  # the Quick preset for three times its epochs: the watchers join early on
LONG = "train?epochs=30"  # trains for a minute or more: stopped once the pages are timed


def first_visit(browser, url: str) -> float:
    """Seconds from asking for Home on a server nobody has visited to its title and text shown."""
    tab = Tab(browser, url)
    began = time.perf_counter()
    tab.page.goto(url)
    tab.page.get_by_text("An interactive companion to the lecture").wait_for()
    seconds = time.perf_counter() - began
    tab.wait_until_idle()
    tab.assert_no_exception()
    tab.context.close()
    return seconds


def train_seconds(message: str) -> float:
    """The training time a "Finished: ..." message reports."""
    return float(re.search(r"\(([\d.]+) s of training\)", message).group(1))


def watch(browser, url: str, link: str, count: int) -> tuple[list[Tab], int]:
    """Open the owner's link in `count` other browsers; returns the tabs and how many offered a control."""
    tabs, offered = [], 0
    for _ in range(count):
        tab = Tab(browser, url)
        tab.page.goto(link)
        tab.page.get_by_text("only that browser can pause or stop it").wait_for()
        offered += any(tab.page.locator(f".st-key-{key} button").count() for key in CONTROLS)
        tabs.append(tab)
    return tabs, offered


def one_run(browser, url: str, watchers: int) -> tuple[float, int]:
    """Train the Quick preset from a fresh browser, watched by `watchers` others; (training seconds, controls)."""
    owner = Tab(browser, url)
    owner.open(QUICK_LONGER)
    owner.click_train()
    tabs, offered = watch(browser, url, owner.page.url, watchers)
    seconds = train_seconds(owner.ended("Finished: test accuracy"))
    for tab in tabs:
        tab.ended("Finished: test accuracy")  # the watchers saw it end
        tab.assert_no_exception()
        tab.context.close()
    owner.context.close()
    return seconds, offered


def pages_while_watched(browser, url: str, watchers: int) -> dict[str, float]:
    """Each page opened in a new tab while a run trains and `watchers` tabs poll it; seconds to its heading."""
    owner = Tab(browser, url)
    owner.open(LONG)
    owner.click_train()
    tabs, _ = watch(browser, url, owner.page.url, watchers)
    times = {}
    for path, heading in PAGES.items():
        tab = Tab(browser, url)
        began = time.perf_counter()
        tab.page.goto(f"{url}/{path}")
        tab.page.locator("h1", has_text=heading).first.wait_for()
        times[path or "home"] = time.perf_counter() - began
        tab.assert_no_exception()
        tab.context.close()
    owner.stop()
    for tab in (*tabs, owner):
        tab.context.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watchers", type=int, default=3, help="browsers watching the run (default 3)")
    parser.add_argument("--rounds", type=int, default=2, help="alone/watched pairs, alternated (default 2)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    results: dict = {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as runs:
        server, url = start_lab_server(Path(runs))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
                results["first_visit_home_text_s"] = round(first_visit(browser, url), 2)
                print(f"fresh server, first visit: Home's title and text after "
                      f"{results['first_visit_home_text_s']:.2f} s", flush=True)
                time.sleep(8)  # the server's warm-up: MNIST loaded, Accelerate imported, the machine timed
                alone, watched, offered = [], [], 0
                for _ in range(args.rounds):
                    alone.append(one_run(browser, url, 0)[0])
                    seconds, controls = one_run(browser, url, args.watchers)
                    watched.append(seconds)
                    offered += controls
                ratio = statistics.median(watched) / statistics.median(alone)
                results.update(alone_s=alone, watched_s=watched, watched_over_alone=round(ratio, 2),
                               watchers_offered_controls=offered)
                print(f"Quick preset alone: {alone} s of training; watched by {args.watchers} tabs: {watched} s",
                      flush=True)
                print(f"watched / alone (medians): {ratio:.2f} (target at most 1.5)", flush=True)
                print(f"watcher tabs offered Pause or Stop: {offered} of {args.watchers * args.rounds}", flush=True)
                pages = pages_while_watched(browser, url, args.watchers)
                results["new_tab_while_watched_s"] = {k: round(v, 2) for k, v in pages.items()}
                print("while a run trains and is watched, a new tab opens: "
                      + ", ".join(f"{k} {v:.2f} s" for k, v in pages.items()), flush=True)
                browser.close()
        finally:
            stop_lab_server(server)
    results["load_average_at_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
