"""A class clicks Train at once: how fast does each executor drain it, and do the pages stay quick?

    python -m benchmarks.classroom                           # threads (the baseline), local, ray: ~10 minutes
    python -m benchmarks.classroom --executors local,ray     # only these
    python -m benchmarks.classroom --students 10 --json      # a smaller class; one JSON line at the end too
    python -m benchmarks.classroom --executors local --hostile   # the class with and without one hostile student
    python -m benchmarks.classroom --executors local --hostile --arrivals-minutes 10   # a long class
    python -m benchmarks.classroom --web-processes 1,2 --tabs 8  # polling tabs on 1, then 2 web processes, one Ray

For each executor, a fresh lab server (this script, in a child process, loopback only) with its own runs
folder. Once its workers are warm, --browsers students click Train on the Train page in real Chromium tabs
(the Quick preset), and at the same moment the other students each submit one Quick run through the server's
job manager. Printed for each executor: the time until every run has finished, the wait before runs start
(p50 and p95), the first loss point in the browsers, and, while the class trains, a sidebar page switch and a
fresh tab opening /autograd. Also the server's own CPU seconds (its workers' not counted).

The baseline is how the lab trained before it had executors: threads in the web server, one per core. The
local pool has as many workers as the machine has cores too (MNIST_LAB_MAX_CONCURRENT_RUNS); Ray, a local Ray
that uses every core. Workers and actors train at nice 10; Chromium runs at the web server's priority
(--browser-nice 0): in a class the browsers are the students' own computers, so here they should not wait
behind the training. Bounded: at most 300 students and --timeout seconds per executor.

With --hostile, each executor serves the class twice, on fresh servers: the honest students alone, then the
same honest students beside one hostile one, who edits their cookie for a new owner id again and again, as a
browser does it (each time through the server's own issuer of ids, from one address: the edited cookie, then
the reload without the cookie the server deleted), queues as many runs as each id lets them, asks for a
learning-rate finder far over the run budget, and starts a finder after every answer (and eight at once) for
as long as the class trains. Printed: the honest students' wait p50 / p95 in both, and their ratio (target:
within 1.2), and what the hostile student got through: its owner ids in its first minute and in the whole
class (target: no more in the whole class).

With --arrivals-minutes M, the students who do not use a browser arrive one by one, evenly over M minutes, instead
of all at once (a long class: the hostile student plays for all of it); a wait is then counted from each run's
own submission.

With --web-processes, a Ray head (one CPU: one run trains) and that many lab servers on it with one runs folder,
one lab (core.lab.coordinator): one long run, started from the first server, polled by --tabs Chromium tabs
spread over the servers through its link, while a probe tab switches pages in the sidebar again and again on
each server. Printed: each web server's own CPU per polling tab (% of a core, over --measure-seconds of polling
alone) and the p50 / p95 of the probes' page switches (one script run each, seen from the browser) over the
next --measure-seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
MAX_STUDENTS = 300
NAV_PAGES = ("Autograd", "Hyperparameters", "Home")  # switched to in turn; Home's heading is the lab's name
HEADINGS = {"Home": "MNIST Lab"}
# In each student's tab: note when the loss chart first has a point (the page keeps running while the
# benchmark drives other tabs, so the tab times itself).
WATCH_FIRST_POINT = """() => {
    const timer = setInterval(() => {
        const plot = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
        if (plot && plot.data && plot.data.length && (plot.data[0].x || []).length > 0) {
            window.labFirstPointAt = performance.now();
            clearInterval(timer);
        }
    }, 20);
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- the child: one server, one executor ----------------------------------------------------------------------
def serve_and_measure(args) -> None:
    """Run a lab server in this process (Streamlit in the main thread) and the class in another thread."""
    from streamlit.web import bootstrap

    from tests.browser.lab_server import free_port

    port = free_port()
    flags = {"server.headless": True, "global.developmentMode": False, "server.fileWatcherType": "none",
             "server.address": "127.0.0.1", "server.port": port, "browser.gatherUsageStats": False}
    result: dict = {"executor": args.one}

    def measure() -> None:
        try:
            result.update(run_class(f"http://127.0.0.1:{port}", args))
        except Exception as exc:  # the parent prints it; the server must still stop
            result["error"] = f"{type(exc).__name__}: {exc}"
        Path(args.out).write_text(json.dumps(result))
        os._exit(0)  # the server, its workers' sockets and Ray's owner thread end with the process

    threading.Thread(target=measure, daemon=True, name="classroom").start()
    bootstrap.load_config_options(flags)  # as `streamlit run --server.port ...` does before running
    bootstrap.run(str(REPO / "streamlit_app.py"), False, [], flags)


def run_class(url: str, args) -> dict:
    from playwright.sync_api import sync_playwright

    from benchmarks.dashboard import Tab, new_tab_open
    from core.engine.presets import QUICK
    from tests.browser.lab_server import CHROMIUM_ARGS, chromium_kept_niced, find_chromium, healthy

    deadline = time.monotonic() + 120
    while not healthy(url):
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.2)
    with sync_playwright() as playwright, contextlib.ExitStack() as niced:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        if args.browser_nice:
            niced.enter_context(chromium_kept_niced(args.browser_nice))
        visitor = Tab(browser, url)
        visitor.open()  # the first session creates the server's job manager, which starts its workers
        manager = _server_job_manager()
        warm_began = time.monotonic()
        while not manager.ready:
            if time.monotonic() - warm_began > args.timeout:
                raise RuntimeError("the executor's workers did not get ready")
            time.sleep(0.2)
        warm_seconds = time.monotonic() - warm_began
        capacity = manager.capacity
        tabs = [Tab(browser, url) for _ in range(args.browsers)]
        for tab in tabs:
            tab.open("train")  # the Quick preset
        server = psutil.Process()
        cpu_before = _own_cpu(server)

        # The class clicks Train at the same moment: the browsers first, then everyone else.
        for tab in tabs:
            tab.page.evaluate(WATCH_FIRST_POINT)
        began = time.perf_counter()
        for tab in tabs:
            tab.page.evaluate("() => { window.labClickedAt = performance.now(); }")
            tab.page.locator(".st-key-train_start button").first.click(no_wait_after=True)
        others = [f"student-{i:03d}" for i in range(args.students - args.browsers)]
        watch = RunWatch(manager, began, args.timeout, expected=args.students)
        arriving = Arrivals(manager, QUICK, others, args.arrivals_minutes * 60, watch)
        hostile = HostileStudent(manager, _server_owner_ids(), watch) if args.hostile_here else None
        browser_runs = [manager.get(_job_id(tab)) for tab in tabs]
        if None in browser_runs:  # a tab's run was refused or is gone: the class cannot be measured as set up
            raise SystemExit(f"{browser_runs.count(None)} browser run(s) not in the lab: see the tabs' messages")
        watch.add(browser_runs, submitted=0.0)

        # While the class trains: a sidebar page switch, and a fresh tab opening /autograd.
        switches, fresh = [], []
        while watch.active() and len(switches) < 3 * len(NAV_PAGES):
            for title in NAV_PAGES:
                switches.append(visitor.go_to(title, HEADINGS.get(title, title)))
            fresh.append(new_tab_open(browser, url))
        visitor.assert_no_exception()
        for tab in tabs:
            tab.assert_no_exception()

        arriving.wait()
        waits, ended, statuses = watch.result()
        hostile_report = hostile.finish() if hostile else None
        cpu_server = _own_cpu(server) - cpu_before
        niced.close()
        first_points = [tab.page.evaluate("() => window.labFirstPointAt ? (window.labFirstPointAt - "
                                          "window.labClickedAt) / 1000 : null") for tab in tabs]
        browser.close()
    return {
        "students": args.students, "browsers": args.browsers, "slots": capacity.slots,
        "machines": capacity.machines, "cores": os.cpu_count(), "warm_seconds": warm_seconds,
        "drain_seconds": max(ended) if ended else None, "arrivals_minutes": args.arrivals_minutes,
        "wait_p50": percentile(waits, 0.5), "wait_p95": percentile(waits, 0.95),
        "first_point_seconds": first_points, "page_switch_seconds": switches, "fresh_tab_seconds": fresh,
        "server_cpu_seconds": cpu_server, "finished": statuses.count("finished"), "runs": len(statuses),
        "load_average": os.getloadavg()[0], "hostile": hostile_report,
    }


