"""The run history on the Train page: every saved run, overlaid curves, downloads and deletion.

Not a page (st.navigation does not list it). The history is the server's: every student sees every run, and
deletes only their own (the instructor any); the lab checks it, the page only offers what it allows.
"""

from __future__ import annotations

import streamlit as st

from core.engine.curves import loss_curve
from core.engine.status import Status
from core.views.charts import loss_figure, loss_words
from core.views.history import history_rows, run_title
from pages.ui.charts import chart
from pages.ui.common import table_rows
from pages.ui.doctor_panel import doctor_panel
from pages.ui.listen import epoch_steps, listen
from pages.ui.services import lab
from pages.ui.staff import unlocked

COLUMNS = ["run", "status", "settings", "test accuracy (%)", "training time", "epochs"]
TABLE_ROWS = 50  # the newest runs in the table; every run stays choosable below


@st.dialog("Delete this run?")
def confirm_delete(run_id: str, title: str, owner: str) -> None:
    """Ask before deleting: the history is shared, and a deleted run cannot come back."""
    st.write(f"**{title}** will disappear from the history for everyone on this server, with its weights.")
    if st.button("Delete", type="primary", key="history_delete_confirm", icon=":material/delete:"):
        try:
            lab().delete_run(run_id, owner, instructor=unlocked())
        except (PermissionError, ValueError, OSError) as error:
            st.error(str(error))
            return
        st.rerun()


def reproduce_button(where, run, key: str = "history_reproduce") -> None:
    """Download the run as one standalone Python script (core.engine.reproduce)."""
    try:
        script = run.reproduce_script()
    except ValueError:  # damaged settings: nothing to rebuild the run from
        where.button("Script (.py)", disabled=True, key=key, help="This run's settings are damaged.")
        return
    where.download_button(
        "Script (.py)", script, file_name=f"reproduce-{run.id}.py", mime="text/x-python",
        icon=":material/code:", on_click="ignore", key=key,
        help="This run as one Python file (torchvision, a DataLoader, Accelerate, torchmetrics) with its settings "
        "and seed: `python reproduce.py --data-dir DIR` trains it again and reaches the same accuracy.",
    )


def notebook_button(where, run, key: str = "history_notebook") -> None:
    """Download the run as a Jupyter notebook: the script's code, cell by cell (core.engine.reproduce)."""
    try:
        run.config  # noqa: B018 (damaged settings raise here: nothing to rebuild the run from)
    except ValueError:
        where.button("Notebook (.ipynb)", disabled=True, key=key, help="This run's settings are damaged.")
        return
    where.download_button(
        "Notebook (.ipynb)", run.reproduce_notebook, file_name=f"reproduce-{run.id}.ipynb",
        mime="application/x-ipynb+json", icon=":material/code:", on_click="ignore", key=key,
        help="The same code as the script, as a Jupyter notebook: settings, data, network, training, evaluation and "
        "a loss plot, each cell with a line of text above it. Run it beside a data/ folder holding MNIST/raw.",
    )


def history_section(owner: str, doctor_shown: str | None = None) -> None:
    """Table of runs, curve overlay, downloads, delete with confirmation (the viewer's own runs), and the chosen
    run's doctor. `owner` is the viewer's owner id.

    `doctor_shown`: a run whose doctor the page already shows above (the run that just ended), not repeated.
    """
    st.header("Run history")
    runs = lab().saved_runs()
    if not runs:
        st.info("No runs yet. Every run anyone trains on this server is saved here.")
        return
    by_id = {run.id: run for run in runs}
    table_rows(history_rows(runs[:TABLE_ROWS]), COLUMNS)
    if len(runs) > TABLE_ROWS:
        st.caption(f"The newest {TABLE_ROWS} of {len(runs)} runs.")

    chosen = st.multiselect("Compare the loss curves of", list(by_id), key="history_compare",
                            format_func=lambda run_id: run_title(by_id[run_id].record),
                            placeholder="Choose runs to overlay")
    compared = [by_id[i] for i in chosen if i in by_id]
    lines = [(run_title(run.record), loss_curve(run.steps)) for run in compared]
    if lines:
        chart(loss_figure(lines), loss_words(lines), key="history_chart")
    for run in compared:  # reading the steps may have found them damaged
        if run.problems:
            st.caption(f"{run_title(run.record)} is damaged: {run.problem}.")
    if lines:
        listen([(title, curve, epoch_steps(run)) for (title, curve), run in zip(lines, compared, strict=True)],
               key="history_listen", made_for=tuple(chosen))

    st.subheader("One run")
    run_id = st.selectbox("Run", list(by_id), key="history_run", format_func=lambda i: run_title(by_id[i].record))
    run = by_id.get(run_id)
    if run is None:
        return
    metrics = run.metrics_csv()  # read before the caption: a damaged epochs.json changes what it says
    message = run.record.get("message") or run.status
    st.caption(message[:1].upper() + message[1:])
    a, b, d, n, c, _ = st.columns([1, 1, 1, 1, 1, 1])
    a.download_button("Metrics (CSV)", metrics, file_name=f"mnist-lab-{run.id}-metrics.csv",
                      mime="text/csv", icon=":material/download:", on_click="ignore", key="history_csv")
    b.download_button("Weights (.pt)", lambda: (run.path / "model.pt").read_bytes(),
                      file_name=f"mnist-lab-{run.id}-weights.pt", mime="application/octet-stream",
                      icon=":material/download:", on_click="ignore", disabled=not run.has_model,
                      key="history_weights", help="PyTorch state_dict: load it into core.engine.model.build_model")
    reproduce_button(d, run)
    notebook_button(n, run)
    if not lab().may_delete(run.record, owner, unlocked()):
        c.caption("Only the browser that trained this run, or the instructor, may delete it.")
    elif c.button("Delete…", icon=":material/delete:", key="history_delete", disabled=run.status == Status.RUNNING,
                  help="A run that is still training cannot be deleted: stop it first."):
        confirm_delete(run.id, run_title(run.record), owner)
    if run.id != doctor_shown:
        doctor_panel(run, key="history_doctor")
    else:
        st.caption("Its report card and the run doctor's diagnosis are shown above.")
