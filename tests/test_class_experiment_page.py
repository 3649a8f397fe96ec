"""The class experiment and the instructor's live view through AppTest: several sessions on one server."""

import csv
import io
import json
from dataclasses import replace
from types import SimpleNamespace

import pytest

from core.engine.curves import loss_curve
from core.engine.presets import QUICK
from core.engine.run_store import RunStore
from core.engine.status import Status
from core.lab.classroom import CLASS_FILE, ClassRoom
from core.lab.instructor_token import TOKEN_ENV
from core.lessons.experiment import STALE_S
from pages.ui.common import OWNER
from tests.fake_runs import save_finished_run

PAGE = "pages/class.py"
TOKEN = "a-long-instructor-token-for-tests"
LRS = [0.001, 0.0074, 0.0548, 0.405, 3.0]  # the helper's default: 0.001 to 3, 5 values, log


@pytest.fixture
def instructor(lab, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    at = lab(PAGE)
    at.text_input(key="class_token").set_value(TOKEN)
    next(b for b in at.button if b.label == "Unlock").click().run()
    assert not at.exception
    return at


def value_of(runs_dir, at):
    """The experiment value this session's student holds (None: none)."""
    return ClassRoom(runs_dir).state().experiment.value_of(at.session_state[OWNER])


def start_lr_experiment(at):
    at.selectbox(key="class_x_setting").set_value("lr").run()
    at.selectbox(key="class_x_base").set_value("Quick").run()
    at.button(key="class_x_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def test_the_instructor_is_handed_no_value_on_the_settings_pages(instructor, runs_dir):
    start_lr_experiment(instructor)
    instructor.switch_page("pages/hyperparameters.py").run()
    assert not next(e for e in instructor.select_slider if e.key == "hp_lr").disabled  # any rate, to show the class
    instructor.switch_page("pages/train.py").run()
    assert not instructor.exception
    # Her own run at a rate no student holds (the experiment's other settings): queued, and it takes no student's
    # value either.
    instructor.session_state["lab_config"] = replace(QUICK, lr=0.02)
    instructor.button(key="train_start").click().run()
    assert not instructor.exception and not instructor.error, [e.value for e in instructor.error]
    for stop in [b for b in instructor.button if b.key == "job_stop"]:  # none once the run has ended
        stop.click().run()
    holders = json.loads((runs_dir / CLASS_FILE).read_text())["experiment"]["holders"]
    assert holders == []  # the instructor is no student of the experiment


def test_students_get_the_next_value_see_it_fixed_and_the_class_page_plots_the_results(lab, instructor, runs_dir):
    start_lr_experiment(instructor)
    saved = json.loads((runs_dir / CLASS_FILE).read_text())
    assert saved["experiment"]["values"] == LRS and saved["locked"] == {}
    assert saved["experiment"]["fixed"]["epochs"] == QUICK.epochs and "seed" not in saved["experiment"]["fixed"]

    ann = lab(PAGE)
    ann.button(key="class_x_join").click().run()
    ann_lr = value_of(runs_dir, ann)
    assert f"Your instructor's experiment on the learning rate gave you {ann_lr:g}." in ann.success[0].value
    bob = lab("pages/hyperparameters.py")  # opening Hyperparameters joins: another value, shown fixed
    bob_lr = value_of(runs_dir, bob)
    assert bob_lr in LRS and bob_lr != ann_lr and any(f"gave you {bob_lr:g}" in i.value for i in bob.info)
    lr = next(e for e in bob.select_slider if e.key == "hp_lr")
    assert lr.disabled and lr.value == bob_lr
    ann.run()  # a refresh keeps the value
    assert f"gave you {ann_lr:g}." in ann.success[0].value

    store = RunStore(runs_dir)
    for i, lr in enumerate([0.001, 0.001, 0.0074, 3.0]):
        save_finished_run(store, replace(QUICK, lr=lr, seed=i), f"S{i}", [91.0, 93.0, 95.0, 10.0][i])
    ann.run()
    assert ("4 runs so far. 0.001: 2 runs, median 92.0 %; 0.0074: 1 run, median 95.0 %; 0.0548: no run yet; "
            "0.405: no run yet; 3: 1 run, median 10.0 %.") in [m.value for m in ann.markdown]
    charts = {c.proto.id: json.loads(c.proto.spec) for c in ann.get("plotly_chart")}
    points = next(spec for spec in charts.values() if spec["layout"].get("yaxis", {}).get("title", {}).get("text")
                  == "test accuracy (%)")
    assert points["layout"]["xaxis"]["type"] == "log" and points["data"][1]["name"] == "median"
    assert points["data"][1]["y"] == [92.0, 95.0, 10.0]
    curves = next(spec for spec in charts.values() if spec["layout"]["yaxis"]["title"]["text"] == "loss (smoothed)")
    assert len(curves["data"]) == 4
    found = [spec for spec in charts.values() if spec["data"][0]["type"] == "parcoords"]
    assert found and found[0]["data"][0]["dimensions"][0]["label"] == "Learning rate (log)"
    said = [m.value for m in ann.markdown]  # each chart in words, from the same runs
    assert ("Test accuracy by learning rate: 0.001: 2 runs, 91.0 % to 93.0 %, median 92.0 %; 0.0074: 1 run, 95.0 %; "
            "3: 1 run, 10.0 %. The best median is 0.0074 (95.0 %), the worst 3 (10.0 %).") in said
    assert any(s.startswith("Where each run's smoothed loss ended, by learning rate: 0.001 (2 runs): ") for s in said)
    assert any(s.startswith("4 finished runs, one line each through the settings that differ between them "
                            "(learning rate), to a test accuracy from 10.0 % to 95.0 %. The best run (95.0 %) had "
                            "learning rate 0.0074; the worst (10.0 %) learning rate 3.") for s in said)
    assert all(chart.proto.alt for chart in ann.get("plotly_chart"))

    bob.switch_page("pages/train.py").run()
    bob.session_state["lab_config"] = replace(QUICK, lr=0.5)  # a session holding another value: refused in core
    bob.button(key="train_start").click().run()
    assert any(f"gave you {bob_lr:g}, and this run has 0.5" in e.value for e in bob.error)

    instructor.button(key="class_x_end").click().run()
    assert "The experiment has ended" in instructor.success[0].value
    ann.run()
    assert "Ended class experiments" in [h.value for h in ann.header]
    assert any(d.proto.label == "Download its runs (CSV)" for d in ann.get("download_button"))
    state = json.loads((runs_dir / CLASS_FILE).read_text())
    assert state["experiment"] is None and state["past_experiments"][0]["values"] == LRS


def test_a_value_is_the_students_for_the_experiments_life_and_only_the_instructor_frees_it(lab, instructor, runs_dir):
    start_lr_experiment(instructor)
    ann = lab(PAGE)
    ann.button(key="class_x_join").click().run()
    assert value_of(runs_dir, ann) in LRS
    assert not any(b.key == "class_x_leave" for b in ann.button)  # no leaving and rejoining for another value
    instructor.run()
    assert instructor.button(key="class_x_free").disabled  # nobody is away
    assert any("1 student hold a value, 0 of them not seen for 10 minutes" in c.value for c in instructor.caption)

    # Ann is away for more than 10 minutes: her value stays hers until the instructor frees it.
    room = ClassRoom(runs_dir)
    room.update(lambda state: replace(state, experiment=replace(state.experiment, holders=tuple(
        (who, index, seen - STALE_S - 1) for who, index, seen in state.experiment.holders))))
    instructor.run()
    assert any("1 of them not seen for 10 minutes" in c.value for c in instructor.caption)
    instructor.button(key="class_x_free").click().run()
    assert "Freed the values of students not seen for 10 minutes" in instructor.success[0].value
    assert room.state().experiment.holders == ()
    ann.run()  # back, she joins again
    assert ann.button(key="class_x_join") and value_of(runs_dir, ann) is None


def test_a_bad_range_is_refused_in_words(instructor, runs_dir):
    instructor.selectbox(key="class_x_setting").set_value("lr").run()
    instructor.number_input(key="class_x_from_lr").set_value(0.5)
    instructor.number_input(key="class_x_to_lr").set_value(0.1)
    instructor.button(key="class_x_start").click().run()
    assert "“From” must be below “to”." in instructor.error[0].value
    assert not (runs_dir / CLASS_FILE).exists() or json.loads((runs_dir / CLASS_FILE).read_text())["experiment"] is None


def snapshot(lr: float, losses: list[float], status=Status.RUNNING):
    return SimpleNamespace(curve=loss_curve(losses), epoch_metrics=(), config=replace(QUICK, lr=lr), status=status,
                           epoch=1, epochs=1, progress=0.5)


def test_the_live_view_shows_every_run_with_the_doctors_verdict_and_counts_for_the_instructor_only(
        lab, instructor, monkeypatch):
    from pages.ui import services

    live = [(snapshot(lr, [2.3 + i * 0.05 for i in range(150)]), f"Div{k}") for k, lr in enumerate((1.0, 3.0))]
    live += [(snapshot(0.05, [2.3 - i * 0.012 for i in range(150)]), "Fine")]
    monkeypatch.setattr(type(services.lab()), "live_snapshots", lambda self: live)
    instructor.run()
    assert "2 diverging, all with learning rate ≥ 1; 1 still learning, learning rate 0.05." in [
        i.value for i in instructor.info]
    frame = instructor.dataframe[-1].value
    assert list(frame["student"]) == ["Div0", "Div1", "Fine"] and list(frame["doctor"])[0] == "diverging"
    student = lab(PAGE)
    assert "The class's runs now" not in [s.value for s in student.subheader]
    assert student.session_state[OWNER] != instructor.session_state[OWNER]


def test_the_csv_of_an_experiment_lists_its_runs(lab, instructor, runs_dir):
    start_lr_experiment(instructor)
    run_id = save_finished_run(RunStore(runs_dir), replace(QUICK, lr=3.0), "Zed", 11.0, seconds=4.0)
    instructor.run()
    assert any(d.proto.label == "Download its runs (CSV)" for d in instructor.get("download_button"))
    from core.views.board import BoardReader
    from core.views.class_findings import experiment_csv

    experiment = ClassRoom(runs_dir).state().experiment
    rows = list(csv.reader(io.StringIO(experiment_csv(experiment, BoardReader(RunStore(runs_dir)).entries()))))
    assert rows[1] == ["3.0", "Zed", "11.00", str(QUICK.epochs), "4.0", run_id, "finished"]
