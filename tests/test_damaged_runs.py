"""Damaged runs: a run whose files are broken is listed as damaged, says why, and never hides or breaks another.

One real short run is trained once for the module; each test copies it into its own runs folder and damages
the copy's files the way a full disk, a crash or a hand edit would.
"""

import json
import math
import random
import shutil
from pathlib import Path

import pytest
import streamlit as st

from core.engine.config import TrainConfig
from core.engine.curves import loss_curve
from core.engine.run_store import RunStore
from core.engine.trainer import Trainer
from core.lab.jobs import JobManager
from core.views import mistakes_view
from core.views.history import history_rows, run_title
from tests.lab_helpers import open_app_page

GOOD, BAD = "20250101-120000-0001", "20250102-120000-0002"  # the damaged run is the newer one
FILES = ("run.json", "epochs.json", "steps.json", "model.pt", "predictions.npz")
WRONG_VALUES = ([], {}, None, "x", "", 1, -1, 1.5, True, 10**400, [[1]], {"a": None}, "running")


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory, mnist) -> Path:
    """The folder of a real finished run (one epoch on 500 images)."""
    store = RunStore(tmp_path_factory.mktemp("template"))
    config = TrainConfig(epochs=1, batch_size=50, train_subset=500)
    recorder = store.create(config, label="good")
    Trainer(config, mnist, callbacks=[recorder]).fit()
    return recorder.path


@pytest.fixture
def runs(tmp_path, saved_run) -> Path:
    """A runs folder with two copies of the saved run: GOOD, and BAD for a test to damage."""
    root = tmp_path / "runs"
    for run_id in (GOOD, BAD):
        copy_run(saved_run, root / run_id)
    return root


def copy_run(source: Path, path: Path) -> None:
    """A copy of a run under another id, as if it had been trained under that id."""
    shutil.copytree(source, path)
    write(path.parent, "run.json", {**record(source.parent, source.name), "id": path.name}, run_id=path.name)


def write(root: Path, name: str, content, run_id: str = BAD) -> None:
    """Put `content` (JSON-able, or raw bytes) in one file of a run."""
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    (root / run_id / name).write_bytes(data)


def record(root: Path, run_id: str = BAD) -> dict:
    return json.loads((root / run_id / "run.json").read_text())


def views_of(run) -> tuple:
    """Everything the pages show of one run; each must work on any run."""
    return (history_rows([run])[0], run_title(run.record), mistakes_view.run_option_line(run),
            loss_curve(run.steps), run.metrics_csv())


def loaded(root: Path) -> dict:
    return {run.id: run for run in RunStore(root).list()}


# --- run.json ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "problem"), [
    ({}, "run.json has no status"),
    ([], "run.json is not a JSON object"),
    (None, "run.json is not a JSON object"),
    ("x", "run.json is not a JSON object"),
    (b'{"status": "finished", "conf', "run.json could not be read"),
    (b"\xff\xfe\x00garbage", "run.json could not be read"),
])
def test_an_unusable_run_json_is_listed_as_damaged_beside_the_good_run(runs, content, problem):
    write(runs, "run.json", content)
    by_id = loaded(runs)
    assert set(by_id) == {GOOD, BAD}
    bad = by_id[BAD]
    assert bad.status == "damaged" and problem in bad.problem
    assert bad.record["message"].startswith(f"damaged: {problem}")
    assert by_id[GOOD].status == "finished"
    for run in by_id.values():
        views_of(run)
    assert history_rows([bad])[0]["status"] == "damaged"


def test_wrong_types_in_run_json_are_named_and_the_rest_still_shows(runs):
    write(runs, "run.json", {**record(runs), "message": 42, "test_accuracy": "97", "config": [1, 2],
                             "created": "yesterday"})
    bad = loaded(runs)[BAD]
    assert bad.status == "damaged"
    for field in ("message", "test_accuracy", "created"):
        assert f"run.json's {field} is not" in bad.problem
    assert "run.json's config is not a set of settings" in bad.problem
    row, title, picker_title, _, _ = views_of(bad)
    assert row["settings"] == "unreadable settings" and row["epochs"] == "1 of ?"
    assert row["test accuracy (%)"] is None and title.startswith("good (02 Jan")  # the time in the run's id
    assert picker_title.startswith("good · no accuracy") and picker_title.endswith("damaged")
    with pytest.raises(ValueError, match="config"):
        _ = bad.config


def test_invalid_settings_mark_the_run_damaged_and_name_the_setting(runs):
    write(runs, "run.json", {**record(runs), "config": {**record(runs)["config"], "lr": "fast"}})
    bad = loaded(runs)[BAD]
    assert bad.status == "damaged" and bad.problem == "run.json's setting lr is not valid"
    assert history_rows([bad])[0]["settings"] == "unreadable settings"


def test_a_run_json_without_id_or_with_another_runs_id_is_keyed_by_its_folder(runs):
    write(runs, "run.json", {k: v for k, v in record(runs).items() if k != "id"})
    assert set(loaded(runs)) == {GOOD, BAD} and loaded(runs)[BAD].status == "finished"
    write(runs, "run.json", record(runs, GOOD))  # a copy of GOOD's folder, under another name
    by_id = loaded(runs)
    assert set(by_id) == {GOOD, BAD}
    assert [row["id"] for row in history_rows(RunStore(runs).list())] == [BAD, GOOD]


