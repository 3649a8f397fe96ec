"""Display names that cannot cheat, and links that adopt nothing: the rules (core.engine.display_name), the
class's name registry (core.lab.names), and the Class and Train pages through AppTest, several sessions on one
server."""

import json

import pytest

from core.engine.display_name import clean_name, name_keys, name_problem, names_look_alike
from core.engine.presets import LECTURE, QUICK
from core.engine.run_store import RunStore, owner_tag
from core.lab.names import NAMES_FILE, NOT_HELD, TAKEN, NameRegistry
from core.lab.urlconfig import to_query
from tests.fake_runs import save_finished_run

INVISIBLE = {"\u3164": "HANGUL FILLER", "\u2800": "BRAILLE PATTERN BLANK", "\uffa0": "HALFWIDTH HANGUL FILLER",
             "\u115f": "HANGUL CHOSEONG FILLER", "\u1160": "HANGUL JUNGSEONG FILLER", "\u034f": "GRAPHEME JOINER",
             "\ufe0f": "VARIATION SELECTOR-16", "\u00ad": "SOFT HYPHEN"}
CYRILLIC_ANN = "\u0410nn"  # Cyrillic capital A, then Latin n n
FULL_WIDTH_ANN = "\uff21nn"


# --- the rules -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("char", list(INVISIBLE), ids=list(INVISIBLE.values()))
def test_invisible_letters_are_refused_alone_and_inside_a_name(char):
    assert name_problem(char) is not None
    for name in (f"Ann{char}", f"{char}Ann", f"An{char}n"):
        assert "invisible" in name_problem(name) or "control characters" in name_problem(name), ascii(name)


def test_a_stack_of_combining_marks_is_refused_but_two_accents_on_a_letter_are_fine():
    assert "at most 2 accents" in name_problem("A" + "\u0301" * 30)
    assert "at most 2 accents" in name_problem("Zo\u00eb\u0301\u0301")  # ë is composed: its mark counts too
    for name in ("Zo\u00eb", "Nguy\u1ec5n", "Ren\u00e9e"):
        assert name_problem(name) is None


@pytest.mark.parametrize("name", [CYRILLIC_ANN, "Ad\u0430", "\u0391lice", "Bob\u03bf", "\u0422eacher"])
def test_letters_of_two_alphabets_are_refused(name):
    assert "one alphabet" in name_problem(name)


@pytest.mark.parametrize("name", ["Ann", "Анна", "Ελένη", "李雷", "山田はなこ", "김민준", "Ann-Marie O'Neil 2",
                                  "عائشة"])
