"""The instructor's controls on the Class page: for an account in MNIST_LAB_INSTRUCTORS when sign-in is on,
else unlocked per browser session by the server's token.

Not a page (st.navigation does not list it). Without sign-in and without MNIST_LAB_INSTRUCTOR_TOKEN nothing
here is drawn. The token is only ever read from the password field, never from the URL, and guesses are slowed
for the whole lab (core.lab.guards). Every control checks `unlocked()` again on the server
before it acts, so a replayed click from a locked session does nothing.
"""

from __future__ import annotations

import math
import time

import streamlit as st

from core.engine.config import SETTINGS
from core.engine.presets import PRESETS
from core.engine.words import plural
from core.lab.instructor_token import instructor_token, token_matches, unlock_proof
from core.lessons.challenge import BEST, FIRST_TO, GOALS, Challenge, setting_words
from core.lessons.experiment import CHOICE_SETTINGS, EXPERIMENT_SETTINGS, MAX_VALUES, STALE_S, value_ladder
from core.views.board import Board, entry_title
from core.views.live_class import live_view
from pages.ui import common
from pages.ui.live import CallbackMessage
from pages.ui.services import classroom, lab, lab_guards
from pages.ui.settings_state import CONFIG
from pages.ui.staff import UNLOCKED, controls_exist, unlocked

TOKEN_INPUT = "class_token"
NOTICE = CallbackMessage("lab_instructor_notice")  # what the last control did (or why it did nothing), shown once
YOUR_SETTINGS = "Your settings (Hyperparameters page)"
FIXED_BY_DEFAULT = ("hidden", "optimizer")  # the lecture's network and SGD only
# The Class page's board and the instructor's live view redraw together (one fragment), this often; unchanged runs
# are not read again.
CLASS_REFRESH_S = 3.0


def _seconds(wait_s: float) -> str:
    return plural(max(1, math.ceil(wait_s)), "second")


def _try_token() -> None:
    """Callback of Unlock: a right token unlocks this session; a wrong one is counted for the whole lab."""
    state = st.session_state
    guess, state[TOKEN_INPUT] = state.get(TOKEN_INPUT, ""), ""  # the field is emptied either way
    if common.signin_configured():  # the token is no way in when accounts say who the instructor is
        return
    token = instructor_token()
    result = lab_guards().try_token(common.client_address(), token_matches(guess, token))
    if result.unlocked:
        state[UNLOCKED] = unlock_proof(token)
        NOTICE.leave("success", "Instructor controls unlocked for this browser tab.")
    elif not result.counted:
        NOTICE.leave("error", f"Wait {_seconds(result.wait_s)}, then try again: too many wrong tokens were typed "
                "just now, so tries are slowed down (this try did not count).")
    else:
        NOTICE.leave("error", f"That is not the instructor token ({plural(result.wrong_from_address, 'wrong try')} "
                f"from your network address). The next try can come in {_seconds(result.wait_s)}.")


def _lock_again() -> None:
    st.session_state.pop(UNLOCKED, None)


def _act(action, done) -> None:
    """Run an instructor action, only if this session is still unlocked, and say what it did (`done`: the words,
    or a function of the action's result that gives them)."""
    if not unlocked():
        NOTICE.leave("error", "The instructor controls are locked.")
        return
    try:
        result = action()
    except ValueError as error:
        NOTICE.leave("error", str(error))
        return
    NOTICE.leave("success", done(result) if callable(done) else done)


def _base_values(source: str) -> dict:
    """The settings named by a "values of" choice: a preset, or this session's own settings."""
    config = PRESETS[source] if source in PRESETS else st.session_state.get(CONFIG, PRESETS["Quick"])
    return config.to_dict()


def _set_challenge() -> None:
    state = st.session_state
    values = _base_values(state["class_i_base"])
    fixed = tuple((name, values[name]) for name in state["class_i_fixed"])
    goal = state["class_i_goal"]

    def make():
        challenge = Challenge(fixed=fixed, max_epochs=state["class_i_epochs"] or None,
                              max_parameters=state["class_i_params"] or None, goal=goal,
                              target=float(state["class_i_target"]) if goal == FIRST_TO else None)
        return classroom().set_challenge(challenge)

    _act(make, "The challenge is set: every Class page shows it within seconds.")


def _lock_settings() -> None:
    state = st.session_state
    values = _base_values(state["class_i_lock_base"])
    chosen = {name: values[name] for name in state["class_i_lock"]}
    _act(lambda: classroom().lock(chosen),
         "Settings locked for the class." if chosen else "Every setting is unlocked.")


def _spotlight(run_id: str | None) -> None:
    _act(lambda: classroom().set_spotlight(run_id),
         "Every Class page now shows this run." if run_id else "The spotlight is off.")