def _server_job_manager():
    # The lab the pages use: this process is the server, so the cached one is at hand.
    from pages.ui.services import lab

    return lab()


def _server_owner_ids():
    from pages.ui.services import owner_ids

    return owner_ids()


class Arrivals:
    """Submits one Quick run for each of `owners`, evenly over `seconds` (all at once for 0), in a thread; each
    run joins `watch` with its own time of submission."""

    def __init__(self, manager, config, owners: list[str], seconds: float, watch: RunWatch):
        self.manager, self.config, self.owners, self.seconds, self.watch = manager, config, owners, seconds, watch
        self.thread = threading.Thread(target=self._arrive, daemon=True, name="arrivals")
        if seconds:
            self.thread.start()
        else:
            self._arrive()  # before the hostile student starts, as a class that clicks together

    def wait(self) -> None:
        if self.seconds:
            self.thread.join()

    def _arrive(self) -> None:
        gap = self.seconds / max(1, len(self.owners))
        for n, owner in enumerate(self.owners):
            delay = self.watch.began + n * gap - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            job = self.manager.submit(self.config, owner=owner)
            self.watch.add([job], submitted=time.perf_counter() - self.watch.began)


class HostileStudent:
    """One student who tries every unfair trick the lab has been seen to allow, in a thread, while `watch` is active.

    Edited cookies, as a browser goes through them: each try sends a forged or unsigned cookie to the server's
    issuer of owner ids, from one address, then reloads with what the server left in the cookie jar (it deletes an
    edited cookie), and submits Quick runs under every owner it gets back. A finder over the budget; a light
    finder started again the moment the last one answers, and eight at once now and then.
    """

    ADDRESS = "198.51.100.66"  # one client address (a documentation range: nothing is sent to it)
    HEAVY = {"hidden": (1024,) * 16, "batch_size": 8192}
    FIRST_MINUTE_S = 60.0

    def __init__(self, manager, owner_ids, watch: RunWatch):
        self.manager, self.owner_ids, self.watch = manager, owner_ids, watch
        self.counts = {"cookie_tries": 0, "owners_got": 0, "runs_queued": 0, "runs_refused": 0,
                       "heavy_finder_refused": 0, "finders_started": 0, "finders_refused": 0}
        self._owners: set[str] = set()
        self.owners_in_first_minute: int | None = None
        self.first = ""
        self.thread = threading.Thread(target=self._play, daemon=True, name="hostile-student")
        self.thread.start()

    def _visit(self, cookie):
        """One page load with `cookie`: the owner it gets, and what the browser's cookie jar holds after it."""
        identity = self.owner_ids.identify(cookie, self.ADDRESS)
        self._owners.add(identity.owner)
        jar = cookie if identity.cookie is None else (identity.cookie or None)  # "" deletes it
        return identity.owner, jar

    def _play(self) -> None:
        import secrets
        from dataclasses import replace

        from core.engine.presets import LECTURE, QUICK
        from core.lab.jobs import RunRefused

        began = time.perf_counter()
        self.first, jar = self._visit(None)
        try:
            self.manager.start_finder(replace(LECTURE, **self.HEAVY), self.first)
        except RunRefused:
            self.counts["heavy_finder_refused"] += 1
        while self.watch.active():
            for _ in range(5):  # edited cookies: a fresh 32-hex id, or a forged signature; then the reload
                edited = secrets.token_hex(16) if self.counts["cookie_tries"] % 2 else f"{secrets.token_hex(16)}.x"
                self.counts["cookie_tries"] += 1
                edited_owner, jar = self._visit(edited)
                reloaded_owner, jar = self._visit(jar)
                for owner in (edited_owner, reloaded_owner):
                    try:
                        self.watch.add_other([self.manager.submit(QUICK, owner=owner)])
                        self.counts["runs_queued"] += 1
                    except RunRefused:
                        self.counts["runs_refused"] += 1
            for _ in range(8):  # a finder the moment the last one answered, and seven more at once
                try:
                    self.manager.start_finder(LECTURE, self.first)
                    self.counts["finders_started"] += 1
                except RunRefused:
                    self.counts["finders_refused"] += 1
            if self.owners_in_first_minute is None and time.perf_counter() - began >= self.FIRST_MINUTE_S:
                self.owners_in_first_minute = len(self._owners)
            time.sleep(0.5)

    def finish(self) -> dict:
        self.thread.join(30)
        self.manager.stop_finder(self.first)
        owners = len(self._owners)
        return {**self.counts, "owners_got": owners, "owners_in_first_minute": self.owners_in_first_minute or owners,
                "runs_ahead_of_honest": self.watch.others_ahead()}


