"""The Class page's core: display names, the challenge's rules, the board's order, the class's saved state,
the instructor token, and the job manager's locks and stop-all. Plain Python, no Streamlit."""

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from core.engine.config import ConfigError, TrainConfig
from core.engine.display_name import MAX_NAME_CHARS, clean_name, is_display_name, name_problem
from core.engine.presets import LECTURE, QUICK
from core.engine.run_store import RunStore, owner_tag
from core.lab.classroom import CLASS_FILE, ClassRoom, ClassState
from core.lab.instructor_token import TOKEN_ENV, instructor_token, proof_matches, token_matches, unlock_proof
from core.lab.jobs import JobManager, RunRefused
from core.lessons.challenge import FIRST_TO, Challenge
from core.views.board import MINE, BoardEntry, BoardReader, board_rows, build_board
from tests.fake_runs import save_finished_run
from tests.lab_helpers import REPO, live_job, wait_until

LECTURE_RULES = Challenge(fixed=(("hidden", [128, 64]), ("optimizer", "sgd")), max_epochs=3)


# --- display names -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Ada", "  Ada Lovelace  ", "<b>bold</b>", "<script>alert(1)</script>",
                                  "[link](http://evil.example)", "**stars**", "Zoë", "李雷", "a" * MAX_NAME_CHARS,
                                  "عائشة"])
def test_names_with_markup_are_accepted_as_text(name):
    assert name_problem(name) is None
    assert clean_name(name) == name.strip()


@pytest.mark.parametrize(("name", "why"), [
    ("", "at least one character"), ("     ", "at least one character"), ("\t\n", "at least one character"),
    ("a" * (MAX_NAME_CHARS + 1), "at most 30 characters"),
    ("evil\u202eoops", "right-to-left"), ("\u200fAnn", "right-to-left"), ("An\u200bn", "zero-width"),
    ("Ann\x1b[31m", "control characters"), ("Ann\nBob", "control characters"), ("Ann\u2028Bob", "control"),
    (None, "must be text"), (42, "must be text"),
])
def test_hostile_names_are_refused_with_a_reason(name, why):
    assert why in name_problem(name)
    assert not is_display_name(name)


def test_a_run_saves_its_cleaned_name_and_only_a_hash_of_its_owner(tmp_path):
    store = RunStore(tmp_path)
    recorder = store.create(QUICK, student="  Ann  ", owner="secret-owner-id")
    saved = json.loads((recorder.path / "run.json").read_text())
    assert saved["student"] == "Ann"
    assert saved["owner_tag"] == owner_tag("secret-owner-id") and "secret-owner-id" not in json.dumps(saved)
    with pytest.raises(ValueError, match="right-to-left"):
        store.create(QUICK, student="\u202eAnn")


def test_a_name_damaged_by_hand_marks_the_run_damaged_and_keeps_it_off_the_board(tmp_path):
    store = RunStore(tmp_path)
    run_id = save_finished_run(store, QUICK, "Ann", 97.0)
    path = tmp_path / run_id / "run.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "student": "\u202eAnn"}))
    run = store.load(run_id)
    assert run.status == "damaged" and "student" in run.problem
    assert BoardReader(store).entries() == []


# --- the challenge's rules ---------------------------------------------------------------------------------------
def test_the_lectures_challenge_accepts_the_lecture_and_names_the_rule_each_run_breaks():
    assert LECTURE_RULES.broken_rule(LECTURE) is None
    assert LECTURE_RULES.broken_rule(replace(LECTURE, lr=0.1, batch_size=128)) is None  # free settings
    adam = replace(LECTURE, optimizer="adam")
    assert LECTURE_RULES.broken_rule(adam) == "Optimizer: SGD is fixed; this run used Adam"
    assert LECTURE_RULES.broken_rule(replace(LECTURE, hidden=(256, 128))) == (
        "Hidden layers: 784 → 128 → 64 → 10 is fixed; this run used 784 → 256 → 128 → 10")
    assert LECTURE_RULES.broken_rule(replace(LECTURE, epochs=4)) == "At most 3 epochs; this run trained 4 epochs"
    assert LECTURE_RULES.rules() == ["Hidden layers: 784 → 128 → 64 → 10 (fixed)", "Optimizer: SGD (fixed)",
                                     "At most 3 epochs"]
    assert LECTURE_RULES.goal_text() == "Highest test accuracy wins"


