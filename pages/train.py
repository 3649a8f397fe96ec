"""Train: start a run in the background and watch it live; pause, resume or stop it; browse the history.

Thin on purpose: core.lab.jobs queues the runs and its executor trains them in worker processes or Ray actors
(never st.*, never in the web server); this page only submits jobs and draws their snapshots from polling
fragments: the progress every second, the charts less often.
"""

import contextlib

import streamlit as st

from core.engine.status import Status
from core.engine.tracking import tracker_problem
from core.lab.job_text import capacity_text, end_text, progress_text, queue_text, warming_text
from core.lab.jobs import MAX_WAITING_PER_OWNER, RunRefused
from core.views.charts import epoch_figure, epoch_words, loss_figure, loss_words
from core.views.gradient_flow_charts import LAYER_QUANTITIES, layer_figure, layer_words
from core.views.history import settings_text
from pages.ui.charts import chart
from pages.ui.common import owner_id, table_rows
from pages.ui.display_name import STUDENT
from pages.ui.doctor_panel import doctor_panel
from pages.ui.listen import listen
from pages.ui.live import CallbackMessage, live_fragment
from pages.ui.run_history import history_section
from pages.ui.services import lab
from pages.ui.settings_state import (
    CONFIG,
    JOB,
    JOB_STATE,
    enter_page,
    link_params,
    live_ids,
    publish_settings,
    settings,
)
from pages.ui.staff import unlocked

enter_page("pages/train.py")

ENDED_BOX = {Status.FINISHED: st.success, Status.STOPPED: st.warning, Status.DIVERGED: st.error,
             Status.FAILED: st.error}
REFUSED = CallbackMessage("lab_train_refused")  # why the last click on Train queued nothing, shown once
NEW_LR = "job_new_lr"  # the learning-rate box
LR_MESSAGE = CallbackMessage("job_lr_message", keep=True)  # what the last Apply did, kept while the run's panel polls
GRADIENT_FLOW_TEXT = (
    "Measured every few steps, per layer. **Healthy**: gradient norms of similar size in every layer, steps "
    "that move each layer's weights by about a thousandth of their size (update / weight ≈ 0.001), and few "
    "dead ReLUs. **Vanishing** gradients shrink layer after layer towards the input, and those layers stop "
    "learning; **exploding** ones grow by powers of ten and the loss shoots up. A **dead** ReLU never fires on "
    "the last batches, so no gradient flows through it again: a learning rate that is far too high (try 3 with "
    "SGD) kills most of them in a few steps, and the lines of a dead layer drop to 0 (they leave the log axis)."
)
# Seconds between refreshes of a live run, each part a fragment of its own. The progress line (and the controls)
# every second, for its owner and a watcher (a shared link) alike: it is light to draw, so the step is seen to advance
# at least every 2 s. Charts cost a tab's browser far more to redraw, and a tab still drawing fires its next refresh
# late: with the progress among five charts all redrawn at each refresh, a watcher's step stood still for 3-7 s on a
# busy machine while the coordinator had new steps every half second. So the loss and epoch charts refresh every 2 s,
# and the gradient flow (measured every 50 steps) every 3 s. The queue's caption refreshes every 3 s.
PROGRESS_REFRESH_S, CHARTS_REFRESH_S, FLOW_REFRESH_S, CAPTION_REFRESH_S = 1.0, 2.0, 3.0, 3.0


def start(owner: str) -> None:
    """Callback of Train: queue a run with the session's settings; a worker process (or a Ray actor) trains it."""
    manager = lab()
    shown = manager.get(st.session_state.get(JOB_STATE))
    if shown is not None and shown.active:  # the button was disabled: a click from a stale page, or one delivered
        return  # twice (a class journey once got two runs from one click); one click, one run
    try:
        job = manager.submit(st.session_state[CONFIG], owner, student=st.session_state.get(STUDENT, ""),
                             instructor=unlocked())
    except RunRefused as refusal:
        REFUSED.leave("error", str(refusal), icon=":material/block:")
        return
    st.session_state[JOB_STATE] = job.id
    st.session_state.pop(NEW_LR, None)  # the last run's learning-rate box and message
    LR_MESSAGE.clear()
    if job.status != Status.QUEUED:
        manager.wait_first_step(job.id, timeout=1.0)  # then this very rerun draws the first loss point


