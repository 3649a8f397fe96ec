"""The lab's coordinator and its web-process client (core.lab.coordinator).

Fast: the coordinator's one door over a thread executor (plain data out, the manager's own errors raised again),
a client whose Ray cannot be reached (it trains on this machine instead and says so), the lab's guards and the
settings a web process hands the coordinator. Slow: a real Ray head, started elsewhere without the lab's settings:
the coordinator runs with the web process's, counts new ids for every client, and when it is killed mid-run the
next call finds a new one, and the run is saved as interrupted.
"""

import contextlib
import os
import pickle
import signal
import threading
import time

import pytest

from core.engine.config import TrainConfig
from core.engine.run_store import RunStore
from core.engine.status import Status
from core.lab.coordinator import COORDINATOR_NAME, Coordinator, CoordinatorMismatch, lab_namespace, lab_settings
from core.lab.executors.threads import ThreadExecutor
from core.lab.job import JobSnapshot
from core.lab.lab_client import LabClient
from core.lab.limits import RunRefused
from tests.lab_helpers import wait_until

QUICK = TrainConfig(epochs=2, batch_size=50, train_subset=500)
LONG = TrainConfig(epochs=5, batch_size=1)  # minutes of steps: always stopped long before the end


@pytest.fixture
def coordinator(data, tmp_path):
    made = Coordinator(str(tmp_path / "runs"), ThreadExecutor(data, 1))
    yield made
    made.manager.shutdown()


def answer(coordinator: Coordinator, name: str, *args, **kwargs):
    value, error = coordinator.call(name, args, kwargs)
    if error is not None:
        raise error
    return value


def test_the_coordinator_answers_in_plain_data_that_crosses_a_process(coordinator):
    snap = answer(coordinator, "submit", QUICK, "ann")
    assert isinstance(snap, JobSnapshot) and snap.owner == "ann"
    ended = answer(coordinator, "wait", snap.id, 60)
    assert ended.status == Status.FINISHED, ended.message
    again = pickle.loads(pickle.dumps(answer(coordinator, "get", snap.id)))  # what Ray sends is a pickle
    assert again.id == snap.id and again.status == Status.FINISHED and len(again.curve) > 0
    assert answer(coordinator, "load").training == 0 and answer(coordinator, "load").capacity.slots == 1


def test_the_managers_refusals_come_back_as_its_own_errors_and_nothing_else_is_callable(coordinator):
    snap = answer(coordinator, "submit", LONG, "ann")
    assert answer(coordinator, "pause", snap.id, "bob") is False  # not bob's run
    with pytest.raises(PermissionError):
        answer(coordinator, "stop_all")  # the instructor's alone
    with pytest.raises(RunRefused):
        answer(coordinator, "submit", QUICK, "ann", student="Instructor")  # a staff title is no one's name
    value, error = coordinator.call("shutdown")
    assert value is None and isinstance(error, AttributeError)
    assert answer(coordinator, "stop", snap.id, "ann") is True


def test_the_coordinators_guards_answer_through_its_one_door(coordinator):
    owner = answer(coordinator, "issue_owner_id", "10.7.0.1")
    assert len(owner) == 32
    assert answer(coordinator, "try_token", "10.7.0.1", False).wrong_from_address == 1
    assert answer(coordinator, "try_token", "10.7.0.1", True).counted is False  # the wait after a wrong try


def test_the_coordinator_gets_the_web_processs_settings_but_not_who_may_do_what():
    environ = {"MNIST_LAB_TRAIN_NICE": "12", "MNIST_LAB_DATA": "data", "MNIST_LAB_SECRET": "s" * 40,
               "MNIST_LAB_INSTRUCTOR_TOKEN": "the-token", "MNIST_LAB_INSTRUCTORS": "ann@school.edu", "PATH": "/usr/bin"}
    assert lab_settings(environ) == {"MNIST_LAB_TRAIN_NICE": "12", "MNIST_LAB_DATA": "data"}  # as written