def test_a_limit_on_network_size_counts_parameters():
    small = Challenge(max_parameters=110_000)
    assert small.broken_rule(LECTURE) is None  # 109,386 parameters
    assert small.broken_rule(QUICK) == "A network of at most 110,000 parameters; this one has 235,146"


def test_a_challenge_survives_json_and_refuses_nonsense():
    first_to = Challenge(goal=FIRST_TO, target=98.0, max_parameters=200_000)
    assert Challenge.from_dict(json.loads(json.dumps(first_to.to_dict()))) == first_to
    assert Challenge.from_dict(LECTURE_RULES.to_dict()) == LECTURE_RULES
    assert first_to.goal_text() == "First to 98 % test accuracy wins"
    with pytest.raises(ValueError):
        Challenge(goal=FIRST_TO)  # no target
    with pytest.raises(ConfigError):
        Challenge(fixed=(("lr", 1e9),))
    with pytest.raises(ConfigError):
        Challenge(fixed=(("no_such_setting", 1),))
    with pytest.raises(ValueError):
        Challenge(max_epochs=0)
    with pytest.raises(ValueError):
        Challenge.from_dict(["not", "a", "challenge"])


# --- the board's order --------------------------------------------------------------------------------------
def entry(name, accuracy, ended, config=LECTURE, created=100.0, tag=""):
    return BoardEntry(f"id-{name}", name, tag, accuracy, config, config.epochs, 10.0, created, ended)


def test_best_first_and_a_tie_goes_to_the_run_that_finished_first():
    board = build_board([entry("c", 95.0, 3), entry("a", 97.0, 5), entry("b", 97.0, 4), entry("d", 90.0, 1)])
    assert [e.student for e in board.ranked] == ["b", "a", "c", "d"]
    assert board.apart == ()


def test_first_to_ranks_the_runs_that_reached_the_target_by_when_they_finished():
    race = Challenge(goal=FIRST_TO, target=97.0)
    board = build_board([entry("late", 99.0, 9), entry("early", 97.5, 2), entry("close", 96.9, 1),
                         entry("far", 80.0, 0)], race)
    assert [e.student for e in board.ranked] == ["early", "late", "close", "far"]


def test_rule_breakers_are_listed_apart_with_their_rule_and_a_fresh_board_hides_older_runs():
    adam = replace(LECTURE, optimizer="adam")
    entries = [entry("ann", 92.0, 5, created=200), entry("bob", 98.0, 6, config=adam, created=200),
               entry("old", 99.0, 1, created=50)]
    board = build_board(entries, LECTURE_RULES, since=100)
    assert [e.student for e in board.ranked] == ["ann"]
    assert [(e.student, rule) for e, rule in board.apart] == [("bob", "Optimizer: SGD is fixed; this run used Adam")]
    assert [e.student for e in build_board(entries).ranked] == ["old", "bob", "ann"]


def test_rows_mark_only_the_students_own_runs():
    board = build_board([entry("ann", 95.0, 1, tag=owner_tag("ann-browser")), entry("bob", 94.0, 2, tag="x")])
    rows = board_rows(board, owner_tag("ann-browser"))
    assert [(r["#"], r["name"], r[""]) for r in rows] == [(1, "ann", MINE), (2, "bob", "")]
    assert rows[0]["settings"] == "the lecture's setup" and rows[0]["test accuracy (%)"] == 95.0
    assert [r[""] for r in board_rows(board, "")] == ["", ""]  # no browser, nothing is "yours"


