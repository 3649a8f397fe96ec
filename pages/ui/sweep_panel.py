"""The sweep on the Hyperparameters page: pick a setting and 2-6 values, train short runs in turn, compare.

Not a page (st.navigation does not list it). The runs go through the server's job queue like any other.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from core.engine.config import unused_because
from core.engine.status import Status
from core.engine.words import format_seconds, plural
from core.lab.jobs import MAX_WAITING_PER_OWNER, RunRefused
from core.lab.sweep import MAX_VALUES, MIN_VALUES, SWEEPABLE, SweepJobs, best, format_param_value, results
from core.views.charts import loss_figure, loss_words
from pages.ui.charts import chart
from pages.ui.common import table_rows
from pages.ui.live import live_fragment
from pages.ui.services import lab
from pages.ui.settings_state import SWEEP, SWEEP_STATE, live_ids, publish_id
from pages.ui.staff import unlocked

SUBSETS = (2000, 5000, 10_000, 20_000, 60_000)


def sweep_section(config, owner: str, params: dict, apply) -> None:
    """The sweep form and, once started, its live results; `apply(config)` is the settings callback."""
    manager = lab()
    _, sweep_id = live_ids(params, manager)  # a refresh finds the sweep (and the run) in the URL
    sweep = manager.get_sweep(sweep_id)
    running = sweep is not None and any(s.active for s in manager.sweep_snapshots(sweep.id))

    st.header("Sweep: let the data choose")
    st.markdown(
        "Hyperparameter selection for real: pick one setting and a few values. Short runs train one after "
        "another in the background, with all your other settings, and their loss curves appear together. "
        "The best one can become your setting."
    )
    param = st.selectbox("Setting to vary", list(SWEEPABLE), format_func=lambda p: SWEEPABLE[p].title,
                         key="sw_param")
    spec = SWEEPABLE[param]
    # Beyond the runs that can train at once, a browser may have only so many waiting: offer no more values.
    most = min(MAX_VALUES, manager.max_concurrent + MAX_WAITING_PER_OWNER)
    values = st.multiselect(
        f"Values to compare ({MIN_VALUES} to {most})", spec.options, default=list(spec.default),
        key=f"sw_values_{param}", max_selections=most, format_func=lambda v: format_param_value(param, v),
    )
    a, b = st.columns(2)
    epochs = a.slider("Epochs per run", 1, 3, 1, key="sw_epochs")
    subset = b.select_slider("Training images per run", SUBSETS, 10_000, key="sw_subset",
                             format_func=lambda n: f"{n:,}")
    too_few = len(values) < MIN_VALUES
    unused = unused_because(param, config)
    if st.button("Run sweep", type="primary", icon=":material/play_arrow:", disabled=too_few or running,
                 key="sw_start"):
        ordered = values if param in ("optimizer", "hidden", "conv_channels") else sorted(values)
        try:
            sweep = manager.submit_sweep(config, param, ordered, owner, instructor=unlocked(), epochs=epochs,
                                         train_subset=None if subset >= 60_000 else subset)
        except RunRefused as refusal:
            st.error(str(refusal), icon=":material/block:")
        else:
            st.session_state[SWEEP_STATE] = sweep.id
            publish_id(SWEEP, sweep.id)
            running = True
    if too_few:
        st.caption(f"Choose at least {MIN_VALUES} values.")
    if unused:
        st.caption(f"{unused}: so each of these runs is.")
    if sweep is not None:
        live_fragment(sweep_results, sweep.id, config, apply, owner, every_s=1.0, live=running)


def sweep_results(sweep_id: str, config, apply, owner: str) -> bool:
    """Curves, table and winner of one sweep; whether any of its runs still trains (once none does, live_fragment
    redraws the page once and stops polling)."""
    manager = lab()
    sweep: SweepJobs | None = manager.get_sweep(sweep_id)
    if sweep is None:  # gone from the lab: the page's rerun drops its id
        return False
    snaps = manager.sweep_snapshots(sweep.id)
    active = any(s.active for s in snaps)
    _results(sweep, snaps, active, config, apply, owner)
    return active


def _results(sweep: SweepJobs, snaps: list, active: bool, config, apply, owner: str) -> None:
    first = snaps[0].config if snaps else config
    st.subheader(f"Sweep of the {sweep.title}")
    st.caption(f"{plural(first.epochs, 'epoch')} on "
               f"{first.train_subset or 60_000:,} training images per run.")
    lines = [(format_param_value(sweep.param, value), snap.curve)
             for value, snap in zip(sweep.values, snaps, strict=False) if len(snap.curve)]
    if lines:
        chart(loss_figure(lines), loss_words(lines), key=f"sweep_chart_{sweep.id}")
    rows = results(sweep, snaps)
    by_id = {s.id: s for s in snaps}
    table_rows(
        [{
            sweep.title: format_param_value(sweep.param, row.value),
            "status": _status(by_id[row.job_id]),
            "test accuracy (%)": None if row.test_accuracy is None else round(row.test_accuracy, 2),
            "training time": format_seconds(row.seconds) if row.seconds else "",
        } for row in rows]
    )
    if active and sweep.owner == owner:
        st.button("Stop the sweep", icon=":material/stop:", key="sw_stop", on_click=lab().stop_sweep,
                  args=(sweep.id, owner))
    if active:
        if sweep.owner != owner:
            st.caption("You are watching a sweep started in another browser: only that browser can stop it.")
        return
    winner = best(rows)
    if winner is None:
        st.info("No run of this sweep finished, so there is no winner.")
        return
    shown = format_param_value(sweep.param, winner.value)
    st.success(f"Best: {sweep.title} **{shown}**, {winner.test_accuracy:.2f} % test accuracy.")
    current = getattr(config, sweep.param)
    if st.button(f"Use best ({sweep.title} {shown})", key="sw_use_best", icon=":material/check:",
                 disabled=current == winner.value, on_click=apply,
                 args=(replace(config, **{sweep.param: winner.value}),)):
        st.rerun()  # the settings widgets sit outside this fragment: redraw the whole page


def _status(snap) -> str:
    if snap.status == Status.QUEUED:
        return f"waiting (queue {snap.queue_position})"
    if snap.status == Status.RUNNING:
        return f"training {snap.progress:.0%}"
    return snap.status