def stop(job_id: str, owner: str) -> None:
    """Callback of Stop: ask the run to stop, and give it a moment so this very rerun can show the end."""
    manager = lab()
    if manager.stop(job_id, owner):
        manager.wait(job_id, timeout=0.7)


def controls(snap, owner: str) -> None:
    """Pause or Resume, and Stop, for the run's owner; a watcher is told whose run it is."""
    manager = lab()
    if snap.owner != owner:
        st.caption("You are watching a run started in another browser: only that browser can pause or stop it, "
                   "or change its learning rate.")
        return
    if snap.status == Status.QUEUED:
        st.button("Cancel", key="job_cancel", icon=":material/close:", on_click=manager.stop, args=(snap.id, owner))
        return
    a, b, _ = st.columns([1, 1, 6])
    if snap.status == Status.PAUSED:
        a.button("Resume", key="job_resume", icon=":material/play_arrow:", on_click=manager.resume,
                 args=(snap.id, owner))
    else:
        a.button("Pause", key="job_pause", icon=":material/pause:", on_click=manager.pause, args=(snap.id, owner))
    b.button("Stop", key="job_stop", icon=":material/stop:", on_click=stop, args=(snap.id, owner))
    learning_rate_control(snap, owner)


def apply_lr(job_id: str, owner: str) -> None:
    """Callback of Apply: the new learning rate is used from the run's next step."""
    lr = st.session_state.get(NEW_LR)
    try:
        applied = lab().set_lr(job_id, owner, lr)
    except ValueError as error:
        LR_MESSAGE.leave("error", str(error))
        return
    if applied:
        LR_MESSAGE.leave("success", f"Learning rate {lr:g} from the next step; the loss chart marks where.")
    else:
        LR_MESSAGE.leave("error", "The run is not training now, so its learning rate cannot change.")


def learning_rate_control(snap, owner: str) -> None:
    """A box and Apply: change the owner's run's learning rate while it trains (not for one-cycle runs)."""
    if snap.config.schedule != "constant":
        st.caption("This run follows a one-cycle schedule, which sets the learning rate at every step.")
        return
    current = snap.lr_changes[-1][1] if snap.lr_changes else snap.config.lr
    box, button, note = st.columns([2, 1, 4], vertical_alignment="bottom")
    box.number_input("Learning rate from the next step", min_value=1e-6, max_value=100.0, value=current,
                     step=None, format="%g", key=NEW_LR,
                     help="Try it live: raise it and watch the loss jump, lower it and watch the curve calm down.")
    button.button("Apply", key="job_apply_lr", icon=":material/tune:", on_click=apply_lr, args=(snap.id, owner))
    LR_MESSAGE.show(note)


def server_load(owner: str) -> None:
    """What the server is doing now, and this browser's place in it; a fragment that keeps it current."""
    manager = lab()
    st.caption(capacity_text(manager.capacity, manager.training, manager.waiting, manager.waiting_of(owner),
                             MAX_WAITING_PER_OWNER))
    if manager.notice:
        st.caption(manager.notice)


def live_panel(job_id: str, owner: str) -> bool:
    """The server's load, then one job's place in the queue or its progress, and its controls; False once it ended
    (live_fragment then redraws the page once, history included, and stops polling)."""
    manager = lab()
    snap = manager.get(job_id)
    if snap is None:  # gone from the lab (a restarted coordinator): the page's rerun drops its id
        return False
    server_load(owner)
    if snap.status == Status.QUEUED:
        st.info(queue_text(snap, manager.training), icon=":material/hourglass_top:")
        controls(snap, owner)
    elif snap.active:
        st.progress(snap.progress, text=progress_text(snap))
        controls(snap, owner)
    else:
        ENDED_BOX.get(snap.status, st.info)(end_text(snap))
    return snap.active


