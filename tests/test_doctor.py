"""The run doctor on the issue's four real runs, the report card they save, and the doctor's edge cases.

Each case trains once per module (real MNIST, a few seconds in all) through the run store, so the diagnosis
is read back the way the pages read it: from run.json, epochs.json and steps.json.
"""

import json
import math

import pytest

from core.engine.config import TrainConfig
from core.engine.doctor import GOOD_LR, Code, diagnose, round_lr
from core.engine.events import EndEvent
from core.engine.presets import LECTURE
from core.engine.report_card import ReportCardEvent
from core.engine.run_store import RunStore
from core.engine.status import Status
from core.engine.trainer import Trainer
from core.views.doctor_view import finding_text, try_label

CASES = {
    "diverged": TrainConfig(lr=5.0),
    "lr_too_low": TrainConfig(lr=0.0001, epochs=1),
    "overfitting": TrainConfig(optimizer="adam", lr=0.001, train_subset=1000, epochs=30),
    "still_learning": LECTURE,
    "vanishing_gradients": TrainConfig(activation="sigmoid", hidden=(64,) * 8, epochs=1),
}


@pytest.fixture(scope="module")
def trained(mnist, tmp_path_factory):
    """Each case's run, trained once and read back from a run store; with the events it emitted."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    runs = {}
    for code, config in CASES.items():
        events = []
        recorder = store.create(config)
        Trainer(config, mnist, callbacks=[recorder, events.append]).fit()
        runs[code] = (store.load(recorder.id), events)
    return runs


@pytest.mark.parametrize("code", CASES)
def test_each_real_case_gets_its_diagnosis(trained, code):
    run, _ = trained[code]
    found = run.diagnosis()
    assert [d.code for d in found] == [code], [d.message for d in found]
    assert all(isinstance(d.code, Code) for d in found)


def test_vanishing_gradients_quote_the_ratio_and_try_relu_and_fewer_layers(trained):
    (found,) = trained["vanishing_gradients"][0].diagnosis()
    ratio = float(found.message.split("gradient is ", 1)[1].split(" times", 1)[0])
    assert ratio < 0.1 and "the last layer's" in found.message and "sigmoid" in found.message
    assert found.try_settings == {"activation": "relu", "hidden": [128, 64]}
    assert TrainConfig.from_dict({**TrainConfig().to_dict(), **found.try_settings}) == TrainConfig()
    assert try_label(found.try_settings) == "Try ReLU and hidden layers 128-64"
    assert finding_text(found.code, found.message).startswith(":orange-badge[Vanishing gradients] The first layer's")


def test_vanishing_gradients_need_a_deep_network_and_a_tiny_first_gradient():
    def epoch(first: float, n_hidden: int) -> dict:
        layers = [{"name": f"hidden {i}", "grad_norm": 0.5} for i in range(1, n_hidden + 1)]
        layers[0]["grad_norm"] = first
        return {"epoch": 1, "train_loss": 2.3, "test_loss": 2.3, "test_accuracy": 11.0,
                "layers": [*layers, {"name": "output", "grad_norm": 0.5}]}
    steps = [2.3] * 200
    tanh = TrainConfig(activation="tanh", hidden=(64,) * 4, epochs=1)
    (found,) = diagnose(steps, [epoch(1e-5, 4)], tanh, Status.FINISHED)
    assert found.code == Code.VANISHING_GRADIENTS and found.try_settings == {"activation": "relu", "hidden": [128, 64]}
    relu = TrainConfig(hidden=(64, 64), epochs=1)
    (found,) = diagnose(steps, [epoch(1e-5, 2)], relu, Status.FINISHED)
    assert found.code == Code.VANISHING_GRADIENTS and found.try_settings == {}  # nothing left to try but the words
    # One hidden layer, or a first gradient a tenth of the last: the loss creeping is the learning rate's fault.
    assert [d.code for d in diagnose(steps, [epoch(1e-5, 1)], relu, Status.FINISHED)] == [Code.LR_TOO_LOW]
    assert [d.code for d in diagnose(steps, [epoch(0.05, 4)], tanh, Status.FINISHED)] == [Code.LR_TOO_LOW]


def test_the_messages_quote_their_evidence_and_say_what_to_try(trained):
    diverged = trained["diverged"][0].diagnosis()[0]
    assert "learning rate 5" in diverged.message and diverged.try_settings == {"lr": 0.1}
    low = trained["lr_too_low"][0].diagnosis()[0]
    assert "after 938 steps" in low.message and "fell only 0.0" in low.message
    assert low.try_settings == {"lr": GOOD_LR["sgd"]}
    overfit = trained["overfitting"][0].diagnosis()[0]
    assert "gap of" in overfit.message and "rose to" in overfit.message
    assert overfit.try_settings == {"train_subset": 10_000}  # ten times more data
    still = trained["still_learning"][0].diagnosis()[0]
    assert "still rising" in still.message and still.try_settings == {"lr": 0.1}  # the "Try lr 0.1"
    assert json.loads(json.dumps(still.to_dict())) == {"code": "still_learning", "message": still.message,
                                                        "try": {"lr": 0.1}}
    for run, _ in trained.values():
        TrainConfig.from_dict({**run.config.to_dict(), **run.diagnosis()[0].try_settings})  # valid settings


def test_a_finished_run_saves_its_report_card_emitted_before_the_end(trained):
    run, events = trained["overfitting"]
    card = run.report_card
    assert set(card) == {"test_accuracy", "test_loss", "train_accuracy", "accuracy_gap", "ms_per_image",
                         "images_per_second"}
    assert card["train_accuracy"] == 100.0  # 1,000 images learned by heart
    assert card["test_accuracy"] == pytest.approx(run.record["test_accuracy"])
    assert card["accuracy_gap"] == pytest.approx(card["train_accuracy"] - card["test_accuracy"])
    assert card["ms_per_image"] > 0 and card["images_per_second"] > 1000
    kinds = [type(e) for e in events]
    assert kinds[-2:] == [ReportCardEvent, EndEvent]
    assert trained["diverged"][0].report_card is None  # nothing to grade


def test_a_damaged_report_card_marks_the_run_damaged(trained):
    run, _ = trained["still_learning"]
    record = json.loads((run.path / "run.json").read_text())
    record["report_card"] = {"test_accuracy": "high"}
    (run.path / "run.json").write_text(json.dumps(record))
    damaged = RunStore(run.path.parent).load(run.id)
    assert damaged.report_card is None and "report card" in damaged.problem
    assert damaged.diagnosis() == []
    (run.path / "run.json").write_text(json.dumps({**record, "report_card": run.report_card}))


def healthy_numbers(n_steps=500, epochs=3):
    steps = [2.3 * math.exp(-i / 100) + 0.1 for i in range(n_steps)]
    per_epoch = [dict(epoch=e, train_loss=0.3 / e, test_loss=0.3 / e, test_accuracy=97 + 0.1 * e)
                 for e in range(1, epochs + 1)]
    return steps, per_epoch


def test_a_good_run_is_healthy_and_too_short_a_run_is_not_judged():
    steps, epochs = healthy_numbers()
    config = TrainConfig(optimizer="adam", lr=0.001)
    (found,) = diagnose(steps, epochs, config, Status.FINISHED, train_accuracy=98.0)
    assert found.code == "healthy" and found.try_settings == {}
    assert diagnose(steps[:50], epochs[:1], config, Status.STOPPED) == []  # too short to say anything
    assert [d.code for d in diagnose(steps[:50], epochs, config, Status.FINISHED)] == ["healthy"]  # epochs say
    assert diagnose(steps, epochs, config, Status.FAILED) == []


def test_a_loss_that_climbs_back_is_a_learning_rate_too_high():
    steps, epochs = healthy_numbers()
    climbing = steps + [0.2 + i / 100 for i in range(200)]
    (found,) = diagnose(climbing, epochs, TrainConfig(lr=0.5), Status.FINISHED)
    assert found.code == "lr_too_high" and "climbed back" in found.message and found.try_settings == {"lr": 0.05}


def test_a_nan_step_is_a_divergence_whatever_the_status():
    steps, epochs = healthy_numbers()
    (found,) = diagnose([*steps[:30], math.nan], epochs, TrainConfig(lr=3.0), Status.STOPPED)
    assert found.code == "diverged" and "30 steps" in found.message


def test_learning_rates_are_rounded_as_people_type_them():
    assert round_lr(0.0996) == 0.1 and round_lr(0.00031) == 0.0003
