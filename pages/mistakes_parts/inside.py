"""Inside the network: the first layer's weights as pictures, and every layer's activations for one digit."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.lessons import inside
from core.lessons.mistakes import enlarge, top_k
from core.views.mistakes_charts import (
    activation_figure,
    activation_words,
    neuron_weights_alt,
    probability_chart,
    probability_words,
    weights_words,
)
from core.views.mistakes_view import digit_alt
from pages.mistakes_parts import keys
from pages.ui.charts import chart, described

TOP_NEURONS = 8
ACROSS = 16  # weight pictures per row


def show(run, model, images: np.ndarray, labels: np.ndarray) -> None:
    """Weights of the first layer (a CNN's filters), then a chosen test image (or the student's digit) through the
    network: a CNN's feature maps first, then the activations of the fully connected layers."""
    try:
        if run.config.architecture == "cnn":
            filters, weights = inside.first_conv_filters(model), None
        else:
            filters, weights = None, inside.first_layer_weights(model)
    except ValueError as error:
        st.error(f"This network cannot be shown here: {error}.")
        return
    if filters is not None:
        _filters(filters, run.config.kernel_size)
    else:
        _weights(weights)
    _activations(run, model, weights, images, labels)


def _filters(filters: np.ndarray, kernel: int) -> None:
    st.subheader(f"What the first convolutional layer looks for: {len(filters)} filters")
    per_filter = st.toggle("Scale each filter's colours on its own", key=keys.WEIGHT_SCALE,
                           help="Off: one colour scale for all, so filters can be compared. On: faint ones show too.")
    scale = max(4, 96 // kernel)  # about 96 screen pixels a filter, whatever its size
    limit = "each filter's own largest weight" if per_filter else f"±{inside.symmetric_limit(filters):.3f}"
    st.image(inside.weight_picture(filters, cols=min(len(filters), 8), scale=scale, per_neuron=per_filter),
             output_format="PNG", alt=f"{len(filters)} filters of {kernel}×{kernel} weights, drawn as small squares "
             "in red (positive), white (zero) and blue (negative), in a grid of up to 8 across.")
    st.caption(
        f"Each square is one filter: its {kernel}×{kernel} weights. It slides over the image and, at every place, "
        "multiplies the patch of pixels under it by these weights and adds them up: **red** where ink pushes its "
        "response up, **blue** where ink pushes it down. A red line beside a blue one finds an edge, wherever it "
        f"is in the digit. Full colour at {limit}."
    )


def _weights(weights: np.ndarray) -> None:
    st.subheader(f"What the first layer looks for: {len(weights)} weight pictures")
    per_neuron = st.toggle("Scale each neuron's colours on its own", key=keys.WEIGHT_SCALE,
                           help="Off: one colour scale for all, so neurons can be compared. On: faint ones show too.")
    # 16 across at 2 screen pixels per weight: 926 px, the page's width on a laptop, so never resized.
    words = weights_words(weights, per_neuron, inside.symmetric_limit(weights), ACROSS)
    st.image(inside.weight_picture(weights, cols=ACROSS, scale=2, per_neuron=per_neuron), output_format="PNG",
             alt=words.alt)
    limit = "each neuron's own largest weight" if per_neuron else f"±{inside.symmetric_limit(weights):.3f}"
    st.caption(
        "Each square is one neuron of the first hidden layer: its 784 weights laid out like the 28×28 pixels "
        "they multiply. **Red**: ink there pushes the neuron up; **blue**: ink there pushes it down; white: "
        f"that pixel hardly matters. Full colour at {limit}."
    )
    described(words, key="mk_weights")


def _activations(run, model, weights: np.ndarray | None, images: np.ndarray, labels: np.ndarray) -> None:
    st.subheader("Layers of understanding: one digit through the network")
    mine = st.session_state.get(keys.MY_DIGIT)
    source = "test"
    if mine is not None:  # a choice only once the student has drawn or uploaded a digit
        source = st.segmented_control(
            "Digit", ["test", "mine"], default="test", required=True, key=keys.INSIDE_SOURCE,
            format_func={"test": "A test image", "mine": "Your digit from “Try it yourself”"}.get,
        )  # fmt: skip
    if source == "mine":
        image, title = mine, "your digit"
    else:
        if keys.INSIDE_INDEX not in st.session_state:
            st.session_state[keys.INSIDE_INDEX] = int(st.session_state.get(keys.PICK, 0))
        index = st.number_input("Test image number", min_value=0, max_value=len(images) - 1, step=1,
                                key=keys.INSIDE_INDEX)
        image, title = images[int(index)], f"test image #{int(index)} (a {int(labels[int(index)])})"
    if run.config.architecture == "cnn":
        _feature_maps(model, image, title, run.config.normalize)
    layers = inside.activations(model, image, run.config.normalize)
    which = "fully connected layer" if run.config.architecture == "cnn" else "layer"
    st.markdown(f"From left to right, {title} as each {which} of {run.config.layers_text()} sees it:")
    hidden = layers[1:-2]
    columns = st.columns([1.2, *([2] * min(len(hidden), 3)), 1.6])
    columns[0].image(enlarge(image, 5), caption="Input: 784 pixels", output_format="PNG", alt=digit_alt(title))
    for k, layer in enumerate(hidden):
        column = columns[1 + k] if k < 3 else st
        rows, cols = inside.grid_shape(layer.values.size)
        active = int(np.count_nonzero(layer.values > 0))
        name = f"{layer.name}: {layer.values.size} neurons"
        chart(activation_figure(inside.as_grid(layer.values, cols), name), activation_words(layer.values, layer.name),
              key=f"mk_layer_{k}", container=column)
        column.caption(f"{active} of {layer.values.size} neurons active (above 0 after ReLU); darker = stronger.")
    with columns[-1]:
        probs = layers[-1].values
        guess, confidence = top_k(probs, 1)[0]
        chart(probability_chart(probs, height=220), probability_words(probs), key="mk_layer_out")
        st.caption(f"Output: 10 digits. It answers **{guess}** ({100 * confidence:.1f} %).")
    if hidden and weights is not None:
        _strongest(hidden[0].values, weights)


def _feature_maps(model, image: np.ndarray, title: str, normalize: str) -> None:
    """Each convolutional layer's feature maps for the digit: where each filter found its pattern."""
    st.markdown(f"**Feature maps:** {title} through each convolutional layer. Each small picture is one filter's "
                "response at every place of the digit: **dark** where it found its pattern, white where it did not. "
                "Max-pooling then halves each picture before the next layer.")
    columns = st.columns([1, 4])
    columns[0].image(enlarge(image, 3), caption="Input: 28×28 pixels", output_format="PNG",
                     alt=f"The digit shown: {title}, 28×28 pixels enlarged.")
    for k, maps in enumerate(inside.feature_maps(model, image, normalize)):
        column = columns[1] if k == 0 else st
        filters, side = maps.maps.shape[0], maps.maps.shape[1]
        picture = inside.feature_picture(maps.maps, cols=min(filters, 8), scale=max(1, 84 // side))
        strongest = int(np.argmax(maps.maps.reshape(filters, -1).max(axis=1)))
        column.image(picture, caption=f"{maps.name}: {maps.description}", output_format="PNG",
                     alt=f"{maps.name}: {filters} grey pictures of {side}×{side}, one per filter, for {title}; "
                     f"darker where the filter responds; filter {strongest} responds most strongly.")


def _strongest(values: np.ndarray, weights: np.ndarray) -> None:
    top = [(i, v) for i, v in top_k(values, TOP_NEURONS) if v > 0]
    limit = inside.symmetric_limit(weights)  # the same colours as the big picture above
    if not top:
        st.caption("No neuron of the first hidden layer fires for this digit.")
        return
    st.markdown(f"**The {len(top)} most active neurons of hidden layer 1, and the weights that made them fire:**")
    pictures = [inside.weight_picture(weights[[i]], cols=1, scale=3, limit=limit) for i, _ in top]
    st.image(pictures, caption=[f"neuron {i}: {v:.2f}" for i, v in top], width=pictures[0].shape[1],
             output_format="PNG", alt=[neuron_weights_alt(i, v) for i, v in top])
