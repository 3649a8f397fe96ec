"""The Autograd page's "One training step" tab, driven by AppTest: a digit, a network, a step and its pictures."""

import json
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pages.ui.one_step_panel import TAB_LABEL as ONE_STEP_TAB

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


@pytest.fixture
def step_tab(monkeypatch, tmp_path, fake_mnist):
    """The Autograd page with its fifth tab open, on a fake MNIST and an empty runs folder."""
    monkeypatch.setenv("MNIST_LAB_RUNS", str(tmp_path / "runs"))
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/autograd.py").run()
    at.session_state["ag_tab"] = ONE_STEP_TAB
    at.run()
    assert not at.exception, at.exception
    yield at
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