def live_charts(job_id: str) -> None:
    """One job's loss and epoch charts, once it has left the queue."""
    manager = lab()
    snap = manager.get(job_id)
    if snap is None or snap.status == Status.QUEUED:
        return
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Loss of each training step**")
        if len(snap.curve):
            lines = [("this run", snap.curve)]
            chart(loss_figure(lines, lr_changes=snap.lr_changes), loss_words(lines), key="live_loss")
            # Made when pressed, from the curve as it is then; the refreshes redraw the player, not the sound.
            listen([("this run", snap.curve, snap.total_steps // max(snap.epochs, 1))], key="live_listen",
                   made_for=snap.id)
        else:
            warming = manager.warming()  # a fresh server's workers, still loading torch and MNIST
            st.caption(warming_text(warming) if warming else "Preparing the data and the network…")
    with right:
        st.markdown("**After each epoch: loss and accuracy on the test set**")
        if snap.epoch_metrics:
            # The table below is the chart's numbers, shown to everyone: no second table in an expander.
            chart(epoch_figure(snap.epoch_metrics), epoch_words(snap.epoch_metrics), key="live_epochs", numbers=False)
            table_rows(
                [{"epoch": e["epoch"], "train loss": round(e["train_loss"], 4), "test loss": round(e["test_loss"], 4),
                  "test accuracy (%)": round(e["test_accuracy"], 2), "seconds": round(e["seconds"], 1)}
                 for e in snap.epoch_metrics]
            )
        elif snap.active:
            st.caption("The first epoch's test results appear when it ends.")
        else:
            st.caption("No epoch finished, so there are no test results.")


def gradient_flow(job_id: str) -> None:
    """Per layer, live: gradient norm, update size over weight size, and dead ReLUs."""
    snap = lab().get(job_id)
    if snap is None or snap.status == Status.QUEUED:
        return
    st.markdown("**Inside the network: how the gradients flow**")
    st.caption(GRADIENT_FLOW_TEXT)
    if not snap.layer_stats:
        st.caption("The first measurement comes after a few steps.")
        return
    for column, quantity in zip(st.columns(len(LAYER_QUANTITIES)), LAYER_QUANTITIES, strict=True):
        chart(layer_figure(snap.layer_stats, quantity), layer_words(snap.layer_stats, quantity),
              key=f"live_{quantity}", container=column)


st.title("Train")
params = link_params()
config = settings(params)
publish_settings(config)
manager = lab()
owner = owner_id()

job_id, _ = live_ids(params, manager)  # a refresh or a link shows that run live again
if params.get(JOB) and params[JOB] != job_id:
    st.info("The run in this link is no longer live on the server; the run history below has it.")
snapshot = manager.get(job_id)
doctor_shown = None  # the run whose doctor the page shows above the history
busy = snapshot is not None and snapshot.active

shown = settings_text(config)
if config.layers_text() not in shown:
    shown += f" ({config.layers_text()})"
st.markdown(f"Settings: **{shown}**.")
st.page_link("pages/hyperparameters.py", label="Change the settings", icon=":material/tune:")
student = st.session_state.get(STUDENT)
if student:
    st.text(f"On the Class page's board as: {student}")  # user text: plain text only, never Markdown
else:
    st.page_link("pages/class.py", label="Choose a display name to put your runs on the class board",
                 icon=":material/groups:")
over_budget = manager.over_budget(config)
if over_budget:
    st.warning(over_budget, icon=":material/block:")
tracker = tracker_problem(config.log_with)
if tracker:
    st.warning(f"This server cannot log the run as asked: {tracker}. Choose another \"Log to\" setting.",
               icon=":material/block:")
st.button("Train", type="primary", icon=":material/play_arrow:", key="train_start", on_click=start, args=(owner,),
          disabled=busy or bool(tracker), help="Trains in the background: you can leave this page and come back.")
REFUSED.show()
if snapshot is None:
    live_fragment(server_load, owner, every_s=CAPTION_REFRESH_S)
else:
    live_fragment(live_panel, snapshot.id, owner, every_s=PROGRESS_REFRESH_S, live=busy)
    for panel, refresh in ((live_charts, CHARTS_REFRESH_S), (gradient_flow, FLOW_REFRESH_S)):
        live_fragment(panel, snapshot.id, every_s=refresh, live=busy)
    if snapshot.status.ended and snapshot.run_id:  # the live panel reruns the page once when the run ends
        with contextlib.suppress(FileNotFoundError):  # deleted from the history meanwhile
            doctor_panel(manager.saved_run(snapshot.run_id), key="train_doctor")
            doctor_shown = snapshot.run_id

history_section(owner, doctor_shown)
