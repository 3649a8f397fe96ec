"""The doctor, the report card and the learning-rate finder on the pages, through Streamlit's AppTest.

MNIST is the small fake here: the pages' wiring is under test, the diagnoses themselves in test_doctor.py.
"""

import json
from pathlib import Path

import pytest

from core.engine.config import TrainConfig
from core.engine.events import EndEvent, StepEvent, TrainResult
from core.engine.run_store import RunStore
from core.engine.status import Status
from tests.lab_helpers import wait_until


def diverged_run(runs_dir) -> str:
    """A saved run of SGD at learning rate 5 whose loss blew up at step 6 (what the Trainer records)."""
    config = TrainConfig(lr=5.0)
    recorder = RunStore(runs_dir).create(config)
    for step, loss in enumerate([2.3, 2.9, 4.0, 85.0, 143.0], start=1):
        recorder(StepEvent(1, step, step, 938, loss, 64 * step, 0.01 * step))
    message = "the loss exploded to 1,617 at step 6 with learning rate 5: lower the learning rate"
    recorder(EndEvent(Status.DIVERGED, message, TrainResult(Status.DIVERGED, message, steps=6)))
    return recorder.id


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_history_diagnoses_a_run_and_its_try_button_sets_the_settings_and_opens_train(lab, runs_dir):
    diverged_run(runs_dir)
    at = lab("pages/train.py")
    assert ":red-badge[Diverged]" in markdown(at) and "from 2.3 to 143 in 5 steps" in markdown(at)
    button = at.button(key="history_doctor_try_0")
    assert button.label == "Try learning rate 0.1"
    button.click().run()
    assert not at.exception
    assert at.session_state["lab_config"] == TrainConfig(lr=0.1)  # the run's settings, with the change
    assert any("lr 0.1" in m for m in [m.value for m in at.markdown if m.value.startswith("Settings:")])


def test_a_finished_run_shows_its_report_card(lab, runs_dir):
    run_id = diverged_run(runs_dir)
    path = Path(runs_dir) / run_id / "run.json"
    card = {"test_accuracy": 97.4, "test_loss": 0.084, "train_accuracy": 98.6, "accuracy_gap": 1.2,
            "ms_per_image": 0.031, "images_per_second": 184710.0}
    path.write_text(json.dumps({**json.loads(path.read_text()), "status": "finished", "report_card": card}))
    at = lab("pages/train.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Accuracy": "97.40 %", "Loss": "0.084", "Time per image": "0.031 ms",
                       "Consistency": "+1.2 points"}
    assert any("184,710 images per second" in m.help for m in at.metric)


@pytest.mark.slow  # the finder trains its 3 seeds × 240 steps before the page can answer
def test_the_finder_shows_its_curve_and_changes_the_rate_only_when_asked(lab):
    at = lab("pages/hyperparameters.py")
    before = at.session_state["lab_config"]
    at.button(key="lr_find").click().run()
    assert not at.exception
    # The finder runs in the background (so it can be stopped); the page polls it until it answers.
    wait_until(lambda: "hp_lr_found" in at.run().session_state, timeout=60, what="the finder's answer")
    found = at.session_state["hp_lr_found"][1]
    assert at.session_state["lab_config"] == before  # never applied silently
    (chart,) = [e for e in at.get("plotly_chart") if json.loads(e.proto.spec)["layout"]["xaxis"]["type"] == "log"]
    traces = json.loads(chart.proto.spec)["data"]
    assert [t["name"] for t in traces] == ["smoothed loss", "suggested"]
    assert traces[1]["x"] == [found.suggested_lr]
    assert found.reason in markdown(at)
    # The curve in words: where the loss was lowest and the suggested rate, in its alt and beside it.
    assert f"The star marks the suggested rate, {found.suggested_lr:g}." in chart.proto.alt
    assert "its lowest" in chart.proto.alt and chart.proto.alt.split(". ", 1)[1] in markdown(at)
    use = at.button(key="lr_use")
    assert use.label == f"Use {found.suggested_lr:g}"
    use.click().run()
    assert at.session_state["lab_config"].lr == found.suggested_lr
    assert at.button(key="lr_use").disabled  # already in use
