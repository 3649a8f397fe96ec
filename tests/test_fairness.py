"""A student is someone (issue 17): ownership of every action, a queue fair between students, the learning-rate
rate's range, Stop in every state, and the learning-rate finder's limits. Plain Python, threads executor."""

import os
import threading

import pytest

from core.engine.config import TrainConfig
from core.engine.events import check_new_lr
from core.engine.lr_finder import FinderStopped
from core.engine.trainer import Trainer
from core.lab import finder
from core.lab.cpu_share import FINDER_NICE_BELOW_TRAINING, TRAIN_NICE_ENV, lower_thread_priority
from core.lab.estimate import RUN_BUDGET
from core.lab.executors.threads import ThreadExecutor
from core.lab.jobs import RunRefused
from tests.lab_helpers import live_job, steps_of, wait_until

QUICK = TrainConfig(epochs=2, batch_size=50, train_subset=500)
LONG = TrainConfig(epochs=5, batch_size=1)  # minutes of steps: always stopped long before the end
HUGE_FINDER = TrainConfig(hidden=(1024,) * 16, batch_size=8192)  # about 15 s a step: hours of finder


# --- the learning rate's range --------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0, -0.1, 5e-324, 1e-7, 100.5, 1e39, 1e308, 10**400,
                                 "0.1", None, True])
def test_a_new_learning_rate_outside_the_settings_range_is_refused_in_words(bad):
    with pytest.raises(ValueError, match=r"from 0\.000001 to 100, not"):
        check_new_lr(TrainConfig(), bad)
    with pytest.raises(ValueError, match="learning rate must be"):
        Trainer(TrainConfig(), data=object()).set_lr(bad)


@pytest.mark.parametrize("good", [1e-6, 0.5, 100, 100.0])
def test_every_rate_in_the_settings_range_is_taken(good):
    check_new_lr(TrainConfig(), good)


def test_the_largest_legal_rate_ends_a_run_as_diverged_never_failed(make_manager):
    manager = make_manager()
    job = live_job(manager, LONG, owner="ann")
    wait_until(lambda: steps_of(job) > 3, what="first steps")
    with pytest.raises(ValueError, match="learning rate must be"):
        manager.set_lr(job.id, "ann", 10**400)  # not OverflowError
    assert manager.set_lr(job.id, "ann", 100.0)
    snap = manager.wait(job.id, timeout=30)
    assert snap.status == "diverged" and "lower the learning rate" in snap.message


# --- ownership, checked in the job manager --------------------------------------------------------------------
def test_only_the_owner_controls_a_run(make_manager):
    manager = make_manager()
    job = live_job(manager, LONG, owner="ann")
    wait_until(lambda: steps_of(job) > 0, what="first step")
    assert not manager.pause(job.id, "bob") and not manager.pause(job.id, "")
    assert not manager.set_lr(job.id, "bob", 0.1) and not manager.stop(job.id, "bob")
    assert job.status == "running" and job.snapshot().lr_changes == ()
    assert manager.pause(job.id, "ann")
    assert not manager.resume(job.id, "bob") and job.status == "paused"
    assert manager.stop(job.id, "ann")
    assert manager.wait(job.id, timeout=10).status == "stopped"


def test_a_run_is_deleted_only_by_its_owner_or_the_instructor(make_manager):
    manager = make_manager()
    ann, bob = (manager.wait(manager.submit(QUICK, owner=o).id, timeout=30).run_id for o in ("ann", "bob"))
    with pytest.raises(PermissionError, match="Only the browser that trained this run, or the instructor"):
        manager.delete_run(ann, "bob")
    with pytest.raises(PermissionError):
        manager.delete_run(ann, "")
    assert {run.id for run in manager.store.list()} == {ann, bob}
    manager.delete_run(ann, "ann")
    manager.delete_run(bob, "cy", instructor=True)
    assert manager.store.list() == []


def test_a_training_run_cannot_be_deleted_even_by_its_owner(make_manager):
    manager = make_manager()
    job = live_job(manager, LONG, owner="ann")
    wait_until(lambda: steps_of(job) > 0, what="first step")
    with pytest.raises(ValueError, match="still training"):
        manager.delete_run(job.run_id, "ann", instructor=True)
    manager.stop(job.id, "ann")