@pytest.mark.parametrize("process", [
    {"pid": "x"}, {"pid": -1}, {"pid": 10**30}, {"pid": True}, {"pid": None}, {"pid_started": "x"},
    {"host": None, "updated": 1.0},  # another machine's writer, silent since 1970
])
def test_a_running_run_with_a_bad_writer_identity_reads_as_interrupted(runs, process):
    write(runs, "run.json", {**record(runs), "status": "running", **process})
    assert loaded(runs)[BAD].status == "interrupted"
    RunStore(runs).mark_interrupted()  # a starting server's step: reading alone never writes
    assert record(runs, BAD)["status"] == "interrupted"  # the verdict is saved


def test_a_running_run_from_another_machine_with_a_damaged_time_is_damaged(runs):
    write(runs, "run.json", {**record(runs), "status": "running", "host": ["h"], "updated": "x"})
    bad = loaded(runs)[BAD]
    assert bad.status == "damaged" and bad.problem == "run.json's updated is not a time"


def test_an_interrupted_run_with_damage_elsewhere_is_damaged_and_left_as_it_was(runs):
    damaged = {**record(runs), "status": "running", "pid": -1, "message": 7}
    write(runs, "run.json", damaged)
    assert loaded(runs)[BAD].status == "damaged"
    RunStore(runs).mark_interrupted()
    assert record(runs, BAD) == damaged  # nothing was rewritten over what is left


def test_a_damaged_run_can_be_deleted(runs):
    write(runs, "run.json", [])
    RunStore(runs).delete(BAD)
    assert set(loaded(runs)) == {GOOD}


def test_recovering_the_jobs_of_a_server_passes_over_damaged_runs(runs):
    write(runs, "run.json", None)
    write(runs, "run.json", {**record(runs, GOOD), "status": "running", "pid": "x"}, run_id=GOOD)
    assert JobManager(RunStore(runs)).recover() == [GOOD]


# --- epochs.json and steps.json -------------------------------------------------------------------------