@pytest.fixture
def connecting(data, tmp_path, monkeypatch):
    """Makes clients that stay connecting until the test sets the event (then Ray cannot be reached: they train
    here); (make, event)."""
    from core.lab.executors import local, ray_actors

    release = threading.Event()

    def slow_then_unreachable(closing, num_cpus=None):
        release.wait(30)
        raise ConnectionError("no Ray")

    monkeypatch.setattr(ray_actors, "connect_ray", slow_then_unreachable)
    monkeypatch.setattr(local, "LocalExecutor", lambda _data, slots: ThreadExecutor(data, 1))
    clients = []

    def make() -> LabClient:
        clients.append(LabClient(str(tmp_path / "runs")))
        return clients[-1]

    yield make, release
    release.set()
    for client in clients:
        client.shutdown()


def test_a_client_counts_new_ids_itself_until_the_coordinator_answers(connecting, monkeypatch):
    make, release = connecting
    monkeypatch.setenv("MNIST_LAB_NEW_IDS_PER_HOUR", "1")
    client = make()
    assert client.issue_owner_id("10.7.0.2") is not None  # at once: a visitor never waits for Ray's start
    release.set()
    assert client._connected.wait(30)  # to the fallback coordinator here: Ray could not be reached
    assert client.issue_owner_id("10.7.0.3") is not None and client.issue_owner_id("10.7.0.3") is None
    assert client._local.manager.guards.issue_owner_id("10.7.0.3") is None  # counted by the lab's coordinator

    asked = []

    def lost(*args):
        asked.append(args)
        raise ConnectionError("the coordinator's node is gone")

    monkeypatch.setattr(client._local, "call", lost)
    assert client.issue_owner_id("10.7.0.4") is not None  # a page never shows Ray's error: counted here meanwhile
    assert client.issue_owner_id("10.7.0.4") is None and len(asked) == 1  # here for a while, without asking


def test_a_client_whose_ray_cannot_be_reached_trains_here_and_says_so(data, tmp_path, monkeypatch):
    from core.lab.executors import local, ray_actors

    def unreachable(closing, num_cpus=None):
        raise ConnectionError("no Ray at 10.0.0.9:6379")

    monkeypatch.setattr(ray_actors, "connect_ray", unreachable)
    monkeypatch.setattr(local, "LocalExecutor", lambda _data, slots: ThreadExecutor(data, 1))
    client = LabClient(str(tmp_path / "runs"))
    try:
        job = client.submit(QUICK, "ann")
        assert client.wait(job.id, 60).status == Status.FINISHED
        assert client.get(job.id).status == Status.FINISHED
        assert "Ray could not be reached" in client.notice and "no Ray at 10.0.0.9:6379" in client.notice
        assert client.capacity.slots == 1 and client.ready
        with pytest.raises(PermissionError):
            client.stop_all()
    finally:
        client.shutdown()


def test_a_coordinator_of_an_older_lab_is_named_on_the_pages_not_called_unreachable(data, tmp_path, monkeypatch):
    from core.lab.executors import local, ray_actors

    def older(self):
        raise CoordinatorMismatch("The lab's coordinator in this Ray cluster was started by an older version")

    monkeypatch.setattr(ray_actors, "connect_ray", lambda closing, num_cpus=None: None)
    monkeypatch.setattr(LabClient, "_find_actor", older)
    monkeypatch.setattr(local, "LocalExecutor", lambda _data, slots: ThreadExecutor(data, 1))
    client = LabClient(str(tmp_path / "runs"))
    try:
        assert client.wait(client.submit(QUICK, "ann").id, 60).status == Status.FINISHED  # trains here meanwhile
        assert "older version" in client.notice and "could not be reached" not in client.notice
    finally:
        client.shutdown()


def test_a_connecting_client_answers_reads_at_once_but_waits_before_calling_a_linked_run_gone(connecting):
    make, release = connecting
    client = make()
    assert client.waiting_of("ann") == 0 and client.live_snapshots() == [] and client.get(None) is None
    assert not client.ready
    answers = []
    linked = threading.Thread(target=lambda: answers.append(client.get("20261130-072026-8500")))
    linked.start()
    time.sleep(0.3)
    assert linked.is_alive() and not answers  # a link's run is not called gone before the lab is reached
    release.set()
    linked.join(30)
    assert answers == [None] and "Ray could not be reached" in client.notice  # reached (the fallback here)


