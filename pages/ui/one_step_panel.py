"""The Autograd page's "One training step" tab: one real step of the network on one digit, seen whole.

Widgets and pictures only: the step is computed in core.lessons.one_step, its pictures and words come from
core.views.one_step_view.
"""

from __future__ import annotations

import streamlit as st

from core.engine.config import ACTIVATIONS, SETTINGS
from pages.mistakes_parts import keys as mistakes_keys
from pages.ui.charts import chart, described
from pages.ui.common import crisp_images, mnist

# The lab, the Mistakes loaders and the pictures import torchvision, torchmetrics and Accelerate (about 3 s
# in a fresh server): they are imported when the tab is first opened, so the Autograd page paints without them.

TAB_LABEL = "5. One training step"  # the Autograd page's tab, and its value in session state ("ag_tab")
DIGIT, INDEX, LABEL = "os_digit", "os_index", "os_label"
NETWORK, SEED, ACTIVATION, RUN, LR = "os_network", "os_seed", "os_activation", "os_run", "os_lr"
STEPPED = "os_stepped"  # (the network it started from, its weights after the steps taken, how many)
LR_LADDER = (0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
DEFAULTS = {DIGIT: "test", INDEX: 0, LABEL: 0, NETWORK: "fresh", SEED: 0, ACTIVATION: "relu", LR: 0.1}


def _digit(images, labels):
    """The digit chosen (a test image, or the one drawn on Mistakes) and the digit it should be."""
    mine = st.session_state.get(mistakes_keys.MY_DIGIT)
    sources = ["test", "mine"] if mine is not None else ["test"]
    if st.session_state[DIGIT] not in sources:
        st.session_state[DIGIT] = "test"
    source = st.segmented_control(
        "Digit", sources, required=True, key=DIGIT,
        format_func={"test": "A test image", "mine": "Yours, drawn on Mistakes"}.get,
        help="Draw your own on the Mistakes page (“Try it yourself”) and it can be used here too.",
    )  # fmt: skip
    if source == "mine":
        label = st.selectbox("Which digit is it?", range(10), key=LABEL,
                             help="The right answer the loss checks the guess against.")
        return mine, int(label), "your digit"
    index = int(st.number_input("Test image number", 0, len(images) - 1, step=1, key=INDEX))
    return images[index], int(labels[index]), f"test image #{index}"


def _network():
    """The network's layer weights, its activation and pixel scaling, and a key naming where they came from."""
    from core.lessons import one_step
    from pages.mistakes_parts import loaders
    from pages.ui.services import saved_runs

    runs = [run for run in saved_runs() if run.has_model]
    source = st.segmented_control(
        "Network", ["fresh", "run"] if runs else ["fresh"], required=True, key=NETWORK,
        format_func={"fresh": "Freshly initialised", "run": "A saved run's weights"}.get,
    )  # fmt: skip
    if source == "run" and runs:
        by_id = {run.id: run for run in runs}
        run_id = st.selectbox("Run", list(by_id), key=RUN,
                              format_func=lambda i: f"{by_id[i].config.layers_text()} · {i}")
        run = by_id[run_id]
        if run.config.architecture != "mlp":
            st.info("This run is a convolutional network (CNN). The step here is the lecture's fully connected "
                    "network's, computed by hand layer by layer: choose a run of an MLP, or a freshly initialised "
                    "network. A CNN's filters and feature maps are on the Mistakes page, “Inside the network”.",
                    icon=":material/info:")
            return None
        model = loaders.model(run)
        if model is None:
            return None
        if run.config.dropout:
            st.caption(f"This run trained with dropout {run.config.dropout:g}; the step here uses every unit, "
                       "as the network does when it predicts.")
        return one_step.network_weights(model), run.config.activation, run.config.normalize, ("run", run_id)
    seed = int(st.number_input("Seed of the initial weights", 0, 2**31 - 1, step=1, key=SEED,
                               help="The lecture's 784 → 128 → 64 → 10, initialised as a run with this seed."))
    activation = st.selectbox("Activation function", ACTIVATIONS, key=ACTIVATION,
                              format_func=SETTINGS["activation"].choice_labels.get)
    return one_step.fresh_weights(seed), activation, "plain", ("fresh", seed, activation)


def _take_step(origin, weights, steps: int) -> None:
    st.session_state[STEPPED] = (origin, weights, steps)


def one_step_tab() -> None:
    """The whole tab: choose a digit, a network and a learning rate; see the step's pictures."""
    from core.lessons import one_step
    from core.views import one_step_view as view

    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
    crisp_images()
    st.markdown(
        "The lecture's learning loop: **make a guess, check if right, adjust the thinking, repeat**. Here is "
        "one real step of the real network on one digit, every number computed by hand with the chain rule "
        "(and checked against `torch.autograd` in the lab's tests)."
    )
    data = mnist()
    if data is None:
        return
    images, labels = data.test_images.numpy(), data.test_labels.numpy()
    left, middle, right = st.columns(3, gap="large")
    with left:
        image, label, title = _digit(images, labels)
    with middle:
        network = _network()
    with right:
        lr = st.select_slider("Learning rate", LR_LADDER, key=LR, help=SETTINGS["lr"].help)
    if network is None:
        return
    weights, activation, normalize, origin = network
    stepped = st.session_state.get(STEPPED)
    steps = 0
    if stepped is not None and stepped[0] == origin:
        _, weights, steps = stepped
    step = one_step.train_step(weights, one_step.digit_inputs(image, normalize), label, activation, lr)
    words = view.step_words(step)

    st.markdown(words["guess"])
    pictures = st.columns([1, *([2] * len(step.layers[:-1])), 3])
    pictures[0].image(view.digit_picture(image), caption=f"{title}: a {label}", output_format="PNG",
                      alt=view.step_digit_alt(title, label))
    for k, (column, layer) in enumerate(zip(pictures[1:-1], step.layers[:-1], strict=True)):
        shown = view.activation_words(layer)
        column.image(view.activation_picture(layer.outputs), output_format="PNG",
                     caption=f"{layer.name}: {layer.outputs.numel()} units", alt=shown.alt)
        described(shown, container=column, key=f"os_activations_{k}")
    with pictures[-1]:
        st.markdown(words["check"])
        a, b = st.columns(2)
        a.metric("Guess", step.predicted, help="The digit with the highest probability.")
        b.metric("Loss", f"{step.loss:.3f}")
    chart(view.probability_figure(step), view.probability_words(step), key="os_probabilities")

    st.markdown(words["adjust"])
    first = step.layers[0]
    picture, units = view.first_layer_pictures(first.grad_weight)
    shown = view.first_layer_words(first, units)
    st.image(picture, output_format="PNG", alt=shown.alt,
             caption=f"{first.name}: the gradient of the 784 weights into units {', '.join(map(str, units))} "
             "(the ones this step changes most), laid out like the pixels they multiply")
    described(shown, key="os_gradients_0")
    for k, layer in enumerate(step.layers[1:], start=1):
        shown = view.gradient_words(layer, label, output=k == len(step.layers) - 1)
        st.image(view.gradient_heatmap(layer.grad_weight), output_format="PNG", alt=shown.alt,
                 caption=view.gradient_caption(layer.name, layer.grad_weight))
        described(shown, key=f"os_gradients_{k}")
    for k, layer in enumerate(step.layers):  # their numbers: the column "d loss / d sum" of each table above
        st.image(view.bias_picture(layer.grad_bias), output_format="PNG",
                 alt=view.bias_alt(layer, output=k == len(step.layers) - 1),
                 caption=f"{layer.name}: the gradient of its {layer.grad_bias.numel()} biases")

    st.markdown(words["repeat"])
    a, b, c = st.columns(3)
    a.metric("Guess after the step", step.predicted_after, delta=None)
    b.metric("Loss after the step", f"{step.loss_after:.3f}", delta=f"{step.loss_after - step.loss:+.3f}",
             delta_color="inverse")
    c.metric("Steps taken", steps)
    st.markdown(view.outcome_text(step))
    one, two = st.columns(2)
    one.button("Take this step", key="os_step", icon=":material/step_over:", type="primary", on_click=_take_step,
               args=(origin, step.new_weights, steps + 1),
               help="Keep the adjusted weights and show the next step from them.")
    two.button("Start again", key="os_reset", icon=":material/restart_alt:", disabled=not steps,
               on_click=st.session_state.pop, args=(STEPPED, None))