def test_a_truncated_epochs_json_gives_no_epochs_and_marks_the_run_damaged(runs):
    text = (runs / BAD / "epochs.json").read_bytes()
    write(runs, "epochs.json", text[: len(text) // 2])
    bad = loaded(runs)[BAD]
    assert bad.epochs == []
    assert bad.status == "damaged" and bad.record["message"] == "damaged: epochs.json could not be read"
    assert bad.metrics_csv().splitlines() == ["epoch,train_loss,test_loss,test_accuracy,seconds,eval_seconds,lr"]


def test_epochs_json_keeps_its_good_entries_and_drops_the_rest(runs):
    (epoch,) = json.loads((runs / BAD / "epochs.json").read_text())
    write(runs, "epochs.json", [epoch, 5, "x", None, {"epoch": "2"}, {**epoch, "test_loss": "low"}])
    bad = loaded(runs)[BAD]
    assert bad.epochs == [epoch] and len(bad.metrics_csv().splitlines()) == 2
    assert bad.problem == "epochs.json has entries that are not epochs"
    write(runs, "epochs.json", {"epoch": 1})
    bad = loaded(runs)[BAD]
    assert bad.epochs == [] and bad.problem == "epochs.json is not a list of epochs"


def test_garbage_steps_json_draws_an_empty_or_gapped_curve(runs):
    write(runs, "steps.json", b"\x00\x01 not json")
    bad = loaded(runs)[BAD]
    assert bad.steps == [] and len(loss_curve(bad.steps)) == 0
    assert bad.problem == "steps.json could not be read"
    write(runs, "steps.json", [2.3, "x", None, True, 1.9])
    bad = loaded(runs)[BAD]
    steps = bad.steps
    assert steps[0] == 2.3 and steps[4] == 1.9 and all(math.isnan(v) for v in steps[1:4])
    assert len(loss_curve(steps)) == 5 and bad.status == "damaged"


def test_a_diverged_runs_nan_and_infinite_losses_are_not_damage(runs):
    write(runs, "steps.json", b"[2.3, NaN, Infinity]")
    good = loaded(runs)[BAD]
    assert len(good.steps) == 3 and good.problems == [] and good.status == "finished"


# --- any damage to any file -----------------------------------------------------------------------------


def damage(rng: random.Random, data: bytes, name: str) -> tuple[str, bytes]:
    """One random damage to a file's bytes: truncation, random bytes, or (JSON) a wrong type anywhere."""
    kinds = ["truncate", "random bytes", "flip bytes"]
    if name.endswith(".json"):
        kinds += ["wrong type", "wrong type inside", "wrong type inside"]
    kind = rng.choice(kinds)
    if kind == "truncate":
        return kind, data[: rng.randrange(len(data) + 1)]
    if kind == "random bytes":
        return kind, rng.randbytes(rng.randrange(64))
    if kind == "flip bytes":
        spoiled = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            spoiled[rng.randrange(len(spoiled))] = rng.randrange(256)
        return kind, bytes(spoiled)
    value = json.loads(data)
    if kind == "wrong type":
        return kind, json.dumps(rng.choice(WRONG_VALUES)).encode()
    return kind, json.dumps(_spoil_inside(rng, value)).encode()


def _spoil_inside(rng: random.Random, value):
    # One key (run.json, or an entry of epochs.json) or one list item gets a value of the wrong type.
    if isinstance(value, list) and value:
        value = list(value)
        index = rng.randrange(len(value))
        inner = value[index]
        value[index] = _spoil_inside(rng, inner) if isinstance(inner, dict) else rng.choice(WRONG_VALUES)
        return value
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        inner = value[key]
        spoil_deeper = isinstance(inner, dict | list) and inner and rng.random() < 0.5
        return {**value, key: _spoil_inside(rng, inner) if spoil_deeper else rng.choice(WRONG_VALUES)}
    return rng.choice(WRONG_VALUES)


def test_no_damage_to_any_file_hides_or_breaks_a_run(runs):
    rng = random.Random(20250101)
    pristine = {name: (runs / BAD / name).read_bytes() for name in FILES}
    good_before = views_of(loaded(runs)[GOOD])
    for case in range(200):
        name = rng.choice(FILES)
        kind, data = damage(rng, pristine[name], name)
        write(runs, name, data)
        where = f"case {case}: {kind} in {name}"
        by_id = loaded(runs)
        assert set(by_id) == {GOOD, BAD}, where
        bad = by_id[BAD]
        # Twice: the second reading starts from whatever the first found damaged, and must not raise either.
        views_of(bad)
        views_of(bad)
        assert (bad.status == "damaged") == bool(bad.problems), where
        assert views_of(by_id[GOOD]) == good_before, where
        write(runs, name, pristine[name])  # undone, for the next case


# --- the pages ------------------------------------------------------------------------------------------


def open_page(page: str):
    return open_app_page(page, timeout=60)


@pytest.fixture
def damaged_lab(tmp_path, saved_run, monkeypatch):
    """A runs folder with the good run and three damaged ones, served to AppTests."""
    root = tmp_path / "runs"
    ids = [GOOD, BAD, "20250103-120000-0003", "20250104-120000-0004"]
    for run_id in ids:
        copy_run(saved_run, root / run_id)
    write(root, "run.json", [], run_id=ids[1])
    write(root, "run.json", {**record(root, ids[2]), "config": [], "created": "yesterday", "message": 3},
          run_id=ids[2])
    write(root, "predictions.npz", b"PK\x03\x04 cut short", run_id=ids[2])
    write(root, "run.json", {**record(root, ids[3]), "label": "bad curve"}, run_id=ids[3])  # titles must differ
    write(root, "steps.json", {"loss": "high"}, run_id=ids[3])
    write(root, "epochs.json", b"[{", run_id=ids[3])
    monkeypatch.setenv("MNIST_LAB_RUNS", str(root))
    st.cache_resource.clear()
    yield ids
    from pages.ui import services

    services.lab().shutdown()
    st.cache_resource.clear()


def test_home_train_and_mistakes_work_beside_damaged_runs(damaged_lab):
    open_page("pages/home.py")
    at = open_page("pages/train.py")
    at.multiselect(key="history_compare").set_value(damaged_lab).run()
    assert not at.exception, at.exception
    for run_id in damaged_lab:
        at.selectbox(key="history_run").set_value(run_id).run()
        assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "epochs.json could not be read" in captions
    assert "steps.json is not a list of losses" in captions

    at = open_page("pages/mistakes.py")
    picker = at.selectbox(key="mk_run")
    assert picker.value == GOOD  # the newest finished run; the damaged ones are still offered
    assert set(picker.options) >= {picker.format_func(GOOD), picker.format_func(damaged_lab[2])}
    picker.set_value(damaged_lab[2]).run()
    assert not at.exception, at.exception
    assert "cannot be read" in at.error[0].value


# --- reading never writes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", [
    {"run.json": {"status": "running", "pid": -1}},  # interrupted: its writer is gone
    {"run.json": {"status": "running", "pid": -1, "message": 7}},  # interrupted and damaged
    {"steps.json": b"\x00 not json"},  # finished, with a damaged steps.json
    {"run.json": {"report_card": {"test_accuracy": "x"}}},  # finished, with a damaged report card
])
def test_loading_a_run_twice_leaves_its_files_as_they_were_and_its_status_as_first_read(runs, damage):
    for name, content in damage.items():
        write(runs, name, {**record(runs), **content} if name == "run.json" else content)
    before = {name: (runs / BAD / name).read_bytes() for name in FILES}
    first, second = RunStore(runs).load(BAD), RunStore(runs).load(BAD)
    assert first.status == second.status != "finished"  # judged at once, never flipped by a later read
    _ = first.steps, first.epochs, first.report_card, first.diagnosis(), RunStore(runs).list()
    assert first.status == second.status and first.problems == second.problems
    assert {name: (runs / BAD / name).read_bytes() for name in FILES} == before
