"""The Class page through Streamlit's AppTest: names, the board, "Try these settings", and the instructor's
controls with and without the server's token. Fake finished runs are written straight into the run store."""

import json
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from core.engine.presets import LECTURE, QUICK
from core.engine.run_store import RunStore
from core.lab.classroom import CLASS_FILE, ClassRoom
from core.lab.instructor_token import TOKEN_ENV
from core.lessons.challenge import Challenge
from pages.ui import services
from pages.ui.common import OWNER
from tests.fake_runs import save_finished_run
from tests.lab_helpers import numbers_tables, page_tables

PAGE = "pages/class.py"
TOKEN = "a-long-instructor-token-for-tests"
HOSTILE = ["<b>Bold</b>", "<img src=x onerror=alert(1)>", "[click](http://evil.example)", "**big** _it_"]


@pytest.fixture
def lab(lab, monkeypatch):
    """The shared AppTest factory, opening the Class page by default, on a server without instructor token."""
    monkeypatch.delenv(TOKEN_ENV, raising=False)

    def open_page(page: str = PAGE, **query):
        return lab(page, **query)

    return open_page


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def board(at):
    """The leaderboard as (name, accuracy, mark) rows."""
    frame = page_tables(at)[0].value
    return [(row["name"], row["test accuracy (%)"], row[""]) for _, row in frame.iterrows()]


def labels(at, kind="button"):
    return [element.label for element in getattr(at, kind)]