def _own_cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system  # this process's threads only: workers are processes of their own


def _job_id(tab) -> str:
    from urllib.parse import parse_qs, urlparse

    tab.page.wait_for_url("**job=*")
    return parse_qs(urlparse(tab.page.url).query)["job"][0]


class RunWatch:
    """Polls the class's runs (their snapshots, from `lab`) every 20 ms in a thread: for each run, the seconds from
    its submission to its start, and from the click to its end; active until `expected` runs have ended (or the
    timeout). Other runs (the hostile student's) are watched for their start only."""

    def __init__(self, lab, began: float, timeout: float, expected: int):
        self.lab, self.began, self.deadline, self.expected = lab, began, time.monotonic() + timeout, expected
        self.jobs: list = []
        self.others: list = []
        self.submitted: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.status: dict[str, str] = {}  # each run's status when last polled
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._poll, daemon=True, name="run-watch")
        self.thread.start()

    def add(self, jobs: list, submitted: float) -> None:
        """Watch `jobs`, submitted `submitted` seconds after the click."""
        with self._lock:
            self.jobs += jobs
            for job in jobs:
                self.submitted[job.id] = submitted

    def add_other(self, jobs: list) -> None:
        with self._lock:
            self.others += jobs

    def others_ahead(self) -> int:
        """How many of the other runs started while a class's run waited: the runs that went ahead of the class in
        the queue (a count, whatever the machine's speed; a run that merely holds a slot is not one)."""
        with self._lock:
            waited = [(self.submitted[job.id], self.started[job.id]) for job in self.jobs if job.id in self.started]
            starts = [self.started[job.id] for job in self.others if job.id in self.started]
        # polled every 20 ms: a start in the same poll as the class's run's is not ahead of it
        return sum(any(submitted < start < started - 0.02 for submitted, started in waited) for start in starts)

    def active(self) -> bool:
        with self._lock:
            return len(self.ended) < self.expected and time.monotonic() < self.deadline

    def result(self) -> tuple[list[float], list[float], list[str]]:
        """The waits before each run started, the seconds to each end, and every run's status."""
        self.thread.join()
        with self._lock:
            waits = [self.started[job.id] - self.submitted[job.id] for job in self.jobs if job.id in self.started]
            return waits, list(self.ended.values()), [str(self.status.get(job.id, job.status)) for job in self.jobs]

    def _poll(self) -> None:
        while self.active():
            now = time.perf_counter() - self.began
            with self._lock:
                jobs, others = list(self.jobs), [job for job in self.others if job.id not in self.started]
            for job in jobs + others:
                snap = self.lab.get(job.id)
                if snap is None:  # forgotten by the lab: long ended
                    continue
                status = self.status[job.id] = snap.status
                if status != "queued":
                    self.started.setdefault(job.id, now)
                if status.ended and job.id in self.submitted:  # a class's run
                    with self._lock:
                        self.ended.setdefault(job.id, now)
            time.sleep(0.02)