def instructor_section() -> None:
    """The password field, or, once unlocked, the instructor's controls. Nothing at all without a token."""
    if not controls_exist() or (common.signin_configured() and not unlocked()):
        return  # with sign-in, an account that is not listed sees no trace of the controls
    st.divider()
    st.header("Instructor")
    if not unlocked():
        with st.form("class_unlock", clear_on_submit=False, border=False):
            st.text_input("Instructor token", type="password", key=TOKEN_INPUT,
                          help="Set on the server as MNIST_LAB_INSTRUCTOR_TOKEN. Students do not need it.")
            st.form_submit_button("Unlock", on_click=_try_token, icon=":material/key:")
        NOTICE.show()
        return
    NOTICE.show()
    class_state = classroom().state()
    if class_state.problem:
        st.warning(class_state.problem)
    _experiment_form(class_state)
    _challenge_form(class_state)
    _lock_form(class_state)
    _board_controls()
    if not common.signin_configured():
        st.button("Lock the controls again", key="class_i_logout", on_click=_lock_again, icon=":material/lock:")


def _setting_label(name: str) -> str:
    return SETTINGS[name].label


def _challenge_form(class_state) -> None:
    st.subheader("Challenge")
    sources = [*PRESETS, YOUR_SETTINGS]
    with st.form("class_i_challenge"):
        a, b = st.columns(2)
        a.multiselect("Settings every run must keep (the others may change)", list(SETTINGS),
                      default=list(FIXED_BY_DEFAULT), format_func=_setting_label, key="class_i_fixed")
        b.selectbox("…at the values of", sources, index=sources.index("Lecture"), key="class_i_base")
        a.number_input("At most this many epochs (0: no limit)", 0, SETTINGS["epochs"].high, 3, key="class_i_epochs")
        b.number_input("At most this many parameters (0: no limit)", 0, 10**9, 0, step=10_000, key="class_i_params")
        a.radio("Goal", list(GOALS), format_func=GOALS.get, key="class_i_goal", index=list(GOALS).index(BEST))
        b.number_input("Test accuracy to reach, % (first-to goal)", 1.0, 100.0, 98.0, step=0.5, key="class_i_target")
        st.form_submit_button("Set the challenge", on_click=_set_challenge, icon=":material/flag:")
    if class_state.challenge is not None:
        st.button("Clear the challenge", key="class_i_clear", icon=":material/close:",
                  on_click=_act, args=(lambda: classroom().set_challenge(None), "The challenge is cleared."))


def _lock_form(class_state) -> None:
    st.subheader("Locked settings")
    locked = class_state.locked_settings
    st.caption("Locked: " + ("; ".join(setting_words(n, v) for n, v in locked.items()) if locked else "none") + ".")
    sources = [*PRESETS, YOUR_SETTINGS]
    with st.form("class_i_locks"):
        a, b = st.columns(2)
        a.multiselect("Settings to lock for the class (none: unlock all)", list(SETTINGS), default=list(locked),
                      format_func=_setting_label, key="class_i_lock")
        b.selectbox("…at the values of", sources, index=sources.index("Lecture"), key="class_i_lock_base")
        st.form_submit_button("Lock these settings", on_click=_lock_settings, icon=":material/lock:")


def _board_controls() -> None:
    st.subheader("Board and runs")
    manager = lab()
    a, b = st.columns(2)
    a.button("Start a fresh board", key="class_i_fresh", icon=":material/restart_alt:",
             on_click=_act, args=(lambda: classroom().fresh_board(), "A fresh board: earlier runs are kept, "
                                  "only hidden from it."),
             help="Hides every run finished so far from the board; the runs stay in the history.")
    b.button(f"Stop every run that is training or waiting ({manager.training + manager.waiting} now)",
             key="class_i_stop_all", icon=":material/stop_circle:",
             on_click=_act, args=(lambda: manager.stop_all(instructor=unlocked()),
                                  lambda n: f"Stopped {plural(n, 'run')}."))


def spotlight_picker(board: Board, class_state) -> None:
    """Choose a run of the board for every student's Class page (drawn with the board, so it follows it)."""
    entries = [*board.ranked, *(entry for entry, _ in board.apart)]
    by_id = {entry.run_id: entry for entry in entries}
    if class_state.spotlight and class_state.spotlight not in by_id:
        by_id = {class_state.spotlight: None, **by_id}
    c, d = st.columns([3, 1], vertical_alignment="bottom")
    chosen = c.selectbox("Spotlight a run on every student's Class page", list(by_id), key="class_i_spot", index=None,
                         format_func=lambda i: entry_title(by_id[i]) if by_id.get(i) else f"run {i}",
                         placeholder="Choose a run on the board")
    d.button("Spotlight it", key="class_i_spot_go", icon=":material/flare:", disabled=chosen is None,
             on_click=_spotlight, args=(chosen,))
    if class_state.spotlight:
        st.button("Turn the spotlight off", key="class_i_spot_off", icon=":material/close:",
                  on_click=_spotlight, args=(None,))


