"""Mistakes: what a saved run gets wrong on the 10,000 test digits, your own digits, and the network's insides.

Thin on purpose: the numbers come from core.lessons.mistakes, core.views.mistakes_view, core.lessons.inside
and core.lessons.digits; the sections in pages/mistakes_parts only lay out widgets and charts. Tabs run
lazily: only the open one is computed, which keeps every rerun fast.
"""

import streamlit as st

from core.views.mistakes_view import default_run, run_option_line, viewable
from pages.mistakes_parts import calibration, compare, gallery, inside, keys, loaders, overview, paging, try_it
from pages.ui.common import crisp_images, require_shell
from pages.ui.doctor_panel import doctor_panel
from pages.ui.run_history import reproduce_button
from pages.ui.services import saved_runs

require_shell("pages/mistakes.py")

TABS = ["Mistakes", "Compare two runs", "Try it yourself", "Inside the network"]
RUN_PARAM, LINKED = "run", "mk_linked_run"  # a link's ?run=<id> (the Class page's spotlight), chosen once


def _run_changed() -> None:
    paging.restart(keys.PAGE)
    paging.restart(keys.COMPARE_PAGE)


st.title("Mistakes")
crisp_images()
runs = viewable(saved_runs())
if not runs:
    st.info(
        "There is no trained run to look at yet. Train the network first (one epoch takes seconds); "
        "its mistakes on the test set appear here as soon as it finishes."
    )
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

by_id = {run.id: run for run in runs}
linked = st.query_params.get(RUN_PARAM)
if linked in by_id and st.session_state.get(LINKED) != linked:
    st.session_state[keys.RUN], st.session_state[LINKED] = linked, linked
    _run_changed()
if st.session_state.get(keys.RUN) not in by_id:
    st.session_state[keys.RUN] = default_run(runs).id  # the newest finished run
choose, download = st.columns([5, 1], vertical_alignment="bottom")
run_id = choose.selectbox(
    "Run", list(by_id), format_func=lambda i: run_option_line(by_id[i]), key=keys.RUN, on_change=_run_changed,
    help="Every saved run with test predictions, newest first. The newest finished one is chosen at first.",
)  # fmt: skip
run = by_id[run_id]
doctor_panel(run, key="mistakes_doctor")
reproduce_button(download, run, key=keys.REPRODUCE)
predictions = loaders.predictions(run)
images = loaders.test_images()
if predictions is None or images is None:
    st.stop()
if len(images) != len(predictions):
    st.error(
        f"This run was tested on {len(predictions):,} images, but the test set here has {len(images):,}. "
        "Its images cannot be shown; train a new run."
    )
    st.stop()

mistakes_tab, compare_tab, try_tab, inside_tab = st.tabs(TABS, key=keys.TAB, on_change="rerun")
if mistakes_tab.open:
    with mistakes_tab:
        overview.show(run, predictions)
        gallery.show(predictions, images)  # right below the matrix: a click on a cell filters it
        calibration.show(predictions)
if compare_tab.open:
    with compare_tab:
        compare.show(run, predictions, runs, images)
if try_tab.open:
    with try_tab:
        network = loaders.model(run)
        if network is not None:
            try_it.show(run, network, images)
if inside_tab.open:
    with inside_tab:
        network = loaders.model(run)
        if network is not None:
            inside.show(run, network, images, predictions.labels)
