"""Class: the class's live leaderboard, the class experiment, what the class found (every run in one chart, the
settings ranked by how much they mattered), the instructor's challenge and spotlight, and the instructor's controls.

Thin on purpose: the board is built in core.views.board from the run store, the rules are checked in
core.lessons.challenge, the class's state (the experiment's values too) lives in core.lab.classroom, and the
findings' charts and ranking in core.views.class_findings. Names are user text: they are only
ever shown by st.dataframe, st.text or widget options, never as Markdown or HTML.
"""

import html
import time
from dataclasses import replace

import pandas as pd
import streamlit as st

from core.engine.curves import loss_curve
from core.engine.run_store import owner_tag
from core.lessons.experiment import Experiment
from core.views.board import BoardEntry, apart_rows, board_rows, build_board, entry_title
from core.views.charts import epoch_figure, epoch_words, loss_figure, loss_words
from core.views.class_findings import (
    curves_figure,
    curves_words,
    experiment_csv,
    experiment_entries,
    experiment_figure,
    experiment_summary,
    experiment_words,
)
from core.views.history import settings_text
from pages.ui.charts import chart
from pages.ui.common import owner_id
from pages.ui.display_name import drop_link_name, name_field
from pages.ui.instructor import CLASS_REFRESH_S, instructor_section, live_section, spotlight_picker
from pages.ui.live import live_fragment
from pages.ui.services import class_readers, classroom, lab
from pages.ui.settings_state import enter_page, link_params, set_settings
from pages.ui.staff import unlocked

enter_page("pages/class.py")

TRY_PICK = "class_try"
TRIED = "class_tried"  # the run whose settings were last copied, and its student's name


def try_settings(configs: dict) -> None:
    """Callback of "Try these settings": the chosen run's settings become this session's own."""
    run_id = st.session_state.get(TRY_PICK)
    if run_id in configs:
        name, config = configs[run_id]
        set_settings(config)
        st.session_state[TRIED] = (run_id, name)


def show_table(rows: list[dict]) -> None:
    """Rows as a plain-text table: st.dataframe draws every cell as text, so a name's markup stays literal."""
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def drawn_key(class_state) -> tuple:
    """What the page draws outside the board's fragment: a change redraws the whole page. Students joining or
    leaving the experiment (most of class.json's changes in a class) are not in it: the fragment draws those."""
    experiment = class_state.experiment
    return (class_state.challenge, class_state.locked, class_state.spotlight, len(class_state.past_experiments),
            experiment.id if experiment else None)


def board_panel(drawn: tuple) -> bool:
    """The leaderboard and the rule-breakers, rebuilt every few seconds; False, before drawing anything, when a new
    challenge or spotlight needs the whole page redrawn (live_fragment does it)."""
    class_state = classroom().state()
    if drawn_key(class_state) != drawn:
        return False
    board = build_board(class_readers().board.entries(), class_state.challenge, class_state.board_since)
    mine = owner_tag(owner_id())
    # The instructor's live view refreshes with the board: one polling fragment on the page, since two of them
    # (the board's and a live view's of its own) left the experiment's charts drawn twice.
    live_section()
    st.header("Leaderboard")
    if board.ranked:
        show_table(board_rows(board, mine))
    else:
        st.info("No finished run with a display name yet. Choose a name above, train on the Train page, and your "
                "run appears here when it finishes.", icon=":material/leaderboard:")
    if board.apart:
        st.subheader("Runs that broke a rule")
        show_table(apart_rows(board, mine))
    entries = [*board.ranked, *(entry for entry, _ in board.apart)]
    if class_state.experiment is not None:
        with st.container(key="class_experiment"):
            experiment_section(class_state.experiment, class_readers().board.entries(diverged=True))
    findings_section(entries)
    configs = {entry.run_id: (entry.student, entry.config) for entry in entries}
    if entries:
        titles = {entry.run_id: entry_title(entry) for entry in entries}
        a, b = st.columns([3, 1], vertical_alignment="bottom")
        a.selectbox("Try the settings of", list(titles), format_func=titles.get, key=TRY_PICK, index=None,
                    placeholder="Choose a run on the board")
        b.button("Try these settings", key="class_try_go", icon=":material/content_copy:", on_click=try_settings,
                 args=(configs,), disabled=st.session_state.get(TRY_PICK) not in titles)
    tried = st.session_state.get(TRIED)
    if tried is not None and tried[0] == st.session_state.get(TRY_PICK) and tried[0] in configs:
        st.success("Copied: these settings are now yours.", icon=":material/check:")
        st.text(f"{tried[1]}'s run: {settings_text(configs[tried[0]][1])}")  # a name: plain text only
        st.page_link("pages/train.py", label="Train with them", icon=":material/model_training:")
    st.caption(f"Updates by itself every {CLASS_REFRESH_S:g} seconds.")
    if unlocked():
        spotlight_picker(board, class_state)
    return True


def findings_section(entries: list[BoardEntry]) -> None:
    """Every run on the board in one chart, and the settings ranked by how much they mattered."""
    st.header("What the class found")
    found = class_readers().findings.findings(entries)
    if found.figure is not None:
        chart(found.figure, found.words, key="class_parcoords")
        st.caption("Each line is one finished run on the board: its settings (those that differ between runs) and "
                   "its test accuracy, coloured by it. Drag along an axis to pick out runs.")
    st.info(found.ranking.words(), icon=":material/insights:")  # setting names and numbers only: no user text


def _join() -> None:
    classroom().join_experiment(owner_id())


