"""The pages offer only what the viewer may do (issue 17): Delete… on one's own runs, the finder's limits and its
Stop. Through Streamlit's AppTest, on the small fake MNIST."""

from core.engine.config import TrainConfig
from core.engine.events import EndEvent, TrainResult
from core.engine.run_store import RunStore
from core.engine.status import Status

# A finder estimated at about 45 s on the lab machine: long enough to be stopped before it ends, and within the
# budget (600 s) even where the lab times its machine 10x slower. The lab's timing ends in the background during a
# test, and a finder of 190 s (3 layers of 1,024) became over budget when a loaded machine was timed 3.3x slower.
LONG_FINDER = TrainConfig(batch_size=1024, hidden=(512, 512))


def saved_run(runs_dir, owner: str) -> str:
    recorder = RunStore(runs_dir).create(TrainConfig(), label=f"by {owner}", owner=owner)  # titles differ
    recorder(EndEvent(Status.STOPPED, "stopped at epoch 1 of 3, step 0", TrainResult(Status.STOPPED, "stopped")))
    return recorder.id


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_delete_is_offered_only_on_the_viewers_own_runs(lab, runs_dir):
    at = lab("pages/train.py")
    theirs = saved_run(runs_dir, "someone else")
    at.run()
    assert at.selectbox(key="history_run").value == theirs
    assert not [b for b in at.button if b.key == "history_delete"]
    assert "Only the browser that trained this run, or the instructor, may delete it." in captions(at)
    mine = saved_run(runs_dir, at.session_state["lab_owner"])
    at.run()
    at.selectbox(key="history_run").set_value(mine).run()
    at.button(key="history_delete").click().run()
    assert not at.exception and at.button(key="history_delete_confirm")  # the dialog asks (AppTest cannot click
    # inside a dialog opened by a button; JobManager.delete_run's own checks are in tests/test_fairness.py)


def test_the_finders_limit_is_stated_before_the_click(lab):
    at = lab("pages/hyperparameters.py")
    assert "takes up to" in captions(at) and "one at a time for each student" in captions(at)
    at.session_state["lab_config"] = TrainConfig(hidden=(1024,) * 16, batch_size=8192)
    at.run()
    assert any("learning-rate finder would take up to" in w.value for w in at.warning)
    assert at.button(key="lr_find").disabled


def test_a_running_finder_has_a_stop_for_its_student(lab):
    at = lab("pages/hyperparameters.py")
    at.session_state["lab_config"] = LONG_FINDER
    at.run()
    at.button(key="lr_find").click().run()
    assert not at.exception and at.button(key="lr_find").disabled  # one at a time
    assert not any("learning-rate finder would take" in w.value for w in at.warning)  # disabled for that reason
    at.button(key="lr_stop").click().run()
    from pages.ui import services

    # Returns once stopped. A finder helper runs at nice 19 (below training): on a busy machine it is the last to get
    # a core, and it took more than 10 s to see the Stop.
    task = services.lab().wait_finder(at.session_state["lab_owner"], 60)
    assert task.done and task.stopped
    at.run()
    assert any("stopped before it found a rate" in w.value for w in at.warning)
    assert not at.button(key="lr_find").disabled and "hp_lr_found" not in at.session_state
    at.button(key="lr_find").click().run()  # at once again: the student is told how long to wait
    assert not at.exception and any("You can start another learning-rate finder in" in w.value for w in at.warning)

