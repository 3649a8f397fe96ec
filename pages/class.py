"""Class: the class's live leaderboard, the instructor's challenge and spotlight, and the instructor's controls.

Thin on purpose: the board is built in core.views.board from the run store, the rules are checked in
core.lessons.challenge, and the class's state lives in core.lab.classroom. Names are user text: they are only
ever shown by st.dataframe, st.text or widget options, never as Markdown or HTML.
"""

import pandas as pd
import streamlit as st

from core.engine.runs import owner_tag
from core.views.board import apart_rows, board_rows, build_board, entry_title
from core.views.charts import epoch_figure, loss_figure
from core.views.curves import loss_curve
from core.views.history import settings_text
from pages.ui.common import board_reader, classroom, owner_id
from pages.ui.display_name import drop_link_name, name_field
from pages.ui.instructor import instructor_section, spotlight_picker, unlocked
from pages.ui.settings_state import enter_page, link_params, set_settings

enter_page("pages/class.py")

BOARD_REFRESH_S = 3.0  # every open Class page rebuilds the board this often; unchanged runs are not read again
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


def board_panel(drawn_version: int) -> None:
    """The leaderboard and the rule-breakers, rebuilt every few seconds; a new challenge or spotlight redraws
    the whole page."""
    class_state = classroom().state()
    if class_state.version != drawn_version:
        st.rerun()
    board = build_board(board_reader().entries(), class_state.challenge, class_state.board_since)
    mine = owner_tag(owner_id())
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
    st.caption(f"Updates by itself every {BOARD_REFRESH_S:g} seconds.")
    if unlocked():
        spotlight_picker(board, class_state)


def spotlight_section(run_id: str) -> None:
    """The run the instructor put in the spotlight: who trained it, its curves, and a link to its mistakes."""
    st.header("Spotlight")
    try:
        run = board_reader().store.load(run_id)
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
    with left:
        st.plotly_chart(loss_figure([("this run", loss_curve(run.steps))]), key="class_spot_loss",
                        config={"displayModeBar": False})
    with right:
        if run.epochs:
            st.plotly_chart(epoch_figure(run.epochs), key="class_spot_epochs", config={"displayModeBar": False})
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
    spotlight_section(class_state.spotlight)

st.fragment(board_panel, run_every=BOARD_REFRESH_S)(class_state.version)
instructor_section()
