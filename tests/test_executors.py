"""The job manager's contract, against every executor: worker processes (local), Ray actors, threads.

Each executor is started once per module and shared by its tests (workers import torch once: seconds each);
each test has a JobManager of its own, whose shutdown stops its runs. Ray runs as a local Ray with 2 CPUs and
no dashboard.
"""

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time

import pytest

from core.engine.config import TrainConfig
from core.engine.data import MNISTTensors
from core.engine.run_store import RunStore
from core.lab import dispatch
from core.lab.cpu_share import DEFAULT_WORKER_NICE
from core.lab.executors import executor_kind, make_executor
from core.lab.executors.base import WORKER_LOST
from core.lab.executors.local import LocalExecutor
from core.lab.executors.threads import ThreadExecutor
from core.lab.job_sink import JobSink
from core.lab.jobs import JobManager
from tests.lab_helpers import REPO, live_job, steps_of, true_progress, wait_until

QUICK = TrainConfig(epochs=2, batch_size=50, train_subset=500)  # 20 steps
LONG = TrainConfig(epochs=5, batch_size=1)  # minutes of steps: always stopped long before the end


@pytest.fixture(scope="module")
def data(make_random_mnist):
    return make_random_mnist(2000, 200)


@pytest.fixture(scope="module", params=["local", "ray", "threads"])
def executor(request, data):
    if request.param == "ray":
        from core.lab.executors.ray_actors import RayExecutor

        made = RayExecutor(data, num_cpus=2)
    else:
        made = {"local": LocalExecutor, "threads": ThreadExecutor}[request.param](data, slots=2)
    made.ensure_started()
    assert made.capacity().kind == request.param  # Ray did start: no silent fallback to local workers
    yield made
    made.close()


@pytest.fixture
def manager(executor, tmp_path):
    made = JobManager(RunStore(tmp_path / "runs"), executor=executor, max_concurrent=2)
    yield made
    made.shutdown()


def steady_steps(job, timeout: float = 30.0) -> int:
    """The job's step count once it has stopped changing for 1.5 s (three of the Ray executor's polls)."""
    counts = [None]

    def unchanged() -> bool:
        counts.append(steps_of(job))
        return counts[-1] == counts[-2]

    wait_until(unchanged, timeout, "the steps to stop coming", every=1.5)
    return counts[-1]


def test_a_run_trains_and_is_saved_by_the_server(manager):
    job = live_job(manager, QUICK, owner="ann", label="first")
    snap = manager.wait(job.id, timeout=60)
    assert snap.status == "finished" and snap.step == snap.total_steps == 20
    assert [e["epoch"] for e in snap.epoch_metrics] == [1, 2] and len(snap.curve) == 20
    run = manager.store.load(snap.run_id)
    assert run.status == "finished" and run.has_model and run.has_predictions and len(run.steps) == 20
    assert run.record["pid"] == os.getpid()  # the server wrote it: workers need no shared folder
    assert run.predictions().labels.shape == (200,) and run.model() is not None


def test_pause_resume_and_stop_reach_the_worker(manager):
    job = live_job(manager, LONG, owner="ann")
    wait_until(lambda: steps_of(job) > 5, what="first steps")
    assert manager.pause(job.id, "ann")
    held = steady_steps(job)  # the steps already under way or on the wire still arrive
    time.sleep(1.0)
    assert steps_of(job) == held and job.status == "paused"
    assert manager.resume(job.id, "ann")
    wait_until(lambda: steps_of(job) > held + 5, what="steps after resume")
    assert manager.stop(job.id, "ann")
    snap = manager.wait(job.id, timeout=30)
    assert snap.status == "stopped" and snap.message.startswith("stopped at epoch")
    assert manager.store.load(snap.run_id).status == "stopped"


def test_the_speed_and_time_left_shown_while_it_trains_are_within_a_quarter_of_the_truth(manager, data):
    # Steps reach the server in batches (a local worker's every 0.25 s, the Ray executor's polls every 0.5 s): the
    # speed must come from when they happened. The truth comes afterwards, from the epochs the run measured.
    config = TrainConfig(epochs=4, batch_size=1)
    job = live_job(manager, config, owner="ann")
    shown = []
    while not job.status.ended:
        snap = job.snapshot()
        if snap.samples_per_second is not None:
            shown.append((snap.step, snap.samples_per_second, snap.eta_seconds))
        time.sleep(0.05)
    done = manager.wait(job.id, timeout=60)
    assert done.status == "finished" and len(shown) >= 10, (done.message, len(shown))
    n_train = len(data.train_labels)
    truths = [true_progress(list(done.epoch_metrics), n_train, n_train, step) for step, _, _ in shown]
    speed = statistics.median(rate / true for (_, rate, _), (true, _) in zip(shown, truths, strict=True))
    left = statistics.median(eta / true for (_, _, eta), (_, true) in zip(shown, truths, strict=True) if true > 1)
    epoch_seconds = [(e["seconds"], e["eval_seconds"]) for e in done.epoch_metrics]
    assert 0.75 <= speed <= 1.25 and 0.75 <= left <= 1.25, (speed, left, epoch_seconds, shown[::10])