def rendered_text(at) -> str:
    """Everything drawn as Markdown or HTML on the page: names must never be in it."""
    parts = [e.value for kind in ("markdown", "caption", "title", "header", "subheader", "info", "success",
                                  "error", "warning") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def instructor_controls(at) -> list[str]:
    controls = {"Set the challenge", "Lock these settings", "Start a fresh board", "Spotlight it"}
    return [label for label in labels(at) if label in controls or label.startswith("Stop every run")]


# --- students ----------------------------------------------------------------------------------------------------
def test_the_board_lists_named_finished_runs_best_first_and_marks_the_students_own(lab, runs_dir):
    at = lab()
    store, me = RunStore(runs_dir), at.session_state[OWNER]
    save_finished_run(store, LECTURE, "Ann", 91.25, owner="someone-else")
    save_finished_run(store, QUICK, "Me", 97.5, owner=me)
    save_finished_run(store, QUICK, "", 99.9, owner=me)  # no name: not on the board
    at.run()  # the fragment's timer lives in the browser; a rerun stands for it
    assert board(at) == [("Me", 97.5, "yours"), ("Ann", 91.25, "")]
    frame = page_tables(at)[0].value
    assert list(frame.columns) == ["#", "name", "test accuracy (%)", "settings", "epochs", "training time", "when", ""]
    assert frame["settings"][1] == "the lecture's setup"
    assert instructor_controls(at) == [] and "Instructor token" not in labels(at, "text_input")


def test_hostile_names_are_refused_or_shown_literally_never_rendered(lab, runs_dir):
    at = lab()
    at.text_input(key="class_name").set_value("Ann").run()
    for bad, why in [("", "at least one character"), ("   ", "at least one character"), ("x" * 31, "at most 30"),
                     ("Ann\u202e", "right-to-left"), ("\u200bAnn", "zero-width"), ("Ann\x07", "control")]:
        at.text_input(key="class_name").set_value(bad).run()
        assert any(why in e.value for e in at.error), bad
        assert at.session_state["lab_student"] == "Ann"
        assert at.text_input(key="class_name").value == bad  # kept for editing; the name in use is said apart
        assert "Your runs are still signed: Ann" in [t.value for t in at.text]
    for name in HOSTILE:
        at.text_input(key="class_name").set_value(name).run()
        assert not at.error and at.session_state["lab_student"] == name
        save_finished_run(RunStore(runs_dir), QUICK, name, 95.0, owner=at.session_state[OWNER])
    at.run()
    assert sorted(row[0] for row in board(at)) == sorted(HOSTILE)  # in the table, character for character
    shown = rendered_text(at)
    assert not any(name in shown for name in HOSTILE)
    assert not any(fragment in shown for fragment in ("<b>", "<img", "evil.example"))


def test_the_name_stays_out_of_links_and_a_links_name_never_names_anyone(lab):
    at = lab()
    at.text_input(key="class_name").set_value("  Ada  ").run()
    at.switch_page("pages/train.py").run()
    assert "name" not in at.query_params and "On the Class page's board as: Ada" in [t.value for t in at.text]
    fresh = lab("pages/train.py", name="Bob", lr="0.01")  # a new tab from an old link: its name is ignored
    assert "lab_student" not in fresh.session_state or not fresh.session_state["lab_student"]
    assert "name" not in fresh.query_params  # and not passed on with the link
    at.switch_page("pages/hyperparameters.py")
    at.query_params["name"] = "Mallory"
    at.run()
    assert at.session_state["lab_student"] == "Ada"


def test_try_these_settings_copies_a_runs_settings_into_the_students(lab, runs_dir):
    at = lab()
    chosen = replace(LECTURE, lr=0.03, batch_size=128)
    run_id = save_finished_run(RunStore(runs_dir), chosen, "Ann", 93.0)
    at.run()
    at.selectbox(key="class_try").set_value(run_id).run()
    at.button(key="class_try_go").click().run()
    assert not at.exception
    assert at.session_state["lab_config"] == chosen
    assert "Ann's run: lr 0.03 · batch 128" in [t.value for t in at.text]
    at.run()  # the next poll keeps saying so
    assert "Ann's run: lr 0.03 · batch 128" in [t.value for t in at.text]
    at.switch_page("pages/train.py").run()
    assert at.query_params["lr"] == "0.03" and at.query_params["batch_size"] == "128"


def test_a_challenge_is_shown_and_rule_breakers_are_listed_apart(lab, runs_dir):
    ClassRoom(runs_dir).set_challenge(Challenge(fixed=(("optimizer", "sgd"),), max_epochs=3))
    store = RunStore(runs_dir)
    save_finished_run(store, LECTURE, "Ann", 90.0)
    save_finished_run(store, QUICK, "Bob", 97.0)  # Adam: breaks a rule
    at = lab()
    assert "Highest test accuracy wins" in at.info[0].value
    assert "Optimizer: SGD (fixed)" in [m.value.lstrip("- ") for m in at.markdown]
    assert board(at) == [("Ann", 90.0, "")]
    apart = at.dataframe[1].value
    assert list(apart["name"]) == ["Bob"]
    assert list(apart["rule broken"]) == ["Optimizer: SGD is fixed; this run used Adam"]


# --- the instructor ----------------------------------------------------------------------------------------------
def test_without_the_token_on_the_server_there_are_no_controls_whatever_the_url_or_session_says(lab, runs_dir):
    at = lab(token=TOKEN, instructor="1", class_token=TOKEN, unlock="true")
    at.session_state["lab_instructor"] = "forged"
    at.run()
    assert instructor_controls(at) == [] and "Instructor token" not in labels(at, "text_input")
    assert not any(h.value == "Instructor" for h in at.header)
    assert not (runs_dir / CLASS_FILE).exists()


def test_with_the_token_only_the_right_one_typed_in_unlocks_the_controls(lab, runs_dir, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    at = lab(token=TOKEN, class_token=TOKEN, instructor="1")  # the URL never unlocks
    assert "Instructor token" in labels(at, "text_input") and instructor_controls(at) == []
    at.session_state["lab_instructor"] = "True"  # a forged session value is not the token's proof
    at.run()
    assert instructor_controls(at) == []
    guard = services.lab_guards().token_guard
    guard.clock = clock = FakeClock()
    for guess in ("", "wrong", TOKEN[:-1], TOKEN.upper()):
        clock.now += 3600  # no waiting between tries in a test
        at.text_input(key="class_token").set_value(guess)
        at.button[labels(at).index("Unlock")].click().run()
        assert instructor_controls(at) == [] and any("not the instructor token" in e.value for e in at.error)
    assert not (runs_dir / CLASS_FILE).exists()
    at.text_input(key="class_token").set_value(TOKEN)
    at.button[labels(at).index("Unlock")].click().run()
    assert "Wait" in at.error[0].value and "did not count" in at.error[0].value  # right after a wrong one
    clock.now += 3600
    at.text_input(key="class_token").set_value(TOKEN)
    at.button[labels(at).index("Unlock")].click().run()
    assert sorted(instructor_controls(at)) == [
        "Lock these settings", "Set the challenge", "Spotlight it", "Start a fresh board",
        "Stop every run that is training or waiting (0 now)"]


def unlocked(lab, monkeypatch) -> AppTest:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    at = lab()
    at.text_input(key="class_token").set_value(TOKEN)
    at.button[labels(at).index("Unlock")].click().run()
    assert instructor_controls(at)
    return at


def test_the_instructor_sets_a_challenge_locks_settings_and_the_class_follows(lab, runs_dir, monkeypatch):
    at = unlocked(lab, monkeypatch)
    at.multiselect(key="class_i_fixed").set_value(["hidden", "optimizer"])
    at.selectbox(key="class_i_base").set_value("Lecture")
    at.number_input(key="class_i_epochs").set_value(3)
    at.button[labels(at).index("Set the challenge")].click().run()
    assert not at.exception
    saved = json.loads((runs_dir / CLASS_FILE).read_text())
    assert saved["challenge"]["fixed"] == {"hidden": [128, 64], "optimizer": "sgd"}
    assert saved["challenge"]["max_epochs"] == 3
    assert "Highest test accuracy wins" in at.info[0].value

    at.multiselect(key="class_i_lock").set_value(["optimizer", "lr"])
    at.selectbox(key="class_i_lock_base").set_value("Lecture")
    at.button[labels(at).index("Lock these settings")].click().run()
    assert json.loads((runs_dir / CLASS_FILE).read_text())["locked"] == {"lr": 0.01, "optimizer": "sgd"}

    student = lab("pages/hyperparameters.py")  # another browser: its Quick settings now follow the locks
    lr = next(e for e in student.select_slider if e.key == "hp_lr")
    optimizer = next(e for e in student.radio if e.key == "hp_optimizer")
    assert lr.disabled and optimizer.disabled and lr.value == 0.01 and optimizer.value == "sgd"
    assert "Locked by your instructor" in lr.help
    assert not next(e for e in student.select_slider if e.key == "hp_batch_size").disabled
    assert any("Locked by your instructor for the class: learning rate, optimizer" in w.value for w in student.warning)
    student.switch_page("pages/train.py").run()
    student.session_state["lab_config"] = QUICK  # a session that still holds other settings is refused by core
    student.button(key="train_start").click().run()
    assert "Learning rate: 0.01 (yours: 0.002)" in student.error[0].value


def test_a_fresh_board_hides_earlier_runs_and_the_spotlight_reaches_every_student(lab, runs_dir, monkeypatch):
    store = RunStore(runs_dir)
    run_id = save_finished_run(store, LECTURE, "Ann", 91.0)
    at = unlocked(lab, monkeypatch)
    student = lab()
    at.selectbox(key="class_i_spot").set_value(run_id).run()
    at.button(key="class_i_spot_go").click().run()
    assert json.loads((runs_dir / CLASS_FILE).read_text())["spotlight"] == run_id
    student.run()
    assert [h.value for h in student.header][:2] == ["Spotlight", "Leaderboard"]
    assert "Ann · 91.00 % test accuracy · the lecture's setup" in [t.value for t in student.text]
    charts = student.get("plotly_chart")
    assert len(charts) == 2 and "smoothed" in charts[0].proto.spec
    said = [m.value for m in student.markdown]
    assert "The loss fell from 2.30 to 0.48 over 50 steps." in said  # the spotlight's charts, in words
    assert any(s.startswith(f"After epoch {LECTURE.epochs} the test accuracy is 91.0 %") for s in said)
    assert charts[0].proto.alt.startswith("Line chart of the training loss")
    assert len(numbers_tables(student)) == 2
    at.button(key="class_i_fresh").click().run()
    student.run()
    assert not page_tables(student) and "No finished run" in student.info[0].value
    assert store.load(run_id).status == "finished"  # hidden from the board, kept in the store
    at.button(key="class_i_spot_off").click().run()
    student.run()
    assert "Spotlight" not in [h.value for h in student.header]


def test_stop_every_run_stops_other_students_runs(lab, runs_dir, monkeypatch):
    at = unlocked(lab, monkeypatch)
    from pages.ui import services

    manager = services.lab()
    long = replace(LECTURE, epochs=5, batch_size=1, train_subset=1000)
    jobs = [manager.submit(long, owner="ann"), manager.submit(long, owner="bob")]
    at.run()
    stop = next(b for b in at.button if b.label.startswith("Stop every run"))
    assert stop.label.endswith("(2 now)")
    stop.click().run()
    assert "Stopped 2 runs." in [s.value for s in at.success]
    for job in jobs:
        assert manager.wait(job.id, timeout=10).status == "stopped"
