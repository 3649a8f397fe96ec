"""The class experiment in core: values handed out as students join and leave, kept in class.json under its lock
(two server processes agree), the gate that knows the owner, and the experiment's runs and CSV."""

import csv
import io
from dataclasses import replace

import pytest

from core.engine.presets import LECTURE, QUICK
from core.engine.runs import RunStore
from core.lab.classroom import ClassRoom
from core.lab.jobs import JobManager, RunRefused
from core.lessons.experiment import STALE_S, Experiment, value_ladder
from core.views.board import BoardReader
from core.views.class_findings import (
    CSV_COLUMNS,
    experiment_csv,
    experiment_entries,
    experiment_figure,
    experiment_summary,
)
from tests.fake_runs import save_diverged_run, save_finished_run

LRS = (0.001, 0.03, 1.0)


def test_the_ladder_helper_spaces_values_on_a_log_or_linear_scale_and_refuses_bad_ranges():
    assert value_ladder(0.001, 3, 5, log=True) == (0.001, 0.0074, 0.0548, 0.405, 3.0)
    assert value_ladder(0, 0.8, 5, log=False) == (0.0, 0.2, 0.4, 0.6, 0.8)
    assert value_ladder(16, 256, 5, log=True, integer=True) == (16, 32, 64, 128, 256)
    for low, high, count, log in [(1, 1, 3, False), (0, 1, 3, True), (0.1, 1, 1, True), (0.1, 1, 50, True)]:
        with pytest.raises(ValueError):
            value_ladder(low, high, count, log)


def test_values_go_round_robin_a_student_keeps_theirs_and_a_leavers_value_goes_to_the_next(tmp_path):
    room = ClassRoom(tmp_path)
    room.start_experiment("lr", LRS, LECTURE.to_dict(), now=100.0)
    assert [room.join_experiment(who, now=110.0) for who in ("ann", "bob", "cy", "dee")] == [*LRS, 0.001]
    assert room.join_experiment("bob", now=120.0) == 0.03  # a refresh keeps the value
    room.leave_experiment("bob")
    assert room.join_experiment("eve", now=130.0) == 0.03  # bob's freed value
    # Not seen for STALE_S: cy's value (1.0) goes to the next joiner; the others, seen, keep theirs.
    for who in ("ann", "dee", "eve"):
        room.join_experiment(who, now=100.0 + STALE_S)
    assert room.join_experiment("fay", now=115.0 + STALE_S) == 1.0
    # A second server process on the same folder reads the same hand-out.
    other = ClassRoom(tmp_path)
    assert other.state().experiment.value_of("fay") == 1.0 and other.state().experiment.value_of("cy") is None


def test_the_gate_refuses_another_value_in_words_and_the_locks_fix_every_other_setting(tmp_path):
    room = ClassRoom(tmp_path)
    room.start_experiment("lr", LRS, QUICK.to_dict(), now=100.0)
    value = room.join_experiment("ann")
    mine = replace(QUICK, lr=value, seed=7)  # the seed stays free
    assert room.experiment_problem(mine, "ann") is None and room.lock_problem(mine) is None
    refused = room.experiment_problem(replace(mine, lr=0.5), "ann")
    assert refused.startswith("Your instructor's experiment on the learning rate gave you 0.001, and this run has 0.5")
    assert "Epochs" in room.lock_problem(replace(mine, epochs=QUICK.epochs + 1))
    assert room.locked_config_for("ann", replace(QUICK, lr=0.2, epochs=9)) == replace(QUICK, lr=value)
    # A student who never opened a page is given a value by the gate itself, and held to it.
    assert room.experiment_problem(replace(QUICK, lr=0.03), "newcomer") is None
    assert room.state().experiment.value_of("newcomer") == 0.03


def test_the_job_manager_asks_the_owner_gate_with_the_owner(tmp_path, make_random_mnist):
    room = ClassRoom(tmp_path / "runs")
    room.start_experiment("lr", LRS, QUICK.to_dict())
    manager = JobManager(RunStore(tmp_path / "runs"), data=make_random_mnist(), gates=[room.lock_problem],
                         owner_gates=[room.experiment_problem])
    try:
        room.join_experiment("ann")
        with pytest.raises(RunRefused, match="gave you 0.001"):
            manager.submit(replace(QUICK, lr=0.03), "ann")
        assert manager.live_snapshots() == []
        job = manager.submit(replace(QUICK, lr=0.001, epochs=QUICK.epochs), "ann", student="Ann")
        assert [(snap.id, student) for snap, student in manager.live_snapshots()] == [(job.id, "Ann")]
        manager.stop(job.id, "ann")
        manager.wait(job.id, timeout=30)
        assert manager.live_snapshots() == []
    finally:
        manager.shutdown()


