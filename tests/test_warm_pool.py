"""The local pool's shared warm-up: one zygote imports torch and loads MNIST for every worker, each worker is lent
as soon as it is warm, and the students are told how the warm-up goes."""

import os
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.engine.config import TrainConfig
from core.engine.run_store import RunStore
from core.lab.executors.base import WarmingUp
from core.lab.executors.local import LocalExecutor, LocalWorker
from core.lab.executors.pool import WorkerPool
from core.lab.job_text import warming_text
from core.lab.jobs import JobManager
from tests.lab_helpers import wait_until

PROBE = Path(__file__).resolve().parent / "warm_probe"
QUICK = TrainConfig(epochs=1, batch_size=50, train_subset=500)


class FakeWorker:
    """A worker whose warm-up ends when its event is set."""

    def __init__(self, name: str, warm: threading.Event):
        self.name, self.warm, self.pid = name, warm, None
        self.alive = True

    def wait_ready(self) -> None:
        self.warm.wait()
        self.pid = self.name

    identity = property(lambda self: self.pid)

    def exit_text(self) -> str:
        return ""

    def close(self, timeout: float = 5.0) -> None:
        self.alive = False


def test_a_pool_lends_its_first_warm_worker_while_a_slower_one_still_warms():
    slow, fast = threading.Event(), threading.Event()
    made = iter([FakeWorker("slow", slow), FakeWorker("fast", fast)])
    pool = WorkerPool(lambda: next(made), "training workers")
    members = pool.spawn(2)
    admitting = threading.Thread(target=pool.admit_all, args=(members,), daemon=True)
    admitting.start()
    fast.set()
    taken = []
    taker = threading.Thread(target=lambda: taken.append(pool.take(lambda: False)), daemon=True)
    taker.start()
    taker.join(5)
    assert [w.name for w in taken] == ["fast"]  # the first in line is still warming
    assert admitting.is_alive()  # admit_all returns only once every worker is warm
    slow.set()
    admitting.join(5)
    assert not admitting.is_alive() and pool.take(lambda: False).name == "slow"


@pytest.mark.parametrize(("warming", "words"), [
    (WarmingUp("loading MNIST", 3.4), "Warming up the lab: loading MNIST (about 4 s left)…"),
    (WarmingUp("importing torch", 12.0), "Warming up the lab: importing torch (about 12 s left)…"),
    (WarmingUp("warming up", 0.2), "Warming up the lab: warming up (a moment more)…"),
])
def test_the_warm_up_is_said_with_its_step_and_time_left(warming, words):
    assert warming_text(warming) == words