def test_the_reader_lists_finished_named_runs_and_rereads_only_changed_ones(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    save_finished_run(store, LECTURE, "Ann", 91.0)
    save_finished_run(store, QUICK, "Bob", 97.5)
    store.create(QUICK, student="Cy")  # still running: not on the board
    save_finished_run(store, QUICK, "", 99.0)  # trained without a name: never on the board
    reader = BoardReader(store)
    assert sorted(e.student for e in reader.entries()) == ["Ann", "Bob"]
    loads = []
    real_load = store.load
    monkeypatch.setattr(store, "load", lambda run_id: loads.append(run_id) or real_load(run_id))
    dee = save_finished_run(store, LECTURE, "Dee", 93.0)
    assert sorted(e.student for e in reader.entries()) == ["Ann", "Bob", "Dee"]
    assert loads == [dee]  # only Dee's new run was read; the others were remembered


# --- the class's saved state -------------------------------------------------------------------------------------
def test_the_class_state_is_saved_and_read_back_by_another_process_after_a_restart(tmp_path):
    room = ClassRoom(tmp_path)
    assert room.state() == ClassState()  # nothing set yet
    room.set_challenge(LECTURE_RULES)
    room.lock({"lr": 0.01, "hidden": (128, 64)})
    room.fresh_board(now=1234.5)
    room.set_spotlight("20260101-120000-abcd")
    again = ClassRoom(tmp_path).state()  # a new server process reads the same file
    assert again.challenge == LECTURE_RULES and again.locked_settings == {"lr": 0.01, "hidden": [128, 64]}
    assert (again.board_since, again.spotlight, again.version, again.problem) == (1234.5, "20260101-120000-abcd", 4, "")
    assert not list(tmp_path.glob(".class.json.*"))  # no temporary file left beside it
    room.set_challenge(None)
    room.lock({})
    assert ClassRoom(tmp_path).state().challenge is None and room.state().locked == ()
    with pytest.raises(ValueError):
        room.set_spotlight("../../etc/passwd")
    with pytest.raises(ConfigError):
        room.lock({"lr": -1})


def test_locked_settings_refuse_a_run_that_changes_them_and_set_a_students_settings():
    state = ClassState(locked=(("optimizer", "sgd"), ("lr", 0.01)))
    assert state.lock_problem(LECTURE) is None
    problem = state.lock_problem(QUICK)
    assert "locked" in problem and "Optimizer: SGD (yours: Adam)" in problem
    assert "Learning rate: 0.01 (yours: 0.002)" in problem
    fixed = state.locked_config(QUICK)
    assert (fixed.optimizer, fixed.lr, fixed.hidden) == ("sgd", 0.01, QUICK.hidden)


def test_a_damaged_class_file_is_read_part_by_part_and_the_next_change_repairs_it(tmp_path):
    (tmp_path / CLASS_FILE).write_text(json.dumps({"challenge": {"fixed": {"lr": "fast"}}, "locked": {"lr": 0.01},
                                                   "board_since": "yesterday", "spotlight": "<script>"}))
    state = ClassRoom(tmp_path).state()
    assert state.challenge is None and state.spotlight is None and state.board_since == 0.0
    assert state.locked_settings == {"lr": 0.01}
    assert "challenge" in state.problem and "spotlight" in state.problem
    (tmp_path / CLASS_FILE).write_text("{half a file")
    assert "could not be read" in ClassRoom(tmp_path).state().problem
    ClassRoom(tmp_path).fresh_board(now=5.0)
    assert ClassRoom(tmp_path).state().board_since == 5.0 and ClassRoom(tmp_path).state().problem == ""


CHANGE_THE_CLASS = """
import sys
from core.lab.classroom import ClassRoom
room = ClassRoom(sys.argv[1])
for i in range(int(sys.argv[2])):
    room.fresh_board(now=float(i))
"""


def test_two_instructors_on_two_processes_never_lose_a_change_or_corrupt_the_file(tmp_path):
    # Three processes, as three server processes would be, each changing the class 40 times at once.
    writers = [subprocess.Popen([sys.executable, "-c", CHANGE_THE_CLASS, str(tmp_path), "40"], cwd=REPO)
               for _ in range(3)]
    for writer in writers:
        assert writer.wait(timeout=60) == 0
    state = ClassRoom(tmp_path).state()
    assert state.problem == "" and state.version == 120  # every one of the 120 changes counted, none lost


# --- the instructor token ---------------------------------------------------------------------------------------
def test_the_token_comes_from_the_environment_and_is_checked_exactly():
    assert instructor_token({}) is None and instructor_token({TOKEN_ENV: "  "}) is None
    token = instructor_token({TOKEN_ENV: " correct horse "})
    assert token == "correct horse"
    assert token_matches("correct horse", token) and token_matches(" correct horse\n", token)
    for wrong in ("correct hors", "Correct horse", "", None, 123, "correct horse!"):
        assert not token_matches(wrong, token)
    assert not token_matches("", None) and not token_matches("anything", None)
    proof = unlock_proof(token)
    assert proof_matches(proof, token) and token not in proof
    assert not proof_matches(proof, "a new token") and not proof_matches(True, token) and not proof_matches(proof, None)


# --- the job manager: class locks and stopping every run --------------------------------------------------------
@pytest.fixture
def manager(tmp_path, make_random_mnist):
    room = ClassRoom(tmp_path / "runs")
    made = JobManager(RunStore(tmp_path / "runs"), data=make_random_mnist(2000, 200), max_concurrent=1,
                      gates=[room.lock_problem])
    made.room = room
    yield made
    made.shutdown()


def test_a_run_changing_a_locked_setting_is_refused_on_the_server(manager):
    manager.room.lock({"optimizer": "sgd"})
    with pytest.raises(RunRefused, match="Optimizer: SGD"):
        manager.submit(replace(QUICK, train_subset=500, epochs=1), owner="ann", student="Ann")
    with pytest.raises(RunRefused, match="right-to-left"):
        manager.submit(replace(LECTURE, train_subset=500, epochs=1), owner="ann", student="\u202eAnn")
    assert manager.waiting == manager.training == 0
    job = manager.submit(replace(LECTURE, train_subset=500, epochs=1), owner="ann", student=" Ann ")
    snap = manager.wait(job.id, timeout=30)
    record = manager.store.load(snap.run_id).record
    assert record["student"] == "Ann" and record["owner_tag"] == owner_tag("ann")


def test_stop_all_stops_every_owners_running_and_waiting_runs(manager):
    long = TrainConfig(epochs=5, batch_size=1)
    running = live_job(manager, long, owner="ann")
    waiting = [manager.submit(long, owner="bob"), manager.submit(long, owner="cy")]
    wait_until(lambda: running.snapshot().step, what="the first run's first step")
    assert manager.stop_all(instructor=True) == 3  # the instructor's alone (issue 17)
    for job in (running, *waiting):
        assert manager.wait(job.id, timeout=10).status == "stopped"
    assert manager.training == manager.waiting == 0
    assert manager.stop_all(instructor=True) == 0


def test_a_name_an_older_lab_allowed_keeps_its_run_whole_and_on_the_board(tmp_path):
    # Two alphabets and a staff title are refused for new names, but runs saved before that rule stay as they were.
    store = RunStore(tmp_path)
    run_id = save_finished_run(store, QUICK, "Ann", 97.0)
    path = tmp_path / run_id / "run.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "student": "\u0410nn instructor"}))
    run = store.load(run_id)
    assert run.status == "finished" and run.record["student"] == "\u0410nn instructor"
    assert [entry.student for entry in BoardReader(store).entries()] == ["\u0410nn instructor"]