def test_stopping_every_run_is_the_instructors_alone(make_manager):
    manager = make_manager()
    job = live_job(manager, LONG, owner="ann")
    with pytest.raises(PermissionError, match="instructor"):
        manager.stop_all()
    assert job.status in ("queued", "running")
    assert manager.stop_all(instructor=True) == 1
    assert manager.wait(job.id, timeout=10).status == "stopped"


# --- the queue is fair between students -----------------------------------------------------------------------
def test_the_queue_takes_students_in_turn(make_manager):
    manager = make_manager(max_concurrent=1)
    first, a2, a3 = (live_job(manager, LONG, owner="ann") for _ in range(3))
    wait_until(lambda: first.status == "running", what="ann's first run")
    b1 = live_job(manager, LONG, owner="bob")
    # Bob never started a run, Ann just did: Bob's first goes before Ann's second and third.
    assert [s.id for s in manager.queue_order()] == [b1.id, a2.id, a3.id]
    assert [j.snapshot().queue_position for j in (b1, a2, a3)] == [1, 2, 3]
    started, job = [], first
    for _ in range(3):
        manager.stop(job.id, job.owner)
        wait_until(lambda: any(j.status == "running" for j in (b1, a2, a3) if j.id not in started),
                   what="the next starts")
        job = next(j for j in (b1, a2, a3) if j.status == "running")
        started.append(job.id)
    assert started == [b1.id, a2.id, a3.id]
    manager.stop(a3.id, "ann")


def test_a_newcomer_waits_behind_one_run_of_each_classmate_not_all_of_them(make_manager):
    manager = make_manager(max_concurrent=1)
    running = live_job(manager, LONG, owner="zed")
    wait_until(lambda: running.status == "running", what="a run trains")
    ann = [live_job(manager, LONG, owner="ann") for _ in range(3)]
    bob = [live_job(manager, LONG, owner="bob") for _ in range(2)]
    cy = live_job(manager, LONG, owner="cy")
    order = [s.id for s in manager.queue_order()]
    assert order == [ann[0].id, bob[0].id, cy.id, ann[1].id, bob[1].id, ann[2].id]
    assert [manager.get(i).queue_position for i in order] == [1, 2, 3, 4, 5, 6]
    manager.stop_all(instructor=True)


# --- Stop ends a run in any state -----------------------------------------------------------------------------
class SlowStartExecutor(ThreadExecutor):
    """Workers that take as long to warm up as the test says: a run waits in "preparing" meanwhile."""

    def __init__(self, data):
        super().__init__(data, slots=1)
        self.warm = threading.Event()

    def start(self):
        self.warm.wait(60)
        super().start()


def test_stop_ends_a_preparing_run_at_once(make_manager, data):
    executor = SlowStartExecutor(data)
    manager = make_manager(executor=executor)
    try:
        job = live_job(manager, QUICK, owner="ann")
        wait_until(lambda: job.snapshot().message == "preparing", what="the run prepares")
        assert manager.stop(job.id, "ann")
        snap = manager.wait(job.id, timeout=2)
        assert snap.status == "stopped" and snap.message == "stopped before it started"
    finally:
        executor.warm.set()
    job.thread.join(30)
    assert job.status == "stopped" and manager.store.list() == []  # it never trained, nothing was saved
    assert manager.wait(manager.submit(QUICK, owner="ann").id, timeout=30).status == "finished"


# --- the learning-rate finder ---------------------------------------------------------------------------------
def test_a_finder_over_the_run_budget_is_refused_before_it_starts(make_manager):
    manager = make_manager()
    problem = manager.finder_problem(HUGE_FINDER)
    assert problem and "learning-rate finder would take up to" in problem and "10 min" in problem
    with pytest.raises(RunRefused, match="learning-rate finder would take"):
        manager.start_finder(HUGE_FINDER, "ann")
    assert manager.finder("ann") is None
    assert manager.finder_problem(TrainConfig()) is None
    assert RUN_BUDGET.finder_problem(TrainConfig(batch_size=1024, hidden=(1024, 1024, 1024))) is None