def test_a_new_learning_rate_reaches_the_worker(manager):
    job = live_job(manager, LONG, owner="ann")
    wait_until(lambda: steps_of(job) > 5, what="first steps")
    job._trainer.set_lr(0.5)  # the run's control, as Job.set_lr will use it
    with pytest.raises(ValueError, match="above 0"):
        job._trainer.set_lr(-1)
    manager.stop(job.id, "ann")
    assert manager.wait(job.id, timeout=10).status == "stopped"


def test_runs_wait_in_order_and_one_students_stop_never_stops_anothers(manager):
    ann, bob, cy = (live_job(manager, LONG, owner=o) for o in ("ann", "bob", "cy"))
    wait_until(lambda: ann.status == bob.status == "running", what="two running")
    assert cy.snapshot().queue_position == 1 and manager.training == 2
    assert not manager.stop(bob.id, "ann") and bob.status == "running"
    assert manager.stop(ann.id, "ann")
    wait_until(lambda: cy.status == "running", what="the third starts")
    assert bob.status == "running" and manager.wait(ann.id, 10).status == "stopped"
    for job, owner in ((bob, "bob"), (cy, "cy")):
        manager.stop(job.id, owner)
        assert manager.wait(job.id, 10).status == "stopped"


def test_failure_and_divergence_are_reported_in_words(manager):
    diverged = manager.wait(manager.submit(TrainConfig(lr=100.0, epochs=1, train_subset=500), "ann").id, 60)
    assert diverged.status == "diverged" and "lower the learning rate" in diverged.message
    assert manager.store.load(diverged.run_id).status == "diverged"


def test_the_finder_runs_beside_a_full_class_in_the_helper_worker(manager):
    busy = [live_job(manager, LONG, owner=o) for o in ("ann", "bob")]
    wait_until(lambda: all(steps_of(job) > 0 for job in busy), what="every slot training")
    found = manager.find_lr(TrainConfig(train_subset=500), "cy")  # does not wait for a free slot
    assert found.suggested_lr > 0 and len(found.points) > 10 and found.reason
    assert all(job.status == "running" for job in busy)
    for job, owner in zip(busy, ("ann", "bob"), strict=True):
        manager.stop(job.id, owner)


def test_a_light_finder_answers_while_a_classmates_heavy_one_runs(manager):
    manager.start_finder(TrainConfig(batch_size=1024, hidden=(1024, 1024, 1024)), "ann")  # minutes
    found = manager.find_lr(TrainConfig(train_subset=500), "bob", timeout=120)  # in the other helper
    assert found.suggested_lr > 0 and not manager.finder("ann").done
    assert manager.stop_finder("ann")
    heavy = manager.wait_finder("ann", 10)
    assert heavy.done and heavy.stopped  # stopped between two steps, in its worker
    assert manager.find_lr(TrainConfig(train_subset=500), "cy", timeout=120).suggested_lr > 0  # helper is back


def test_a_run_waiting_for_a_worker_is_stopped_at_once(executor, tmp_path):
    if executor.kind == "threads":
        pytest.skip("threads start a run at once: there is no worker to wait for")
    manager = JobManager(RunStore(tmp_path / "runs"), executor=executor, max_concurrent=3)  # one more than slots
    try:
        busy = [live_job(manager, LONG, owner=o) for o in ("ann", "bob")]
        wait_until(lambda: all(steps_of(job) > 0 for job in busy), what="every worker training")
        waiting = live_job(manager, LONG, owner="cy")
        wait_until(lambda: waiting.snapshot().message == "preparing", what="the third waits for a worker")
        assert manager.stop(waiting.id, "cy")
        assert manager.wait(waiting.id, timeout=2).status == "stopped"
        for job in busy:
            manager.stop(job.id, job.owner)
            assert manager.wait(job.id, timeout=30).status == "stopped"
        waiting.thread.join(10)
        assert not waiting.thread.is_alive() and {run.status for run in manager.store.list()} == {"stopped"}
        assert len(manager.store.list()) == 2  # the one that never trained left nothing
    finally:
        manager.shutdown()