# --- the class experiment ------------------------------------------------------------------------------------
def _experiment_values(setting: str) -> tuple:
    """The values the instructor chose: a multiselect for a choice, else "from, to, how many, log/linear"."""
    state = st.session_state
    if setting in CHOICE_SETTINGS:
        return tuple(state.get(f"class_x_choices_{setting}") or ())
    integer = SETTINGS[setting].kind.whole
    return value_ladder(float(state[f"class_x_from_{setting}"]), float(state[f"class_x_to_{setting}"]),
                        int(state[f"class_x_count_{setting}"]), state[f"class_x_scale_{setting}"] == "log",
                        integer=integer)


def _start_experiment() -> None:
    state = st.session_state
    setting = state["class_x_setting"]
    base = _base_values(state["class_x_base"])
    _act(lambda: classroom().start_experiment(setting, _experiment_values(setting), base),
         "The experiment has started: each student who opens the Hyperparameters, Train or Class page gets a value.")


def _experiment_form(class_state) -> None:
    st.subheader("Class experiment")
    experiment = class_state.experiment
    if experiment is not None:
        holders, away = len(experiment.holders), experiment.away(time.time())
        st.caption(f"Under way: {experiment.label()} over "
                   + ", ".join(experiment.value_words(v) for v in experiment.values)
                   + f"; {plural(holders, 'student')} hold a value, {away} of them not seen for "
                   f"{STALE_S / 60:g} minutes. A student keeps their value until the experiment ends. Starting "
                   "another ends this one.")
        end, free = st.columns(2)
        end.button("End the experiment", key="class_x_end", icon=":material/stop:",
                   on_click=_act, args=(lambda: classroom().end_experiment(),
                                        "The experiment has ended; it stays listed with its results and CSV."))
        free.button(f"Free the values of students not seen for {STALE_S / 60:g} minutes", key="class_x_free",
                    icon=":material/person_remove:", disabled=not away, on_click=_act,
                    args=(lambda: classroom().free_away_values(),
                          f"Freed the values of students not seen for {STALE_S / 60:g} minutes: they go to the next "
                          "students who join, and any of them who comes back joins again."))
    a, b = st.columns(2)
    setting = a.selectbox("Setting to vary", list(EXPERIMENT_SETTINGS), format_func=_setting_label,
                          key="class_x_setting")
    sources = [*PRESETS, YOUR_SETTINGS]
    b.selectbox("Every other setting at the values of", sources, index=sources.index("Quick"), key="class_x_base")
    if setting in CHOICE_SETTINGS:
        st.multiselect("Values", list(SETTINGS[setting].choices), default=list(SETTINGS[setting].choices),
                       format_func=lambda v: SETTINGS[setting].choice_labels.get(v, v),
                       key=f"class_x_choices_{setting}", max_selections=MAX_VALUES)
    else:
        described = SETTINGS[setting]
        starts = {"lr": (0.001, 3.0), "weight_decay": (0.0001, 0.1)}  # log scales start above 0
        low, high = starts.get(setting, (float(described.low), float(min(described.high, 256))))
        c, d, e, f = st.columns(4)
        c.number_input("From", value=low, format="%g", key=f"class_x_from_{setting}")
        d.number_input("To", value=high, format="%g", key=f"class_x_to_{setting}")
        e.number_input("How many", 2, MAX_VALUES, 5, key=f"class_x_count_{setting}")
        f.radio("Spaced", ["log", "linear"], index=0 if setting in ("lr", "weight_decay", "batch_size") else 1,
                key=f"class_x_scale_{setting}", horizontal=True)
    st.button("Start the experiment", key="class_x_start", icon=":material/science:", on_click=_start_experiment)


def live_section() -> None:
    """Every queued or training run on this server, with the live doctor's verdict and the counts on top."""
    if not unlocked():
        return
    with st.container(key="class_live"):
        st.subheader("The class's runs now")
        view = live_view(lab().live_snapshots())
        if not view.rows:
            st.caption(f"No run is training or waiting. Updates by itself every {CLASS_REFRESH_S:g} seconds.")
            return
        st.info(view.counts[0].upper() + view.counts[1:] + ".", icon=":material/monitor_heart:")  # no user text
        import pandas as pd  # here: only the instructor's view needs it

        st.dataframe(pd.DataFrame(list(view.rows)), hide_index=True, width="stretch")  # names stay plain text
        st.caption("The run doctor on what each run has streamed so far. Updates by itself every "
                   f"{CLASS_REFRESH_S:g} seconds.")
