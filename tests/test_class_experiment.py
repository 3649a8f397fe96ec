"""The class experiment in core: values handed out as students join, each kept for the experiment's life and freed
only by the instructor, in class.json under its lock (two server processes agree), the gate that knows the owner,
and the experiment's runs and CSV."""

import csv
import io
from dataclasses import replace

import pytest

from core.engine.presets import LECTURE, QUICK
from core.engine.run_store import RunStore
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


def test_values_are_balanced_and_a_student_keeps_theirs_on_every_visit(tmp_path):
    room = ClassRoom(tmp_path)
    room.start_experiment("lr", LRS, LECTURE.to_dict(), now=100.0)
    first = [room.join_experiment(who, now=110.0) for who in ("ann", "bob", "cy")]
    assert sorted(first) == sorted(LRS)  # the first three students get the three values, one each
    assert room.join_experiment("dee", now=110.0) in LRS
    assert room.join_experiment("bob", now=120.0) == first[1]  # a refresh keeps the value
    for who in ("eve", "fay", "gus", "hal", "ivy"):
        room.join_experiment(who, now=130.0)
    holders = room.state().experiment.holders
    assert sorted(sum(i == index for _, i, _ in holders) for index in range(len(LRS))) == [3, 3, 3]
    # A second server process on the same folder reads the same hand-out.
    other = ClassRoom(tmp_path)
    assert [other.state().experiment.value_of(who) for who in ("ann", "bob", "cy")] == first


def test_away_and_back_a_student_has_their_value_whoever_joined_meanwhile(tmp_path):
    # The probe: values freed by leaving (or by 10 minutes away) let a student rejoin for the value they wanted,
    # once a second identity had taken the one they did not want.
    room = ClassRoom(tmp_path)
    room.start_experiment("lr", LRS, LECTURE.to_dict(), now=100.0)
    mine = room.join_experiment("ann", now=110.0)
    for i, who in enumerate(("throwaway", "bob", "cy", "dee", "eve")):
        room.join_experiment(who, now=110.0 + STALE_S + i)
    assert room.join_experiment("ann", now=120.0 + STALE_S) == mine  # the others are still here
    assert room.state().experiment.value_of("throwaway") is not None  # it holds its value until the instructor acts


def test_a_throwaway_identitys_value_does_not_tell_which_value_comes_next():
    # With the earliest value first, a throwaway that got 0.001 told its owner that the next joiner gets 0.03.
    after = {value: set() for value in LRS}
    for _ in range(60):
        experiment = Experiment.new("lr", LRS, QUICK.to_dict(), now=0.0).joined("throwaway", now=1.0)
        experiment = experiment.joined("ann", now=2.0)
        after[experiment.value_of("throwaway")].add(experiment.value_of("ann"))
    # Whatever the throwaway got, the next student got either of the two other values (each chance 1 in 2).
    assert after == {value: set(LRS) - {value} for value in LRS}


def test_only_the_instructor_frees_the_values_of_students_away(tmp_path):
    room = ClassRoom(tmp_path)
    room.start_experiment("lr", LRS, LECTURE.to_dict(), now=100.0)
    for who in ("ann", "bob"):
        room.join_experiment(who, now=100.0)
    later = 100.0 + STALE_S + 5
    cy = room.join_experiment("cy", now=later)  # ann and bob, away, still hold theirs: cy gets the third value
    experiment = room.state().experiment
    assert {experiment.value_of("ann"), experiment.value_of("bob"), cy} == set(LRS) and experiment.away(later) == 2
    state = room.free_away_values(now=later)
    assert [who for who, _, _ in state.experiment.holders] == ["cy"] and state.experiment.away(later) == 0
    assert room.join_experiment("ann", now=later + 1) in set(LRS) - {cy}  # back, she joins again
    room.end_experiment()
    with pytest.raises(ValueError, match="No class experiment"):
        room.free_away_values()


def test_the_gate_refuses_another_value_in_words_and_the_locks_fix_every_other_setting(tmp_path):
    room = ClassRoom(tmp_path)
    room.start_experiment("lr", LRS, QUICK.to_dict(), now=100.0)
    value = room.join_experiment("ann")
    mine = replace(QUICK, lr=value, seed=7)  # the seed stays free
    assert room.experiment_problem(mine, "ann") is None and room.lock_problem(mine) is None
    refused = room.experiment_problem(replace(mine, lr=0.5), "ann")
    assert refused.startswith(f"Your instructor's experiment on the learning rate gave you {value:g}, and this run "
                              "has 0.5")
    assert "Epochs" in room.lock_problem(replace(mine, epochs=QUICK.epochs + 1))
    assert room.locked_config_for("ann", replace(QUICK, lr=0.2, epochs=9)) == replace(QUICK, lr=value)
    # A student who never opened a page is given a value by the gate itself, and held to it.
    problem = room.experiment_problem(replace(QUICK, lr=0.5), "newcomer")
    given = room.state().experiment.value_of("newcomer")
    assert given in LRS and given != value and f"gave you {given:g}, and this run has 0.5" in problem


def test_the_job_manager_asks_the_owner_gate_with_the_owner(tmp_path, make_random_mnist):
    room = ClassRoom(tmp_path / "runs")
    room.start_experiment("lr", LRS, QUICK.to_dict())
    manager = JobManager(RunStore(tmp_path / "runs"), data=make_random_mnist(), gates=[room.lock_problem],
                         owner_gates=[room.experiment_problem])
    try:
        value = room.join_experiment("ann")
        with pytest.raises(RunRefused, match=f"gave you {value:g}"):
            manager.submit(replace(QUICK, lr=0.5), "ann")
        assert manager.live_snapshots() == []
        job = manager.submit(replace(QUICK, lr=value, epochs=QUICK.epochs), "ann", student="Ann")
        assert [(snap.id, student) for snap, student in manager.live_snapshots()] == [(job.id, "Ann")]
        manager.stop(job.id, "ann")
        manager.wait(job.id, timeout=30)
        assert manager.live_snapshots() == []
    finally:
        manager.shutdown()


def test_the_instructors_run_during_an_experiment_takes_no_students_value(tmp_path):
    room = ClassRoom(tmp_path)
    room.start_experiment("lr", LRS, QUICK.to_dict())
    # The instructor trains with a rate of her own: refused nothing, handed nothing, so no student's value is held.
    assert room.experiment_problem(replace(QUICK, lr=0.5), "teacher", instructor=True) is None
    assert room.state().experiment.value_of("teacher") is None
    assert room.state().experiment.holders == ()
    # The same click from a student's session joins them.
    assert room.experiment_problem(replace(QUICK, lr=0.5), "ann") is not None
    assert room.state().experiment.value_of("ann") in LRS


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