def test_a_refused_run_gives_its_worker_back(executor, manager, monkeypatch):
    if executor.kind != "local":
        pytest.skip("the local pool's own bookkeeping (a Ray actor refuses inside the actor, and threads have none)")
    from core.lab.executors.base import RunRefusedByWorker
    from core.lab.executors.local import LocalWorker

    real, refusals = LocalWorker.train, []

    def refuse_three(worker, config, sink, run_folder=None):
        if len(refusals) < 3:  # more refusals than workers: each must come back to the pool
            refusals.append(worker.pid)
            raise RunRefusedByWorker("The MNIST files in data/MNIST/raw are damaged.")
        return real(worker, config, sink, run_folder)

    monkeypatch.setattr(LocalWorker, "train", refuse_three)
    refused = [manager.wait(manager.submit(QUICK, owner=o).id, timeout=10) for o in ("ann", "bob", "cy")]
    assert [(s.status, "damaged" in s.message) for s in refused] == [("failed", True)] * 3
    assert manager.wait(manager.submit(QUICK, owner="dee").id, timeout=60).status == "finished"
    assert manager.store.list()[0].status == "finished" and len(manager.store.list()) == 1


def test_a_failing_run_is_failed_and_the_worker_goes_on(executor, data, tmp_path):
    broken = MNISTTensors(data.train_images, data.train_labels + 20, data.test_images, data.test_labels)
    kind = type(executor)
    if kind.__name__ == "RayExecutor":
        pytest.skip("a second Ray executor would ask the same 2 CPUs again; the broken data case is the same code")
    own = kind(broken, slots=1)
    manager = JobManager(RunStore(tmp_path / "runs"), executor=own)
    try:
        snap = manager.wait(manager.submit(QUICK, owner="ann").id, timeout=60)
        assert snap.status == "failed" and snap.message.startswith("training failed")
        assert manager.store.load(snap.run_id).status == "failed"
        assert manager.wait(manager.submit(QUICK, owner="ann").id, timeout=60).status == "failed"  # still serving
    finally:
        manager.shutdown()
        own.close()


def test_a_sink_that_fails_while_a_worker_trains_leaves_the_pool_whole(executor, manager, monkeypatch):
    class FailingSink(JobSink):  # the server cannot keep ann's steps (its disk, say)
        def on_step(self, event):
            if self.job.owner == "ann":
                raise RuntimeError("the runs folder is full")
            super().on_step(event)

    monkeypatch.setattr(dispatch, "JobSink", FailingSink)
    failed = [live_job(manager, QUICK, owner="ann") for _ in range(2)]  # one on each worker
    assert [manager.wait(job.id, timeout=60).status for job in failed] == ["failed", "failed"]
    later = [live_job(manager, QUICK, owner=o) for o in ("bob", "cy")]  # both workers again, not a slot short
    assert [manager.wait(job.id, timeout=120).status for job in later] == ["finished", "finished"]


def test_a_killed_worker_fails_only_its_own_run(executor, manager):
    if executor.kind == "threads":
        pytest.skip("threads have no worker process to kill")
    ann = live_job(manager, LONG, owner="ann")
    wait_until(lambda: steps_of(ann) > 5, what="ann's run trains")
    assert manager.wait(manager.submit(QUICK, owner="bob").id, timeout=60).status == "finished"  # on the other
    os.kill(ann._trainer.pid, signal.SIGKILL)  # the process that trains ann's run
    snap = manager.wait(ann.id, timeout=30)
    assert snap.status == "failed" and snap.message.startswith(WORKER_LOST)
    assert manager.store.load(snap.run_id).status == "failed"
    # A fresh worker takes the lost one's place: the pool trains two runs at once again.
    later = [live_job(manager, QUICK, owner=o) for o in ("cy", "dee")]
    assert [manager.wait(job.id, timeout=120).status for job in later] == ["finished", "finished"]
    wait_until(lambda: len(executor.pids) == 2, timeout=120, what="the pool is full again")


def thread_nices(pid: int) -> list[int]:
    """The nice value of each thread of process `pid` (on Linux each thread has its own)."""
    nices = []
    for thread in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):  # a thread that ended since the listing
            nices.append(os.getpriority(os.PRIO_PROCESS, int(thread)))
    return nices


def test_workers_start_at_the_servers_priority_and_nice_only_their_training(executor, manager):
    # Ray started its actors at nice 15: beside two busy loops none had imported torch after four minutes.
    if executor.kind == "threads":
        pytest.skip("threads have no worker process")
    job = live_job(manager, LONG, owner="ann")
    wait_until(lambda: steps_of(job) > 5, what="the run trains")
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    processes = [pid if isinstance(pid, int) else pid[0] for pid in (*executor.pids, *executor.helper_pids)]
    assert [os.getpriority(os.PRIO_PROCESS, pid) for pid in processes] == [ours] * len(processes)
    assert max(thread_nices(job._trainer.pid)) == DEFAULT_WORKER_NICE
    manager.stop(job.id, "ann")