def test_names_in_one_alphabet_with_digits_and_punctuation_are_fine(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("name", ["instructor", "Instructor", "INSTRUCTOR", "ADMIN", "Admin1", "teacher",
                                  "The Teacher", "In-structor", "Administrator",
                                  "\u0422\u0435\u0430\u0441\u04bb\u0435\u0433", "\uff49nstructor"])
def test_the_staffs_titles_are_refused_in_any_disguise(name):
    assert "instructor, teacher or admin" in name_problem(name)


@pytest.mark.parametrize("name", ["Badminton", "Teachy", "Ann Instruct"])
def test_names_that_only_contain_a_title_are_fine(name):
    assert name_problem(name) is None


def test_a_name_is_compatibility_composed_trimmed_and_single_spaced():
    assert clean_name(FULL_WIDTH_ANN) == "Ann"
    assert clean_name("  Ann\u3000\u00a0 B.  ") == "Ann B."
    assert name_problem(FULL_WIDTH_ANN) is None


def test_names_that_look_alike_share_a_key_and_others_do_not():
    for twin in ("Ann", "ANN", "ann", FULL_WIDTH_ANN, CYRILLIC_ANN, "  Ann "):
        assert names_look_alike("Ann", twin), ascii(twin)
    assert names_look_alike("Aco", "\u0410\u0441\u043e")  # all three letters Cyrillic
    assert names_look_alike("Ian", "lan")  # a capital I looks like a small l
    assert not names_look_alike("Ann", "Anne") and not names_look_alike("Tim", "Tom")
    assert all(isinstance(key, str) for key in name_keys("Ann"))


# --- the class's registry --------------------------------------------------------------------------------------
def test_a_name_held_by_another_browser_is_refused_in_every_disguise(tmp_path):
    names = NameRegistry(tmp_path)
    assert names.claim("ann-browser", "Ann") is None
    for twin in ("Ann", "ann", "ANN", FULL_WIDTH_ANN, CYRILLIC_ANN):
        assert names.claim("bob-browser", twin) is not None, ascii(twin)
    assert names.claim("bob-browser", "Ann") == TAKEN
    assert names.claim("bob-browser", "Ann B.") is None
    assert names.name_of("ann-browser") == "Ann" and names.name_of("bob-browser") == "Ann B."
    assert names.claim("cleo-browser", "Aco") is None
    assert names.claim("dan-browser", "\u0410\u0441\u043e") == TAKEN  # Асо: all Cyrillic, and looks the same


def test_the_same_browser_may_claim_again_or_change_its_name_which_frees_the_old_one(tmp_path):
    names = NameRegistry(tmp_path)
    assert names.claim("ann-browser", "Ann") is None
    assert names.claim("ann-browser", "ann") is None  # its own name, in another case
    assert names.claim("ann-browser", "Annie") is None
    assert names.claim("bob-browser", "Ann") is None  # released
    assert names.claim("ann-browser", "Ann") == TAKEN


def test_claims_are_shared_by_two_processes_and_survive_a_restart_with_only_owner_tags_saved(tmp_path):
    NameRegistry(tmp_path).claim("ann-browser-secret", "Ann")
    other_process = NameRegistry(tmp_path)
    assert other_process.claim("bob-browser", "ANN") == TAKEN
    saved = json.loads((tmp_path / NAMES_FILE).read_text())
    assert saved["names"] == {owner_tag("ann-browser-secret"): "Ann"}
    assert "ann-browser-secret" not in json.dumps(saved)


def test_names_on_saved_runs_are_taken_by_the_browser_that_trained_them(tmp_path):
    save_finished_run(RunStore(tmp_path), QUICK, "Ann", 97.0, owner="ann-browser")
    names = NameRegistry(tmp_path)  # no names.json: a class from before the registry, or after a restart
    assert names.claim("bob-browser", "ann") == TAKEN
    assert names.claim("ann-browser", "Ann") is None
    save_finished_run(RunStore(tmp_path), LECTURE, "Cleo", 91.0, owner="cleo-browser")  # seen at once
    assert names.claim("bob-browser", "CLEO") == TAKEN


def test_a_refused_name_is_refused_with_its_reason_and_nothing_is_written(tmp_path):
    names = NameRegistry(tmp_path)
    assert "invisible" in names.claim("ann-browser", "\u3164")
    assert "instructor" in names.claim("ann-browser", "Instructor")
    assert not (tmp_path / NAMES_FILE).exists()


def test_a_damaged_names_file_reads_as_no_claims_and_the_next_claim_repairs_it(tmp_path):
    (tmp_path / NAMES_FILE).write_text("{not json")
    names = NameRegistry(tmp_path)
    assert names.claims() == {}
    assert names.claim("ann-browser", "Ann") is None
    assert names.claims() == {owner_tag("ann-browser"): "Ann"}


def test_only_the_browser_holding_a_name_may_sign_a_run_with_it(tmp_path):
    names = NameRegistry(tmp_path)
    names.claim("ann-browser", "Ann")
    assert names.holder_problem("ann-browser", "Ann") is None
    assert names.holder_problem("bob-browser", "Ann") == NOT_HELD
    assert names.holder_problem("bob-browser", "") is None  # no name: a run off the board


def test_the_job_manager_refuses_a_run_signed_with_a_name_its_browser_does_not_hold(tmp_path, make_random_mnist):
    from core.lab.jobs import JobManager, RunRefused

    names = NameRegistry(tmp_path)
    names.claim("ann-browser", "Ann")
    manager = JobManager(RunStore(tmp_path), data=make_random_mnist(100, 20), max_concurrent=1,
                         name_check=names.holder_problem)
    try:
        with pytest.raises(RunRefused, match="does not hold that display name"):
            manager.submit(QUICK, "bob-browser", student="Ann")
        with pytest.raises(RunRefused, match="invisible"):
            manager.submit(QUICK, "bob-browser", student="Ann\u3164")
        assert RunStore(tmp_path).ids() == []
    finally:
        manager.shutdown()


# --- the pages, several sessions on one server --------------------------------------------------------------------
CLASS = "pages/class.py"


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def type_name(at, name: str):
    return at.text_input(key="class_name").set_value(name).run()


def test_a_classmates_name_in_any_disguise_is_refused_on_the_class_page_and_kept_for_editing(lab):
    ann, bob = lab(CLASS), lab(CLASS)
    type_name(ann, "Ann")
    assert ann.session_state["lab_student"] == "Ann" and not errors(ann)
    type_name(bob, "Bob")
    for twin in ("Ann", "ann", FULL_WIDTH_ANN, CYRILLIC_ANN):
        type_name(bob, twin)
        assert errors(bob), ascii(twin)
        assert bob.text_input(key="class_name").value == twin  # kept, for editing
        assert bob.session_state["lab_student"] == "Bob"
        assert "Your runs are still signed: Bob" in [t.value for t in bob.text]
    assert "already taken in this class" in errors(bob)[0] or "one alphabet" in errors(bob)[0]
    type_name(bob, "Ann")
    assert "already taken in this class" in errors(bob)[0]
    type_name(bob, "Ann B.")
    assert not errors(bob) and bob.session_state["lab_student"] == "Ann B."
    assert not [t.value for t in bob.text if t.value.startswith("Your runs are still signed")]


@pytest.mark.parametrize("bad", ["\u3164", "Ann\u2800", "\uffa0\uffa0", "\u115f", "A" + "\u0301" * 30, "instructor"])
def test_a_refused_name_stays_in_the_box_with_its_reason(lab, bad):
    at = lab(CLASS)
    type_name(at, bad)
    assert at.text_input(key="class_name").value == bad
    assert errors(at) and errors(at)[0] == name_problem(bad)
    assert "lab_student" not in at.session_state or not at.session_state["lab_student"]
    at.run()  # a later rerun (the board's poll) still shows why
    assert errors(at) == [name_problem(bad)]


def test_a_links_name_is_never_adopted_on_any_page(lab):
    ann = lab(CLASS)
    type_name(ann, "Ann")
    for page in (CLASS, "pages/train.py", "pages/hyperparameters.py"):
        visitor = lab(page, name="Ann")
        assert "lab_student" not in visitor.session_state or not visitor.session_state["lab_student"], page
        assert "name" not in visitor.query_params, page


def test_the_server_refuses_a_run_signed_with_a_name_the_browser_does_not_hold(lab, runs_dir):
    ann = lab(CLASS)
    type_name(ann, "Ann")
    mallory = lab("pages/train.py", **{"epochs": "1", "train_subset": "300", "batch_size": "32"})
    mallory.session_state["lab_student"] = "Ann"  # a session forged to sign as Ann
    mallory.button(key="train_start").click().run()
    assert NOT_HELD in errors(mallory)
    assert "job" not in mallory.query_params and RunStore(runs_dir).ids() == []


def test_a_train_link_lets_a_classmate_watch_but_does_not_change_their_settings(lab):
    from pages.ui import services

    owner = lab("pages/train.py", **{**to_query(LECTURE), "epochs": "1", "batch_size": "1"})
    owner.button(key="train_start").click().run()
    job_id = owner.query_params["job"]
    try:
        watcher = lab("pages/train.py", **dict(owner.query_params))  # the whole link, settings and all
        assert watcher.query_params["job"] == job_id and len(watcher.get("progress")) == 1
        assert watcher.session_state["lab_config"] == QUICK  # still the watcher's own settings
        setup = lab("pages/hyperparameters.py", **to_query(LECTURE))  # a shared setup, without a run: shown
        assert setup.session_state["lab_config"] == LECTURE
    finally:
        services.lab().stop(job_id, owner.session_state["lab_owner"])


def test_the_browser_holds_its_name_so_its_other_tabs_and_a_refresh_sign_with_it(lab):
    ann = lab(CLASS)
    type_name(ann, "Ann")
    second_tab = lab("pages/train.py")  # the same browser: its cookie names the same owner
    second_tab.session_state["lab_owner"] = ann.session_state["lab_owner"]
    second_tab.run()
    assert "On the Class page's board as: Ann" in [t.value for t in second_tab.text]
    type_name(ann, "Annie")  # renamed in the first tab: the second signs with the new name
    second_tab.run()
    assert second_tab.session_state["lab_student"] == "Annie"