@pytest.mark.slow
def test_a_pool_of_two_workers_and_two_helpers_imports_torch_and_loads_mnist_once(tmp_path, monkeypatch):
    log = tmp_path / "probe.log"
    monkeypatch.setenv("MNIST_LAB_PROBE_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(PROBE), os.environ.get("PYTHONPATH")])))
    executor = LocalExecutor(None, slots=2, helpers=2)  # MNIST from data/, loaded where the workers run
    try:
        executor.ensure_started()
        pids = executor.pids + executor.helper_pids
        assert len(set(pids)) == 4 and executor.zygote.process.pid not in pids
        lines = log.read_text().split()
        assert lines.count("python") == 1 and lines.count("load_mnist") == 1  # the zygote's, for all four
        assert executor.zygote.threads_when_forking == 1  # fork is safe: no other thread to lose
        manager = JobManager(RunStore(tmp_path / "runs"), executor=executor, max_concurrent=2)
        try:
            jobs = [manager.submit(QUICK, owner=o) for o in ("ann", "bob")]
            assert [manager.wait(job.id, 60).status for job in jobs] == ["finished", "finished"]
        finally:
            manager.shutdown()
    finally:
        executor.close()


@pytest.mark.slow
def test_the_first_run_starts_on_the_first_warm_worker(tmp_path, make_random_mnist, monkeypatch):
    real, released, calls = LocalWorker.wait_ready, threading.Event(), []

    def every_worker_but_the_first_is_slow(worker):
        calls.append(worker)
        if len(calls) > 1:
            released.wait(120)
        real(worker)

    monkeypatch.setattr(LocalWorker, "wait_ready", every_worker_but_the_first_is_slow)
    executor = LocalExecutor(make_random_mnist(1000, 100), slots=2)
    manager = JobManager(RunStore(tmp_path / "runs"), executor=executor, max_concurrent=2)
    try:
        job = manager.submit(QUICK, owner="ann")  # on a fresh pool: nothing is warm yet
        assert manager.wait(job.id, timeout=60).status == "finished"
        assert not executor.started and len(calls) == 4  # the others still warming
    finally:
        released.set()
        manager.shutdown()
        executor.close()


@pytest.mark.slow
def test_the_warm_up_reports_its_steps_and_ends_warm(tmp_path, make_random_mnist):
    executor = LocalExecutor(make_random_mnist(1000, 100), slots=1, helpers=0)
    seen = []
    try:
        executor.ensure_launched()

        def started() -> bool:  # and each stage of the warm-up seen on the way
            warming = executor.warming()
            if warming is not None and warming.stage not in seen:
                seen.append(warming.stage)
                assert warming.seconds_left >= 0
            return executor.started

        wait_until(started, 120, "the warm-up to end", every=0.02)
        assert executor.started and executor.warming() is None
        assert seen and seen[0] == "importing torch" and "loading MNIST" not in seen  # its data came with it
        wait_until(lambda: len(executor.pids) == 1, what="the worker is lent out")
    finally:
        executor.close()


def test_the_train_page_says_how_the_warm_up_goes_while_the_first_run_waits(lab, monkeypatch):
    from pages.ui import services

    at = lab("pages/train.py")
    executor, released = services.lab().executor, threading.Event()
    real_train = executor.train

    def train_once_warm(config, sink, run_folder=None):
        released.wait(30)
        real_train(config, sink, run_folder)

    monkeypatch.setattr(executor, "train", train_once_warm)
    monkeypatch.setattr(executor, "warming", lambda: WarmingUp("loading MNIST", 2.2))
    try:
        at.button(key="train_start").click().run()
        assert "Warming up the lab: loading MNIST (about 3 s left)…" in [c.value for c in at.caption]
        monkeypatch.setattr(executor, "warming", lambda: None)  # warm now: the words say what remains
        at.run()
        captions = [c.value for c in at.caption]
        assert "Preparing the data and the network…" in captions and not any("Warming" in c for c in captions)
    finally:
        released.set()
    assert not at.exception


def test_launch_warms_the_workers_then_runs_streamlit_on_the_app(monkeypatch):
    import streamlit.web.cli

    import launch
    from core.lab.executors import local

    calls, pages_warmed_after = [], []
    zygote = SimpleNamespace(warm=False, alive=True)
    monkeypatch.setenv("MNIST_LAB_EXECUTOR", "local")
    monkeypatch.setattr(local, "prewarm", lambda: calls.append("prewarm") or zygote)
    monkeypatch.setattr(launch, "warm_pages", lambda workers_warm: pages_warmed_after.append(workers_warm))
    monkeypatch.setattr(streamlit.web.cli, "main", lambda: calls.append(list(sys.argv)) or 0)
    monkeypatch.setattr("sys.argv", ["launch"])
    monkeypatch.setattr(launch, "_warm_started", False)  # a fresh process's
    with pytest.raises(SystemExit) as done:
        launch.main(["--server.port", "8600"])
    assert done.value.code == 0
    assert calls == ["prewarm", ["streamlit", "run", "streamlit_app.py", "--server.port", "8600"]]
    wait_until(lambda: pages_warmed_after, 5)
    assert not pages_warmed_after[0]()  # the pages' warm-up waits for the zygote's
    zygote.warm = True
    assert pages_warmed_after[0]()
    monkeypatch.setenv("MNIST_LAB_EXECUTOR", "threads")  # nothing to warm: no zygote is started
    monkeypatch.setattr(launch, "_warm_started", False)
    calls.clear()
    with pytest.raises(SystemExit):
        launch.main([])
    assert calls == [["streamlit", "run", "streamlit_app.py"]]


def test_a_server_started_by_streamlit_run_warms_the_lab_from_its_first_script_run(lab, monkeypatch):
    import launch

    calls = []
    monkeypatch.setattr(launch, "warm_lab", lambda: calls.append("warm_lab"))
    lab("pages/home.py")  # the shell's run, then the page's
    assert calls and set(calls) == {"warm_lab"}


def test_the_labs_warm_up_starts_once_per_process(monkeypatch):
    import launch
    from core.lab.executors import local

    started = []
    monkeypatch.setenv("MNIST_LAB_EXECUTOR", "local")
    monkeypatch.setattr(launch, "_warm_started", False)  # a fresh process's
    monkeypatch.setattr(local, "prewarm", lambda: started.append("zygote") or SimpleNamespace(warm=True, alive=True))
    monkeypatch.setattr(launch, "warm_pages", lambda workers_warm: started.append("pages"))
    launch.warm_lab()  # the first script run (or launch, as the server starts)
    launch.warm_lab()  # every later run: nothing more
    wait_until(lambda: len(started) == 2, 5, what="the warm-up")
    time.sleep(0.2)
    assert started == ["zygote", "pages"]


def test_the_pages_warm_up_imports_every_module_the_pages_import(tmp_path, monkeypatch):
    import launch
    from core.engine import data

    pages = tmp_path / "pages"
    (tmp_path / "warmed_pkg").mkdir()
    pages.mkdir()
    (tmp_path / "warmed_pkg" / "__init__.py").write_text("def helper():\n    return 1\n")
    (tmp_path / "warmed_pkg" / "part.py").write_text("")
    (tmp_path / "warmed_module.py").write_text("")
    (pages / "a_page.py").write_text("import warmed_module\nfrom warmed_pkg import helper, part\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(launch, "PAGES_DIR", pages)
    monkeypatch.setattr(data, "load_mnist", lambda: None)
    for name in ("warmed_module", "warmed_pkg", "warmed_pkg.part"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert launch.page_modules(pages) == ["warmed_module", "warmed_pkg", "warmed_pkg.helper", "warmed_pkg.part"]
    launch.warm_pages(lambda: True)
    assert {"warmed_module", "warmed_pkg", "warmed_pkg.part"} <= set(sys.modules)
    assert "warmed_pkg.helper" not in sys.modules  # a function, not a module


def test_the_server_loads_the_pages_mnist_once_the_workers_are_warm(monkeypatch):
    import launch
    from core.engine import data

    loaded = []
    monkeypatch.setattr(data, "load_mnist", lambda: loaded.append(time.monotonic()))
    workers = threading.Event()
    warming = threading.Thread(target=launch.warm_pages, args=(workers.is_set,))
    warming.start()
    time.sleep(0.5)
    assert not loaded  # the workers' warm-up has the cores first
    workers.set()
    warming.join(10)
    assert len(loaded) == 1 and not warming.is_alive()