def experiment_section(experiment: Experiment, all_entries: list[BoardEntry]) -> None:
    """The class experiment under way: this student's value, and the results so far, drawn live."""
    st.header(f"Class experiment: {experiment.label()}")
    values = ", ".join(experiment.value_words(v) for v in experiment.values)
    st.caption(f"Every student trains one value of {experiment.label()} ({values}); every other setting is fixed "
               "for the class, except the seed.")
    if not unlocked():
        if experiment.value_of(owner_id()) is not None:
            classroom().join_experiment(owner_id())  # seen: a student watching this page keeps their value
        gift = experiment.gift_words(owner_id())
        if gift is None:
            st.button("Join the experiment", key="class_x_join", on_click=_join, icon=":material/science:",
                      help="You get one of the values fewest students hold, yours until the experiment ends; the "
                      "Hyperparameters and Train pages also give you one.")
        else:  # theirs for the experiment's life: no leaving and rejoining for another value
            st.success(gift + " Train it on the Train page: it appears here when it finishes.",
                       icon=":material/science:")
    runs = experiment_entries(experiment, all_entries)
    st.markdown(experiment_summary(experiment, runs))  # values and numbers only
    if runs:
        left, right = st.columns(2)
        chart(experiment_figure(experiment, _escaped(runs)), experiment_words(experiment, runs), key="class_x_points",
              container=left)
        curves = experiment_curves(experiment, runs)
        chart(curves_figure(experiment, curves), curves_words(experiment, curves), key="class_x_curves",
              container=right)
        st.download_button("Download its runs (CSV)", experiment_csv(experiment, runs), key="class_x_csv",
                           file_name=f"class-experiment-{experiment.id}.csv", mime="text/csv",
                           icon=":material/download:")


def _escaped(runs: list[BoardEntry]) -> list[BoardEntry]:
    """Names as text in a chart's hover: Plotly reads a few HTML tags in its labels, so each is escaped."""
    return [replace(entry, student=html.escape(entry.student)) for entry in runs]


def experiment_curves(experiment: Experiment, runs: list[BoardEntry]) -> list:
    """The saved runs' loss curves, then the runs of the experiment still training (their curves so far)."""
    curves = [(getattr(e.config, experiment.setting), class_readers().curves.curve(e.run_id)) for e in runs]
    now = time.time()
    for snap, _ in lab().live_snapshots():
        if len(snap.curve) and experiment.includes(snap.config.to_dict(), min(now, experiment.started)):
            curves.append((getattr(snap.config, experiment.setting), snap.curve))
    return [(value, curve) for value, curve in curves if curve is not None]


def past_experiments_section(past: tuple[Experiment, ...]) -> None:
    """The ended experiments, newest first, each with its results and its runs as CSV."""
    st.header("Ended class experiments")
    entries = class_readers().board.entries(diverged=True)  # a value that diverged is one of the results
    for experiment in reversed(past):
        runs = experiment_entries(experiment, entries)
        when = time.strftime("%d %b %H:%M", time.localtime(experiment.started))
        with st.expander(f"{experiment.label().capitalize()}, {when}: {len(runs)} runs"):
            st.markdown(experiment_summary(experiment, runs))
            if runs:
                chart(experiment_figure(experiment, _escaped(runs)), experiment_words(experiment, runs),
                      key=f"class_past_{experiment.id}")
            st.download_button("Download its runs (CSV)", experiment_csv(experiment, runs),
                               key=f"class_past_csv_{experiment.id}", icon=":material/download:",
                               file_name=f"class-experiment-{experiment.id}.csv", mime="text/csv")


def spotlight_section(run_id: str) -> None:
    """The run the instructor put in the spotlight: who trained it, its curves, and a link to its mistakes."""
    st.header("Spotlight")
    try:
        run = lab().saved_run(run_id)
    except (FileNotFoundError, ValueError):
        st.info("The run in the spotlight is no longer saved on this server.")
        return
    record = run.record
    try:
        settings = settings_text(run.config)
    except ValueError:
        settings = "unreadable settings"
    accuracy = record.get("test_accuracy")
    st.text(f"{record.get('student') or 'A run without a name'} · "
            + (f"{accuracy:.2f} % test accuracy" if accuracy is not None else "no test accuracy")
            + f" · {settings}")
    left, right = st.columns([3, 2])
    lines = [("this run", loss_curve(run.steps))]
    chart(loss_figure(lines), loss_words(lines), key="class_spot_loss", container=left)
    if run.epochs:
        chart(epoch_figure(run.epochs), epoch_words(run.epochs), key="class_spot_epochs", container=right)
    if run.has_predictions:
        st.page_link("pages/mistakes.py", label="See its mistakes", icon=":material/error:",
                     query_params={"run": run.id})


st.title("Class")
st.markdown(
    "The whole class's runs on one board. Choose a display name, train on the **Train** page, and every "
    "finished run you train appears here for everyone, best first."
)
link_params()  # a deep link's parameters are used up here, not handed to the next page
drop_link_name()  # a link's name= is never adopted: only the field below names a student
name = name_field(owner_id())
if name:
    st.caption("Your runs from now on appear on the board under this name, marked “yours” on your screen.")

class_state = classroom().state()
if class_state.challenge is not None:
    challenge = class_state.challenge
    st.header("Challenge")
    st.info(f"**{challenge.goal_text()}.**", icon=":material/flag:")
    for rule in challenge.rules() or ["No other rule: every setting may change."]:
        st.markdown(f"- {rule}")
    st.caption("Runs that break a rule are listed apart, with the rule they broke; only runs made after the "
               "board's last fresh start count.")
if class_state.spotlight:
    with st.container(key="class_spotlight"):
        spotlight_section(class_state.spotlight)

live_fragment(board_panel, drawn_key(class_state), every_s=CLASS_REFRESH_S)
if class_state.past_experiments:
    past_experiments_section(class_state.past_experiments)
instructor_section()