@pytest.mark.slow
def test_a_coordinator_that_dies_is_found_again_and_its_run_is_saved_as_interrupted(tmp_path, monkeypatch):
    from tests.browser.lab_server import start_ray_head, stop_ray_head

    head = start_ray_head(tmp_path / "ray.log", num_cpus=1)  # in its own folder, without the lab's settings
    join_ray(monkeypatch, head.env)
    monkeypatch.setenv("MNIST_LAB_NEW_IDS_PER_HOUR", "2")  # a setting of the web processes only
    import ray
    runs = tmp_path / "runs"
    client, other = LabClient(str(runs)), None
    try:
        job = client.submit(LONG, "ann")
        assert ray.get(client._actor.settings.remote())["MNIST_LAB_NEW_IDS_PER_HOUR"] == "2"
        other = LabClient(str(runs))  # another web process's (made once this process's Ray is up: one ray.init)
        assert other.get(job.id) is not None  # a read by a run's id waits until the client is connected
        issued = [client.issue_owner_id("10.7.1.1"), other.issue_owner_id("10.7.1.1"),
                  other.issue_owner_id("10.7.1.1")]
        assert [owner is None for owner in issued] == [False, False, True]  # the lab's limit, not each process's
        wait_until(lambda: client.get(job.id).step, 240, "the run's first step", every=0.5)
        first = ray.get(client._actor.pid.remote())
        assert os.getpriority(os.PRIO_PROCESS, first) == os.getpriority(os.PRIO_PROCESS, 0)  # not Ray's nice 15
        os.kill(first, signal.SIGKILL)  # the coordinator's process, on this machine
        # The next calls find the coordinator Ray restarts; it knows nothing of the old one's runs.
        wait_until(lambda: client.get(job.id) is None, 240, "a coordinator to come back", every=0.5)
        assert ray.get(client._actor.pid.remote()) != first
        (run,) = RunStore(runs).list()
        assert run.status == Status.INTERRUPTED and run.record["status"] == Status.INTERRUPTED  # saved so
        assert ray.get_actor(COORDINATOR_NAME, namespace=lab_namespace(str(runs))) is not None

        # The instructor's "stop every run", asked through another client (another web process's), reaches it.
        again = client.submit(LONG, "ann")
        assert other.stop_all(instructor=True) == 1
        assert other.wait(again.id, 120).status == Status.STOPPED
    finally:
        client.shutdown()
        if other is not None:
            other.shutdown()
        stop_ray_head(head)
        leave_ray(monkeypatch, head.env)


def join_ray(monkeypatch, env: dict) -> None:
    """This process takes the test's Ray address and token, and forgets any token read before: Ray keeps the token it
    read for the process's life, and where an earlier test here ran a local Ray (test_executors.py, before this under
    pytest-xdist), this process could not join the head ("Failed to connect")."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # Imported after the token is in the environment, as Ray reads it on import: Ray's own reset, for its tests.
    from ray._private.authentication_test_utils import reset_auth_token_state

    reset_auth_token_state()


def leave_ray(monkeypatch, env: dict) -> None:
    """This process leaves the test's Ray and forgets its token: Ray keeps the token it read for the process's life,
    and a later test's local Ray, with a token of its own, then refused this process ("InvalidAuthToken")."""
    import ray
    from ray._private.authentication_test_utils import reset_auth_token_state  # Ray's own reset, for its tests

    with contextlib.suppress(AssertionError):  # the client's Ray-owning thread shuts it down; else this does
        wait_until(lambda: not ray.is_initialized(), 30, "the client's thread to leave Ray", every=0.1)
    ray.shutdown()
    for name in env:
        monkeypatch.delenv(name, raising=False)
    reset_auth_token_state()


def test_labs_with_other_runs_folders_have_coordinators_of_their_own():
    assert lab_namespace("/a/runs") != lab_namespace("/b/runs") == lab_namespace("/b/runs")