# --- several web processes, one lab -----------------------------------------------------------------------------
WATCHED = "train?epochs=20&batch_size=8"  # a run that trains through the whole measurement (checked)


def polled_by_tabs(web_processes: int, tabs: int, seconds: float, browser_nice: int) -> dict:
    """Serve one long run from `web_processes` lab servers on one Ray head, polled by `tabs` tabs; the measures."""
    from playwright.sync_api import sync_playwright

    from tests.browser.lab_server import (
        CHROMIUM_ARGS,
        StreamlitPage,
        chromium_kept_niced,
        find_chromium,
        start_lab_server,
        start_ray_head,
        stop_lab_server,
        stop_ray_head,
    )

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        head = start_ray_head(folder / "ray.log", num_cpus=1)
        servers = []
        try:
            for n in range(web_processes):
                servers.append(start_lab_server(folder / "runs", folder / f"web-{n}.log", executor="ray",
                                                extra_env=head.env))
            urls = [url for _, url in servers]
            with sync_playwright() as playwright, chromium_kept_niced(browser_nice):
                browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
                owner = StreamlitPage(browser.new_context().new_page(), urls[0])
                owner.open(WATCHED)
                owner.page.get_by_text("This lab trains 1 run at once").first.wait_for(timeout=300_000)
                owner.page.locator(".st-key-train_start button").first.click()
                owner.page.wait_for_url(lambda address: "job=" in address, timeout=60_000)
                link = owner.page.url.split("/", 3)[3]
                for n in range(tabs - 1):  # the owner's tab polls too
                    tab = StreamlitPage(browser.new_context().new_page(), urls[(n + 1) % web_processes])
                    tab.page.goto(f"{tab.base_url}/{link}")
                    tab.page.get_by_text("only that browser can pause or stop it").first.wait_for(timeout=120_000)
                processes = [psutil.Process(server.pid) for server, _ in servers]
                probes = [StreamlitPage(browser.new_context().new_page(), url) for url in urls]
                for probe in probes:
                    probe.open()
                # First the tabs' polling alone (the servers' CPU), then the probes' page switches (latency).
                cpu, began = [_own_cpu(process) for process in processes], time.perf_counter()
                time.sleep(seconds)
                elapsed = time.perf_counter() - began
                used = [_own_cpu(process) - before for process, before in zip(processes, cpu, strict=True)]
                # The tabs poll only while the run trains: a run that ended in the window makes these numbers low.
                polled_throughout = owner.page.get_by_text("Finished: test accuracy").count() == 0
                switches, began = [], time.perf_counter()
                while time.perf_counter() - began < seconds:
                    for probe in probes:
                        for title in NAV_PAGES:
                            switches.append(probe.go_to(title, HEADINGS.get(title)))
                browser.close()
        finally:
            for server, _ in servers:
                stop_lab_server(server)
            stop_ray_head(head)
    tabs_on = [sum(1 for n in range(tabs) if n % web_processes == k) for k in range(web_processes)]
    return {
        "web_processes": web_processes, "tabs": tabs, "seconds": round(elapsed, 1),
        "cpu_per_tab_pct": [round(100 * u / elapsed / n, 2) for u, n in zip(used, tabs_on, strict=True)],
        "switch_p50_s": round(statistics.median(switches), 3), "switch_p95_s": round(percentile(switches, 0.95), 3),
        "switches": len(switches), "load_average": [round(x, 2) for x in os.getloadavg()],
        "polled_throughout": polled_throughout,
    }


