"""A run watched by classmates: does it train as fast as alone, and can a watcher control it?

    python -m benchmarks.watchers                    # about 3 minutes on the 2-core lab machine
    python -m benchmarks.watchers --browser-nice 0   # Chromium competing with the server for its cores
    python -m benchmarks.watchers --json             # one JSON line at the end as well

1. A fresh server's first visit: seconds from the page request to Home's title and text on screen.
2. The Quick preset (12 epochs, so that the watchers join within its first quarter) trained from the
   Train page alone, then watched by --watchers other browsers through the owner's link (the address
   bar as shared), alternated --rounds times: the ratio of the medians of the training time the run
   saved (the target is at most 1.1: the run trains in a worker process, the tabs poll the web server), and
   the web server's own CPU per watching tab (its workers not counted), hence how many polling tabs one
   web process can serve with one core.
3. Whether any watcher was offered Pause or Stop (the target is none).
4. While a run trains and the watchers poll, each page of the lab opened in a new tab, to its heading.

Chromium runs at the lowest CPU priority by default (--browser-nice): in a class the browsers are the
students' own computers, not the server's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import psutil

from benchmarks.dashboard import Tab
from core.engine.run_store import RunStore
from tests.browser.lab_server import LabInChromium, lab_in_chromium

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


def train_seconds(runs: Path) -> float:
    """The training time of the newest run, as its recorder saved it (evaluation not counted)."""
    return RunStore(runs).list()[0].record["train_seconds"]


def start_watched(browser, url: str, path: str, watchers: int) -> tuple[Tab, list[Tab], int]:
    """Train from a fresh browser at `path`, then open the owner's link in `watchers` other browsers.

    Returns the owner's tab, the watchers' tabs and how many of them offered a control.
    """
    owner = Tab(browser, url)
    owner.open(path)
    owner.click_train()
    tabs, offered = [], 0
    for _ in range(watchers):
        tab = Tab(browser, url)
        tab.page.goto(owner.page.url)  # the link as it stands in the owner's address bar
        tab.page.get_by_text("only that browser can pause or stop it").wait_for()
        offered += any(tab.page.locator(f".st-key-{key} button").count() for key in CONTROLS)
        tabs.append(tab)
    return owner, tabs, offered


def server_cpu_seconds(lab: LabInChromium) -> float:
    times = psutil.Process(lab.server.pid).cpu_times()
    return times.user + times.system


def one_run(lab: LabInChromium, watchers: int) -> tuple[float, int, float]:
    """Train the Quick preset, watched by `watchers` other browsers.

    Returns the training seconds, how many watchers were offered a control, and the server's CPU use
    meanwhile (cores busy on average).
    """
    cpu, began = server_cpu_seconds(lab), time.perf_counter()
    owner, tabs, offered = start_watched(lab.browser, lab.url, QUICK_LONGER, watchers)
    owner.ended("Finished: test accuracy")
    cores = (server_cpu_seconds(lab) - cpu) / (time.perf_counter() - began)
    seconds = train_seconds(lab.runs)
    for tab in tabs:
        tab.ended("Finished: test accuracy")  # the watchers saw it end
        tab.assert_no_exception()
    for tab in (*tabs, owner):
        tab.context.close()
    return seconds, offered, cores


def pages_while_watched(browser, url: str, watchers: int) -> dict[str, float]:
    """Each page opened in a new tab while a run trains and `watchers` tabs poll it; seconds to its heading."""
    owner, tabs, _ = start_watched(browser, url, LONG, watchers)
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
    parser.add_argument("--browser-nice", type=int, default=19,
                        help="Chromium's nice value, 0-19 (default 19: in a class the students' browsers run on "
                        "their own computers, so here they get only the cores the server leaves; 0 lets four "
                        "tabs drawing charts compete with the server for this machine's cores)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    args = parser.parse_args()

    results: dict = {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]}
    with lab_in_chromium(args.browser_nice) as lab:
        url, browser = lab.url, lab.browser
        results["first_visit_home_text_s"] = round(first_visit(browser, url), 2)
        print(f"fresh server, first visit: Home's title and text after "
              f"{results['first_visit_home_text_s']:.2f} s", flush=True)
        alone, watched = [one_run(lab, 0) for _ in range(args.rounds)], []
        for _ in range(args.rounds):
            alone.append(one_run(lab, 0))
            watched.append(one_run(lab, args.watchers))
        alone = alone[args.rounds:]  # the first runs only warm the server up
        ratio = statistics.median(w[0] for w in watched) / statistics.median(a[0] for a in alone)
        per_tab = (statistics.median(w[2] for w in watched) - statistics.median(a[2] for a in alone)) / args.watchers
        offered = sum(w[1] for w in watched)
        results.update(alone_s=[round(a[0], 2) for a in alone], watched_s=[round(w[0], 2) for w in watched],
                       watched_over_alone=round(ratio, 2), watchers_offered_controls=offered,
                       server_cores_per_watching_tab=round(per_tab, 3))
        print(f"Quick preset alone: {results['alone_s']} s of training; watched by {args.watchers} tabs: "
              f"{results['watched_s']} s", flush=True)
        print(f"watched / alone (medians): {ratio:.2f} (target at most 1.1)", flush=True)
        print(f"the web server's own CPU per watching tab: {per_tab:.1%} of a core"
              + (f" (one core would serve about {1 / per_tab:.0f} such tabs)" if per_tab > 0 else ""), flush=True)
        print(f"watcher tabs offered Pause or Stop: {offered} of {args.watchers * args.rounds}", flush=True)
        pages = pages_while_watched(browser, url, args.watchers)
        results["new_tab_while_watched_s"] = {k: round(v, 2) for k, v in pages.items()}
        print("while a run trains and is watched, a new tab opens: "
              + ", ".join(f"{k} {v:.2f} s" for k, v in pages.items()), flush=True)
    results["load_average_at_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