def test_an_instructors_lock_on_the_varied_setting_gives_way_to_each_students_value(tmp_path):
    room = ClassRoom(tmp_path)
    room.lock({"lr": 0.01, "optimizer": "sgd"})
    room.start_experiment("lr", LRS, replace(QUICK, optimizer="sgd").to_dict())
    value = room.join_experiment("ann")
    mine = replace(QUICK, optimizer="sgd", lr=value)
    assert room.lock_problem(mine) is None and room.experiment_problem(mine, "ann") is None


def test_an_ended_experiment_is_kept_with_its_runs_and_csv(tmp_path):
    room, store = ClassRoom(tmp_path), RunStore(tmp_path)
    save_finished_run(store, replace(QUICK, lr=0.03), "Early", 90.0)  # before the experiment: not one of its runs
    room.start_experiment("lr", LRS, QUICK.to_dict())
    ids = [save_finished_run(store, replace(QUICK, lr=lr, seed=i), f"S{i}", 80.0 + i) for i, lr in enumerate(LRS)]
    save_finished_run(store, replace(QUICK, lr=0.03, epochs=9), "Other", 99.0)  # not its fixed settings
    state = room.end_experiment()
    assert state.experiment is None and len(state.past_experiments) == 1
    with pytest.raises(ValueError, match="No class experiment"):
        room.end_experiment()
    past = ClassRoom(tmp_path).state().past_experiments[0]
    assert past.ended is not None and past.values == LRS
    entries = BoardReader(store).entries()
    assert [e.run_id for e in experiment_entries(past, entries)] == ids
    rows = list(csv.reader(io.StringIO(experiment_csv(past, entries))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row[:3] + row[5:] for row in rows[1:]] == [[str(lr), f"S{i}", f"{80.0 + i:.2f}", ids[i], "finished"]
                                                      for i, lr in enumerate(LRS)]


def test_a_diverged_run_is_one_of_the_experiments_results_in_its_chart_summary_and_csv(tmp_path):
    # The learning rate that blows the loss up is the lesson: its runs are shown as diverged, not left out.
    room, store = ClassRoom(tmp_path), RunStore(tmp_path)
    room.start_experiment("lr", LRS, QUICK.to_dict())
    finished = save_finished_run(store, replace(QUICK, lr=0.03), "Ann", 95.0)
    diverged = save_diverged_run(store, replace(QUICK, lr=1.0), "Bob")
    experiment = room.state().experiment
    assert [e.run_id for e in BoardReader(store).entries()] == [finished]  # the board: finished runs only
    runs = experiment_entries(experiment, BoardReader(store).entries(diverged=True))
    assert [e.run_id for e in runs] == [finished, diverged]
    rows = list(csv.reader(io.StringIO(experiment_csv(experiment, runs))))
    assert rows[2][:3] == ["1.0", "Bob", ""] and rows[2][5:] == [diverged, "diverged"]
    summary = experiment_summary(experiment, runs)
    assert "0.03: 1 run, median 95.0 %" in summary and "1: 1 run, all diverged" in summary, summary
    crosses = [trace for trace in experiment_figure(experiment, runs).data if trace.name.startswith("diverged")]
    assert [(list(t.x), list(t.y)) for t in crosses] == [([1.0], [0.0])]


def test_a_damaged_experiment_in_class_json_is_named_and_left_out(tmp_path):
    (tmp_path / "class.json").write_text('{"experiment": {"setting": "lr", "values": [0.1]}, "version": 3}')
    state = ClassRoom(tmp_path).state()
    assert state.experiment is None and "the class experiment" in state.problem


def test_an_experiment_refuses_a_setting_or_value_it_cannot_vary():
    with pytest.raises(ValueError, match="can vary one of"):
        Experiment.new("seed", (1, 2), LECTURE.to_dict(), 0.0)
    with pytest.raises(ValueError, match="between 2"):
        Experiment.new("lr", (0.1, 0.1), LECTURE.to_dict(), 0.0)
    with pytest.raises(ValueError):
        Experiment.new("lr", (0.1, 500.0), LECTURE.to_dict(), 0.0)