def web_processes_mode(args) -> None:
    """--web-processes: the measures for each count of web processes, printed as they come."""
    results = []
    for count in (int(text) for text in args.web_processes.split(",")):
        print(f"{count} web process(es), {args.tabs} polling tabs…", flush=True)
        result = polled_by_tabs(count, args.tabs, args.measure_seconds, args.browser_nice)
        print(f"  web server CPU per polling tab: {', '.join(f'{x} %' for x in result['cpu_per_tab_pct'])} of a "
              f"core; page switch p50 {result['switch_p50_s']} s, p95 {result['switch_p95_s']} s "
              f"({result['switches']} switches in {result['seconds']} s; load average {result['load_average']}; "
              f"the run trained throughout the polling: {result['polled_throughout']})",
              flush=True)
        results.append(result)
    if args.json:
        print(json.dumps(results))


# --- the parent: one child per executor, then the table ------------------------------------------------------
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30, help="students in the class (default 30)")
    parser.add_argument("--browsers", type=int, default=3, help="of them, how many use real Chromium tabs")
    parser.add_argument("--executors", default="threads,local,ray", help="comma-separated, in this order")
    parser.add_argument("--slots", type=int, default=os.cpu_count(),
                        help="runs at once for threads and local (default: this machine's cores)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per executor")
    parser.add_argument("--browser-nice", type=int, default=0,
                        help="Chromium's nice value (default 0, the web server's own: the students' browsers run on "
                        "their own computers, so they must not wait behind the training; 19 starves them)")
    parser.add_argument("--hostile", action="store_true",
                        help="serve the class twice per executor: the honest students alone, then beside one "
                        "hostile student")
    parser.add_argument("--arrivals-minutes", type=float, default=0,
                        help="the students without a browser arrive evenly over this many minutes (default 0: all "
                        "at once); a long class, e.g. 10")
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end as well")
    parser.add_argument("--web-processes", help="comma-separated counts of lab servers on one Ray head (e.g. 1,2): "
                        "measure polling tabs instead of a class")
    parser.add_argument("--tabs", type=int, default=8, help="with --web-processes: polling Chromium tabs (default 8)")
    parser.add_argument("--measure-seconds", type=float, default=40, help="with --web-processes: the window")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child: one executor
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--hostile-here", action="store_true", help=argparse.SUPPRESS)  # the child: with one
    args = parser.parse_args(argv)
    if not 1 <= args.students <= MAX_STUDENTS or not 0 <= args.browsers <= min(args.students, 10):
        parser.error(f"--students must be 1..{MAX_STUDENTS} and --browsers 0..10 (and at most --students)")
    if args.arrivals_minutes < 0:
        parser.error("--arrivals-minutes must be at least 0")
    args.timeout = max(args.timeout, args.arrivals_minutes * 60 + 300)  # the class lasts the arrivals, then drains
    if args.one:
        return serve_and_measure(args)
    if args.web_processes:
        return web_processes_mode(args)

    results = []
    with_hostile = (False, True) if args.hostile else (False,)
    rounds = [(kind, hostile) for kind in args.executors.split(",") for hostile in with_hostile]
    for kind, hostile in rounds:
        with tempfile.TemporaryDirectory() as runs, tempfile.NamedTemporaryFile(suffix=".json") as out:
            env = {**os.environ, "MNIST_LAB_EXECUTOR": kind, "MNIST_LAB_RUNS": runs,
                   "MNIST_LAB_MAX_CONCURRENT_RUNS": str(args.slots),
                   "MNIST_LAB_DATA": os.environ.get("MNIST_LAB_DATA", str(REPO / "data"))}
            command = [sys.executable, "-m", "benchmarks.classroom", "--one", kind, "--out", out.name,
                       "--students", str(args.students), "--browsers", str(args.browsers),
                       "--timeout", str(args.timeout), "--browser-nice", str(args.browser_nice),
                       "--arrivals-minutes", str(args.arrivals_minutes)]
            command += ["--hostile-here"] if hostile else []
            arriving = f"arrive over {args.arrivals_minutes:g} min" if args.arrivals_minutes else "click Train at once"
            print(f"{kind}: a class of {args.students} honest students{' and one hostile' if hostile else ''} "
                  f"{arriving}…", flush=True)
            try:
                subprocess.run(command, cwd=REPO, env=env, timeout=args.timeout + 300,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                result = json.loads(Path(out.name).read_text() or "{}")
            except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
                result = {"executor": kind, "error": f"{type(exc).__name__}: {exc}"}
        result["with_hostile"] = hostile
        results.append(result)
        print_result(result)
    print_comparison(results)
    if args.json:
        print(json.dumps(results))


def print_result(r: dict) -> None:
    if "error" in r:
        print(f"  {r['executor']}: failed: {r['error']}")
        return
    points = [p for p in r["first_point_seconds"] if p is not None]
    print(f"  {r['executor']}: {r['slots']} runs at once on {r['machines']} machine(s), {r['cores']} cores; "
          f"warm after {r['warm_seconds']:.1f} s")
    print(f"    every run finished after {r['drain_seconds']:.1f} s ({r['finished']} of {r['runs']} finished)")
    print(f"    wait before a run starts: p50 {r['wait_p50']:.1f} s, p95 {r['wait_p95']:.1f} s")
    print(f"    first loss point in the browsers: {', '.join(f'{p:.2f} s' for p in points) or 'none'}")
    if r["page_switch_seconds"]:
        print(f"    sidebar page switch: median {statistics.median(r['page_switch_seconds']):.2f} s, "
              f"max {max(r['page_switch_seconds']):.2f} s ({len(r['page_switch_seconds'])} switches)")
    if r["fresh_tab_seconds"]:
        print(f"    fresh tab /autograd: {', '.join(f'{s:.2f} s' for s in r['fresh_tab_seconds'])}")
    print(f"    the server's own CPU: {r['server_cpu_seconds']:.1f} s; load average at the end "
          f"{r['load_average']:.1f}")
    if r.get("hostile"):
        h = r["hostile"]
        print(f"    the hostile student: {h['cookie_tries']} edited cookies gave {h['owners_got']} owner id(s) in the "
              f"whole class, {h['owners_in_first_minute']} in its first minute (target: no more in the whole class: "
              f"{'met' if h['owners_got'] <= h['owners_in_first_minute'] else 'missed'}); {h['runs_queued']} runs "
              f"queued ({h['runs_ahead_of_honest']} of them started while an honest run waited), "
              f"{h['runs_refused']} refused; heavy finder refused: {bool(h['heavy_finder_refused'])}; "
              f"finders started {h['finders_started']}, refused {h['finders_refused']}")


def print_comparison(results: list[dict]) -> None:
    honest = {r["executor"]: r for r in results if r.get("drain_seconds") and not r.get("with_hostile")}
    for r in results:
        alone = honest.get(r["executor"])
        if r.get("with_hostile") and r.get("drain_seconds") and alone:
            print(f"{r['executor']}: the honest students' wait beside a hostile one / alone: "
                  f"p50 {r['wait_p50']:.1f} / {alone['wait_p50']:.1f} s ({r['wait_p50'] / alone['wait_p50']:.2f}), "
                  f"p95 {r['wait_p95']:.1f} / {alone['wait_p95']:.1f} s ({r['wait_p95'] / alone['wait_p95']:.2f}); "
                  "target within 1.2")
    drained = {kind: r["drain_seconds"] for kind, r in honest.items()}
    if "threads" in drained:
        for kind, seconds in drained.items():
            if kind != "threads":
                print(f"{kind} drains the class in {seconds / drained['threads']:.2f} times the baseline's time")
    if "ray" in drained and "local" in drained:
        print(f"ray / local: {drained['ray'] / drained['local']:.2f}")


if __name__ == "__main__":
    main()