# --- choosing, and the server restarting ---------------------------------------------------------------------
def test_the_executor_is_chosen_by_one_setting(data):
    assert executor_kind({}) == "local" and executor_kind({"MNIST_LAB_EXECUTOR": "Ray"}) == "ray"
    assert executor_kind({"MNIST_LAB_EXECUTOR": "cloud"}) == "local"
    assert isinstance(make_executor(data, 3, {"MNIST_LAB_EXECUTOR": "threads"}), ThreadExecutor)
    local = make_executor(data, 3, {})
    assert isinstance(local, LocalExecutor) and local.capacity().slots == 3
    assert make_executor(data, None, {}).capacity().slots == os.cpu_count()  # one worker per core
    assert make_executor(data, None, {"MNIST_LAB_MAX_CONCURRENT_RUNS": "1"}).capacity().slots == 1
    assert make_executor(data, None, {"MNIST_LAB_EXECUTOR": "threads"}).capacity().slots == 1


def test_an_unreachable_ray_falls_back_to_local_workers_with_one_message(data, monkeypatch):
    from core.lab.executors.ray_actors import RayExecutor

    def unreachable(self):
        raise ConnectionError("no Ray cluster at 10.0.0.9:6379")

    monkeypatch.setattr(RayExecutor, "_init_ray", unreachable)
    made = make_executor(data, 1, {"MNIST_LAB_EXECUTOR": "ray"})
    made.ensure_started()
    try:
        assert made.capacity().kind == "local" and "could not be reached" in made.notice
        assert "10.0.0.9:6379" in made.notice
    finally:
        made.close()


KILLED_SERVER = textwrap.dedent("""
    import sys, time
    sys.path[:0] = [{repo!r}, {tests!r}]
    from conftest import random_mnist
    import os
    os.environ["MNIST_LAB_EXECUTOR"] = "local"  # as a web server has it (conftest sets threads for tests)
    from core.engine.config import TrainConfig
    from core.lab.jobs import JobManager
    from core.engine.run_store import RunStore
    manager = JobManager(RunStore({runs!r}), data=random_mnist(500, 100))
    manager.submit(TrainConfig(epochs=100, batch_size=1, train_subset=500), owner="ann")
    time.sleep(600)
""")


KILLED_MID_FINDER = textwrap.dedent("""
    import sys, time
    sys.path[:0] = [{repo!r}, {tests!r}]
    from conftest import random_mnist
    from core.engine.config import TrainConfig
    from core.engine.run_store import RunStore
    from core.lab.executors.local import LocalExecutor
    from core.lab.jobs import JobManager
    executor = LocalExecutor(random_mnist(2000, 100), slots=1)
    manager = JobManager(RunStore({runs!r}), executor=executor)
    executor.ensure_started()
    manager.start_finder(TrainConfig(batch_size=1024, hidden=(1024, 1024, 1024)), "ann")  # minutes of steps
    print("finding", flush=True)
    time.sleep(600)
""")


def test_a_server_killed_mid_finder_leaves_no_worker_or_helper(tmp_path):
    import psutil

    script = KILLED_MID_FINDER.format(repo=str(REPO), tests=str(REPO / "tests"), runs=str(tmp_path / "runs"))
    server = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)},
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "finding"
        children = psutil.Process(server.pid).children(recursive=True)
        assert len(children) == 4  # the zygote, and the workers it forked: one training worker, two finder helpers
        # Warm-up is over ("finding" comes after it): CPU the workers spend from now on is the finder's.
        cpu = lambda: sum(sum(child.cpu_times()[:2]) for child in children)  # noqa: E731
        began = cpu()
        wait_until(lambda: cpu() > began + 1.0, timeout=60, what="a helper busy with the finder")
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, [p.pid for p in alive]


def test_a_killed_server_leaves_its_run_interrupted_and_no_worker_behind(tmp_path):
    import psutil

    runs = tmp_path / "runs"
    script = KILLED_SERVER.format(repo=str(REPO), tests=str(REPO / "tests"), runs=str(runs))
    server = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        wait_until(lambda: list(runs.glob("*/epochs.json")), timeout=120, what="the first epoch on disk")
        workers = psutil.Process(server.pid).children(recursive=True)  # the zygote and the workers it forked
        assert len(workers) >= 2  # the run trains in a worker process, not in the server
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    # The zygote and its workers go with the server: nothing keeps training for a server that is gone.
    gone, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive
    (run_dir,) = runs.iterdir()
    store = RunStore(runs)
    run = store.load(run_dir.name)
    assert run.status == "interrupted" and len(run.epochs) >= 1
    store.mark_interrupted()  # what a starting server does: reading alone never writes
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