def test_one_finder_per_student_and_it_can_be_stopped(make_manager, monkeypatch):
    monkeypatch.setattr(finder, "FINDER_SPACING_S", 0)  # spaced finders: the next test
    manager = make_manager()
    heavy = TrainConfig(batch_size=1024, hidden=(1024, 1024, 1024))  # legal, but minutes of steps
    manager.start_finder(heavy, "ann")
    with pytest.raises(RunRefused, match="still running"):
        manager.start_finder(TrainConfig(train_subset=500), "ann")
    found = manager.find_lr(TrainConfig(train_subset=500), "bob", timeout=120)  # not behind ann's
    assert found.suggested_lr > 0 and not manager.finder("ann").done
    assert not manager.stop_finder("bob")  # bob's has ended; ann's is not his to stop
    assert manager.stop_finder("ann")
    task = manager.wait_finder("ann", 10)
    assert task.done and task.stopped and "stopped" in task.message
    manager.start_finder(TrainConfig(train_subset=500), "ann")  # the stopped one no longer counts
    again = manager.wait_finder("ann", 120)
    assert again.done and again.result is not None


def test_a_students_next_finder_waits_a_while_and_they_are_told_how_long(make_manager):
    manager = make_manager()
    light = TrainConfig(train_subset=500)
    assert manager.find_lr(light, "ann", timeout=120).suggested_lr > 0
    with pytest.raises(RunRefused, match=r"another learning-rate finder in \d+ s"):
        manager.start_finder(light, "ann")
    manager.start_finder(light, "bob")
    assert manager.wait_finder("bob", 120).done  # a classmate's finder is not held up


class Helpers:
    """An executor whose helpers answer a finder at once, or (`until_stopped`) only when it is stopped."""

    def __init__(self, until_stopped=False):
        self.until_stopped = until_stopped

    def ensure_started(self):
        pass

    def find_lr(self, config, stop):
        if self.until_stopped:
            stop.wait(10)
            raise FinderStopped("stopped")
        return "a rate"


def test_a_students_finders_are_spaced_from_the_end_of_their_last_one_found_or_stopped():
    clock = [100.0]
    finders = finder.Finders(spacing_s=20, clock=lambda: clock[0])
    assert finders.start(QUICK, "ann", Helpers()).wait(10)
    clock[0] += 19
    with pytest.raises(RunRefused, match="in 1 s. The lab spaces each student's finders by 20 s"):
        finders.start(QUICK, "ann", Helpers())
    clock[0] += 1
    long = finders.start(QUICK, "ann", Helpers(until_stopped=True))
    clock[0] += 300  # it ran five minutes
    assert long.stop() and long.wait(10) and long.stopped
    clock[0] += 5
    with pytest.raises(RunRefused, match="in 15 s"):  # from when it ended, not from when it started
        finders.start(QUICK, "ann", Helpers())


def test_a_finder_stays_below_training_niced_to_linuxs_lowest():
    policies = {}

    def run(name, below):
        lower_thread_priority({TRAIN_NICE_ENV: "19"}, below_training=below)
        policies[name] = os.sched_getscheduler(threading.get_native_id())

    for name, below in (("training", 0), ("finder", FINDER_NICE_BELOW_TRAINING)):
        thread = threading.Thread(target=run, args=(name, below))  # a thread of its own: priority is per thread
        thread.start()
        thread.join()
    assert policies == {"training": os.SCHED_OTHER, "finder": os.SCHED_IDLE}


def test_a_run_whose_steps_outlast_a_stop_is_refused(make_manager):
    # 2.9 s a step (lab machine) and 2 steps in all: well within ten minutes, but Stop would wait for each step.
    slow_steps = TrainConfig(hidden=(1024,) * 16, batch_size=2048, epochs=1, train_subset=4096)
    manager = make_manager()
    with pytest.raises(RunRefused, match="Stop and Pause act between steps"):
        manager.submit(slow_steps, owner="ann")
    assert "would take up to 34 min" in manager.finder_problem(slow_steps)  # its 720 steps: over the time
