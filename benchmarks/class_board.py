"""How fast the Class page's leaderboard updates with 300 finished runs on the board (target: one poll's update,
parallel coordinates and ranking included, at most 200 ms).

Writes 300 finished runs (fake records: 60 students, varied settings, a sixth of them breaking the lecture's
challenge) into a temporary runs folder, then times:
  core: first read      BoardReader.entries() on a new reader: every run.json and epochs.json read
  core: update          what each poll of each open Class page does: entries() (nothing changed), the
                        board built against the challenge, and its table rows
  core: update +1 run   the same right after one more run finished (only that run is read)
  core: poll + findings what each poll does now: the board's update, then the parallel-coordinates chart and
                        the settings' ranking (cached by the set of runs: nothing new, nothing computed)
  core: findings +1 run the same right after one more run finished: the forest fitted and the chart built again
  page: open            AppTest: switch to the Class page (a new session's first script run)
  page: update          AppTest: the page's script run again, as its polling fragment does (plus the
                        whole page around it, so an upper bound of one poll)
  browser: open         (with --browser) a fresh Chromium tab on /class until the board's table is drawn

Run: python -m benchmarks.class_board [--runs 300] [--repeats 10] [--browser]. Prints median, min and max.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.engine.presets import LECTURE, QUICK  # noqa: E402
from core.engine.run_store import RunStore  # noqa: E402
from core.lab.classroom import ClassRoom  # noqa: E402
from core.lessons.challenge import Challenge  # noqa: E402
from core.views.board import BoardReader, board_rows, build_board  # noqa: E402
from core.views.class_findings import FindingsCache  # noqa: E402
from tests.fake_runs import save_finished_run  # noqa: E402

LECTURE_CHALLENGE = Challenge(fixed=(("hidden", [128, 64]), ("optimizer", "sgd")), max_epochs=3)


def fill_runs(runs_dir: Path, count: int, seed: int = 0) -> None:
    """`count` finished runs by 60 students; every sixth uses Adam (against the challenge's rules)."""
    rng = random.Random(seed)
    store = RunStore(runs_dir)
    for i in range(count):
        config = replace(LECTURE, lr=rng.choice([0.01, 0.03, 0.1, 0.3]), batch_size=rng.choice([32, 64, 128]),
                         epochs=rng.randint(1, 3), seed=i)
        if i % 6 == 5:
            config = replace(QUICK, epochs=2)
        save_finished_run(store, config, f"Student {i % 60:02d}", round(rng.uniform(85, 98.5), 2),
                          owner=f"browser-{i % 60}", ended=time.time() - (count - i))
    ClassRoom(runs_dir).set_challenge(LECTURE_CHALLENGE)


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def core_times(runs_dir: Path, repeats: int) -> dict[str, list[float]]:
    store, room = RunStore(runs_dir), ClassRoom(runs_dir)

    def update(reader: BoardReader) -> None:
        state = room.state()
        board = build_board(reader.entries(), state.challenge, state.board_since)
        board_rows(board, "someone")

    def poll(reader: BoardReader, findings: FindingsCache) -> None:
        state = room.state()
        board = build_board(reader.entries(), state.challenge, state.board_since)
        board_rows(board, "someone")
        findings.findings([*board.ranked, *(entry for entry, _ in board.apart)])

    times: dict[str, list[float]] = {"core: first read": [], "core: update": [], "core: update +1 run": [],
                                     "core: poll + findings": [], "core: findings +1 run": []}
    findings = FindingsCache()
    poll(BoardReader(store), findings)  # imports scikit-learn once, as the server's first Class page does
    for _ in range(repeats):
        reader = BoardReader(store)
        times["core: first read"].append(timed(reader.entries))
        times["core: update"].append(timed(lambda reader=reader: update(reader)))
        save_finished_run(store, LECTURE, "Latecomer", 91.0)
        times["core: update +1 run"].append(timed(lambda reader=reader: update(reader)))
        times["core: findings +1 run"].append(timed(lambda reader=reader: poll(reader, findings)))
        times["core: poll + findings"].append(timed(lambda reader=reader: poll(reader, findings)))
    return times


def page_times(runs_dir: Path, repeats: int) -> dict[str, list[float]]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["MNIST_LAB_RUNS"] = str(runs_dir)
    st.cache_resource.clear()
    times: dict[str, list[float]] = {"page: open": [], "page: update": []}
    for k in range(repeats + 1):
        at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60).run()
        if k == 0:
            from pages.ui.services import lab

            lab().shutdown()  # waits for the server's warm-up (MNIST, speed test): not part of a poll
        opened = timed(lambda at=at: at.switch_page("pages/class.py").run())
        assert not at.exception and len(at.dataframe[0].value) > 0, at.exception
        updated = timed(at.run)
        if k:  # the first round imports the page's modules and reads every run into the shared reader
            times["page: open"].append(opened)
            times["page: update"].append(updated)
    return times


def browser_times(runs_dir: Path, repeats: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    from tests.browser.lab_server import CHROMIUM_ARGS, StreamlitPage, find_chromium, start_lab_server, stop_lab_server

    server, url = start_lab_server(runs_dir)
    times: dict[str, list[float]] = {"browser: open": []}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            for k in range(repeats + 1):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                app = StreamlitPage(context.new_page(), url)
                start = time.perf_counter()
                app.page.goto(f"{url}/class")
                app.page.locator('[data-testid="stDataFrame"] td[aria-colindex="2"]').first.wait_for(
                    state="attached", timeout=60_000)
                if k:  # the first visit of the server loads its modules
                    times["browser: open"].append(time.perf_counter() - start)
                context.close()
            browser.close()
    finally:
        stop_lab_server(server)
    return times


def report(times: dict[str, list[float]]) -> None:
    print(f"{'action':<24}{'median ms':>10}{'min ms':>9}{'max ms':>9}  n")
    for name, values in times.items():
        ms = [1000 * v for v in values]
        print(f"{name:<24}{statistics.median(ms):>10.1f}{min(ms):>9.1f}{max(ms):>9.1f}  {len(ms)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--browser", action="store_true", help="also time a fresh Chromium tab opening /class")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (1 min) at the start")
    with tempfile.TemporaryDirectory() as folder:
        runs_dir = Path(folder) / "runs"
        fill_runs(runs_dir, args.runs)
        board = build_board(BoardReader(RunStore(runs_dir)).entries(), LECTURE_CHALLENGE)
        print(f"{args.runs} finished runs: {len(board.ranked)} on the board, {len(board.apart)} broke a rule")
        times = core_times(runs_dir, args.repeats) | page_times(runs_dir, args.repeats)
        if args.browser:
            times |= browser_times(runs_dir, min(args.repeats, 5))
        report(times)


if __name__ == "__main__":
    main()
