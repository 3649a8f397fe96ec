"""The Autograd page's "One training step" tab, driven by AppTest: a digit, a network, a step and its pictures."""

import json

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.engine.config import TrainConfig
from core.engine.run_store import RunStore
from core.engine.trainer import Trainer
from core.lessons.one_step import digit_inputs, network_weights, train_step
from pages.ui.one_step_panel import TAB_LABEL as ONE_STEP_TAB
from tests.lab_helpers import APP


def open_step_tab() -> AppTest:
    """A fresh server's Autograd page with the One training step tab open."""
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/autograd.py").run()
    at.session_state["ag_tab"] = ONE_STEP_TAB
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def step_tab(runs_dir, fake_mnist):
    """The Autograd page with its fifth tab open, on a fake MNIST and the runs folder of runs_dir."""
    yield open_step_tab()
    st.cache_resource.clear()


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_the_tab_shows_the_guess_the_check_and_the_adjustment(step_tab):
    at = step_tab
    text = " ".join(m.value for m in at.markdown)
    for words in ("Make a guess", "Check if right", "Adjust the thinking", "Repeat"):
        assert words in text
    # The digit, 2 hidden layers' activations, the first layer's 28×28 gradients, 2 heatmaps, 3 bias strips.
    assert len(at.get("image")) == 9
    (bars,) = [figure["data"] for figure in (json.loads(e.proto.spec) for e in at.get("plotly_chart"))
               if "before the step" in json.dumps(figure["data"])]
    assert [b["name"] for b in bars] == ["before the step", "after the step"]
    assert sum(bars[0]["y"]) == pytest.approx(100, abs=1e-6)
    assert float(metric(at, "Loss after the step")) < float(metric(at, "Loss"))
    assert metric(at, "Steps taken") == "0"


def test_every_picture_and_the_chart_say_what_they_show(step_tab, fake_mnist):
    at = step_tab
    label = int(fake_mnist.test_labels[0])
    alts = [img.alt for image in at.get("image") for img in image.proto.imgs]
    assert alts[0] == f"Test image #0, a {label}, as the network reads it: 28 × 28 pixels, light ink on dark."
    assert alts[1].startswith("Hidden 1: its 128 units as 8 × 16 squares") and all(alts)
    assert alts[3].startswith("Hidden 1: the gradients of the 784 weights into units ")
    assert alts[-1].startswith("Output: the gradients of its 10 biases as a row of squares")
    (chart,) = at.get("plotly_chart")
    assert chart.proto.alt.startswith("Bar chart of the probability of each digit, before and after the step. "
                                      f"The right digit, {label}: ")
    text = " ".join(m.value for m in at.markdown)
    assert f"The right digit, {label}: " in text and "Each picture is the input, as the network reads it" in text
    assert f"The right digit's row, {label}, is the only one below 0" in text
    tables = [frame.value for frame in at.dataframe]  # each "Show the numbers"
    assert [len(t) for t in tables] == [128, 64, 10, 128, 64, 10]  # activations, probabilities, gradients


def test_taking_steps_keeps_the_adjusted_weights_and_start_again_forgets_them(step_tab):
    at = step_tab
    first_loss = float(metric(at, "Loss"))
    after = metric(at, "Loss after the step")
    at.button(key="os_step").click().run()
    assert not at.exception
    assert metric(at, "Steps taken") == "1" and metric(at, "Loss") == after
    assert float(metric(at, "Loss")) < first_loss
    at.button(key="os_reset").click().run()
    assert metric(at, "Steps taken") == "0" and float(metric(at, "Loss")) == first_loss


def test_another_activation_and_the_digit_drawn_on_mistakes(step_tab):
    at = step_tab
    at.selectbox(key="os_activation").set_value("sigmoid").run()
    assert not at.exception and "sigmoid" in " ".join(m.value for m in at.markdown)
    drawn = np.zeros((28, 28), dtype=np.uint8)
    drawn[4:24, 13:16] = 255  # a one
    at.session_state["mk_my_digit"] = drawn
    at.run()
    at.segmented_control(key="os_digit").set_value("mine").run()
    at.selectbox(key="os_label").set_value(1).run()
    assert not at.exception
    captions = [c for image in at.get("image") for c in image.proto.imgs[0].caption.split("\n")]
    assert "your digit: a 1" in captions


def test_a_saved_runs_weights_take_the_step_with_its_activation(runs_dir, fake_mnist):
    config = TrainConfig(hidden=(16, 8), activation="tanh", dropout=0.2, epochs=1, train_subset=256, device="cpu")
    store = RunStore(runs_dir)
    recorder = store.create(config)
    Trainer(config, fake_mnist, callbacks=[recorder]).fit()
    at = open_step_tab()
    at.segmented_control(key="os_network").set_value("run").run()
    assert not at.exception, at.exception
    assert any("dropout 0.2" in c.value for c in at.caption)
    run = store.load(recorder.id)
    image, label = fake_mnist.test_images[0], int(fake_mnist.test_labels[0])
    expected = train_step(network_weights(run.model()), digit_inputs(image), label, "tanh", 0.1)
    assert metric(at, "Loss") == f"{expected.loss:.3f}"
    assert metric(at, "Loss after the step") == f"{expected.loss_after:.3f}"
    assert len(at.get("image")) == 9  # 2 hidden layers, as the run has
    st.cache_resource.clear()
