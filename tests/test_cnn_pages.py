"""A CNN run on the pages (AppTest, on random digits): the Hyperparameters page's settings and preview, Mistakes'
filters and feature maps, and the One training step tab, which stays the MLP's and says so."""

from dataclasses import replace

import streamlit as st

from core.engine.config import TrainConfig
from core.engine.model import build_cnn
from core.engine.presets import DEFAULT
from core.engine.run_store import RunStore
from core.engine.trainer import Trainer
from core.lessons import inside
from core.lessons.inside import feature_maps, feature_picture, first_conv_filters
from pages.ui.one_step_panel import TAB_LABEL as ONE_STEP_TAB

TINY_CNN = TrainConfig(architecture="cnn", conv_channels=(4, 6), kernel_size=3, hidden=(16,), epochs=1,
                       batch_size=100, optimizer="adam", lr=0.003, device="cpu")


def train_tiny_cnn(data) -> str:
    recorder = RunStore().create(TINY_CNN, label="tiny cnn")
    Trainer(TINY_CNN, data, callbacks=[recorder]).fit()
    return recorder.id


def texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [s.value for s in at.subheader] + [c.value for c in at.caption]
                     + [i.value for i in at.info])


def test_the_filters_and_feature_maps_of_a_digit_follow_the_network():
    model = build_cnn((4, 6), 3, (16,), seed=0)
    assert first_conv_filters(model).shape == (4, 3, 3)
    image = (inside.np.arange(28 * 28).reshape(28, 28) % 256).astype("uint8")
    maps = feature_maps(model, image)
    assert [m.maps.shape for m in maps] == [(4, 28, 28), (6, 14, 14)]
    assert maps[1].description == "6 feature maps of 14×14, after ReLU"
    assert all((m.maps >= 0).all() for m in maps)  # after ReLU
    picture = feature_picture(maps[0].maps, cols=4, scale=2)
    assert picture.shape == (2 * 28, 4 * 56 + 3 * 2) and picture.dtype == "uint8"
    assert picture.min() == 0  # the strongest response is black
    assert feature_maps(inside.nn.Sequential(inside.nn.Flatten(), inside.nn.Linear(784, 10)), image) == []


def test_the_hyperparameters_page_sets_a_cnn_and_previews_its_layers(lab):
    at = lab("pages/hyperparameters.py")
    assert at.text_input(key="hp_conv_channels").disabled and at.select_slider(key="hp_kernel_size").disabled
    at.radio(key="hp_architecture").set_value("cnn").run()
    assert not at.exception
    assert not at.text_input(key="hp_conv_channels").disabled
    at.text_input(key="hp_conv_channels").set_value("4, 8").run()
    at.select_slider(key="hp_kernel_size").set_value(3).run()
    assert at.query_params["architecture"] == "cnn" and at.query_params["conv_channels"] == "4-8"
    assert at.query_params["kernel_size"] == "3"
    (preview,) = at.table
    rows = preview.value.to_dict("records")
    assert {"Layer": "1: Conv2d", "Output per image": "4 × 28 × 28", "Parameters": "40"} in rows
    assert {"Layer": "6: MaxPool2d", "Output per image": "8 × 7 × 7", "Parameters": "0"} in rows
    chosen = replace(DEFAULT, architecture="cnn", conv_channels=(4, 8), kernel_size=3)
    assert chosen.layers_text() == "1 → 4 → 8 filters (3×3) → 392 → 256 → 128 → 10"
    assert any(chosen.layers_text() in m.value for m in at.markdown)
    assert any(m.label == "Parameters to learn" and m.value == f"{chosen.parameter_count():,}" for m in at.metric)
    at.text_input(key="hp_conv_channels").set_value("4, 8, 16, 32, 64").run()
    assert not at.exception
    assert any("1 to 4 layer sizes" in e.value for e in at.error)


def test_mistakes_shows_a_cnns_filters_and_feature_maps(lab, fake_mnist):
    train_tiny_cnn(fake_mnist)
    at = lab("pages/mistakes.py")
    at.session_state["mk_tab"] = "Inside the network"
    at.run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "What the first convolutional layer looks for: 4 filters" in shown
    captions = [caption for element in at.image for caption in element.captions]
    assert "Convolutional layer 1: 4 feature maps of 28×28, after ReLU" in captions
    assert "as each fully connected layer of 1 → 4 → 6 filters (3×3) → 294 → 16 → 10 sees it" in shown
    alts = [image.alt for element in at.image for image in element.proto.imgs]
    assert any(alt.startswith("4 filters of 3×3 weights") for alt in alts)
    assert any(alt.startswith("Convolutional layer 2: 6 grey pictures of 14×14") for alt in alts)
    at.toggle(key="mk_weight_scale").set_value(True).run()
    assert "each filter's own largest weight" in texts(at)


def test_the_one_step_tab_stays_the_mlps_and_says_so_for_a_cnn_run(lab, fake_mnist):
    run_id = train_tiny_cnn(fake_mnist)
    at = lab("pages/autograd.py")
    at.session_state["ag_tab"] = ONE_STEP_TAB
    at.run()
    at.segmented_control(key="os_network").set_value("run").run()
    at.selectbox(key="os_run").set_value(run_id).run()
    assert not at.exception, at.exception
    assert any("This run is a convolutional network (CNN)" in i.value for i in at.info)
    st.cache_resource.clear()
