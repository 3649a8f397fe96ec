"""Hyperparameters: every setting of a run, two presets, a preview of the network, and a sweep.

Thin on purpose: presets, URL handling, estimates and sweeps live in core/; this file lays out widgets.
The settings chosen here are the ones the Train page trains with (pages/ui/settings_state.py).
"""

from dataclasses import replace

import streamlit as st

from core.engine.config import DEVICES, MIXED_PRECISIONS, N_TRAIN, ConfigError, TrainConfig
from core.engine.model import build_mlp, describe_layers
from core.engine.network_size import count_parameters
from core.engine.presets import DESCRIPTIONS, PRESETS, preset_name
from core.lab.estimate import estimate_epoch
from core.lab.urlconfig import hidden_field_text, parse_hidden
from core.views.words import format_seconds, plural
from pages.ui.common import job_manager, owner_id, table
from pages.ui.settings_state import enter_page, link_params, publish, set_settings, settings
from pages.ui.sweep_panel import sweep_section

enter_page("pages/hyperparameters.py")

LR_LADDER = (0.00001, 0.0001, 0.0003, 0.001, 0.002, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
BATCH_LADDER = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
DECAY_LADDER = (0.0, 0.00001, 0.0001, 0.001, 0.01, 0.1)
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam"}
NORMALIZE_NAMES = {"plain": "0 to 1 (plain)", "standard": "standardised (mean 0, std 1)"}
WIDGETS_FOR = "hp_widgets_for"  # the config the widgets were last filled from

HELP = {
    "lr": "How far each step moves the weights along the gradient. **Too high** and the steps overshoot: "
    "the loss jumps around or shoots up to NaN (try 3 with SGD). **Too low** and every step is tiny: the "
    "loss creeps down and the run ends long before the network has learned (try 0.0001 with SGD). "
    "Adam wants smaller rates (around 0.001) than plain SGD (around 0.01-0.1).",
    "optimizer": "**SGD** takes the plain gradient step. **Momentum** keeps a running direction (90 % of "
    "the last one), so it rolls through small bumps and speeds up along consistent slopes. **Adam** also "
    "scales each weight's step by how large its gradients usually are: fast and forgiving, the usual "
    "first choice.",
    "batch_size": "Images averaged into one gradient step. Small batches give noisy steps but many of them "
    "per epoch; large batches give smooth, accurate steps but few of them, and each costs more. With a "
    "larger batch you can usually raise the learning rate.",
    "epochs": "Passes over the training set. More epochs keep lowering the training loss; watch the test "
    "loss: when it starts rising while the training loss falls, the network is memorising (overfitting).",
    "hidden": "Sizes of the hidden layers, separated by commas: `128, 64` is the lecture's "
    "784 → 128 → 64 → 10. Wider or more layers can learn more, cost more time per step and overfit "
    "sooner. `none` trains a linear classifier (about 92 %).",
    "normalize": "**Plain** scales pixels to 0..1 as ToTensor does. **Standardised** shifts and scales them "
    "to mean 0, standard deviation 1 (MNIST's mean 0.1307, std 0.3081): the first layer's inputs are then "
    "centred, its gradients better balanced, and training usually converges faster at the same learning "
    "rate.",
    "seed": "Fixes the random start: the initial weights and the order of the batches. The same seed and "
    "settings give the same run; another seed shows how much of a result is luck.",
    "weight_decay": "Pulls every weight a little towards 0 at each step (L2 regularisation). A little "
    "(0.0001) can reduce overfitting; too much keeps the network from learning at all.",
    "train_subset": "Train on a fixed random part of the 60,000 training images (0 = all of them). A few "
    "thousand images train fast and show overfitting clearly: training loss falls, test loss rises.",
    "overfit_one_batch": "A debugging classic: train on one fixed batch only. A correct network and "
    "training loop drive its loss near 0; if it does not, something is wrong in the code, not the data.",
    "overfit_steps": "Steps per epoch on that one batch.",
    "mixed_precision": "Compute in 16-bit floats where it is safe (fp16 or bf16): faster on GPUs with "
    "tensor cores, usually no gain on a CPU. `no` keeps full 32-bit precision.",
    "device": "`auto` trains on a GPU when the server has one, else on the CPU; `cpu` forces the CPU.",
}
KEYS = {name: f"hp_{name}" for name in HELP}


def widget_value(name: str, config: TrainConfig):
    """What the widget for `name` shows for this config."""
    value = getattr(config, name)
    if name == "hidden":
        return hidden_field_text(value)
    if name == "train_subset":
        return value or 0
    return value


def fill_widgets(config: TrainConfig) -> None:
    """Put a config's values into the widgets (before they are drawn, or in a callback)."""
    for name, key in KEYS.items():
        st.session_state[key] = widget_value(name, config)
    st.session_state[WIDGETS_FOR] = config


def apply(config: TrainConfig) -> None:
    """Callback: make `config` the settings and show it in the widgets."""
    set_settings(config)
    fill_widgets(config)


def ladder(values: tuple, current) -> list:
    """A slider's stops, with the current value added when a link brought one that is not on it."""
    return sorted({*values, current})


def read_widgets(config: TrainConfig) -> tuple[TrainConfig, str | None]:
    """The config the widgets describe, or the old one and an error message."""
    s = st.session_state
    try:
        hidden = parse_hidden(s[KEYS["hidden"]])
        values = {name: s[key] for name, key in KEYS.items() if name != "hidden"}
        values["train_subset"] = values["train_subset"] or None
        return replace(config, hidden=hidden, **values), None
    except (ValueError, ConfigError) as error:
        return config, str(error)


st.title("Hyperparameters")
st.markdown(
    "The settings you choose here are the ones the **Train** page uses. They are also written into this "
    "page's address, so a link to it reproduces your setup."
)

params = link_params()
config = settings(params)
if st.session_state.get(WIDGETS_FOR) != config or any(key not in st.session_state for key in KEYS.values()):
    fill_widgets(config)

st.subheader("Presets")
current_preset = preset_name(config)
columns = st.columns(len(PRESETS))
for column, (name, preset) in zip(columns, PRESETS.items(), strict=True):
    with column:
        st.button(f"{name} preset", key=f"preset_{name}", on_click=apply, args=(preset,),
                  type="primary" if current_preset == name else "secondary", icon=":material/bolt:")
        st.caption(DESCRIPTIONS[name])
st.caption(f"Now: **{current_preset or 'your own settings'}**.")

st.subheader("Settings")
left, right = st.columns(2)
with left:
    st.select_slider("Learning rate", ladder(LR_LADDER, config.lr), key=KEYS["lr"], help=HELP["lr"],
                     format_func=lambda v: f"{v:g}")
    st.radio("Optimizer", list(OPTIMIZER_NAMES), key=KEYS["optimizer"], format_func=OPTIMIZER_NAMES.get,
             horizontal=True, help=HELP["optimizer"])
    st.select_slider("Batch size", ladder(BATCH_LADDER, config.batch_size), key=KEYS["batch_size"],
                     help=HELP["batch_size"])
    st.slider("Epochs", 1, max(20, config.epochs), key=KEYS["epochs"], help=HELP["epochs"])
with right:
    st.text_input("Hidden layers", key=KEYS["hidden"], help=HELP["hidden"], placeholder="128, 64")
    st.radio("Pixel scaling", list(NORMALIZE_NAMES), key=KEYS["normalize"], format_func=NORMALIZE_NAMES.get,
             horizontal=True, help=HELP["normalize"])
    st.number_input("Random seed", 0, 2**31 - 1, step=1, key=KEYS["seed"], help=HELP["seed"])
with st.expander("More settings: regularisation, less data, debugging, hardware"):
    a, b = st.columns(2)
    with a:
        st.select_slider("Weight decay", ladder(DECAY_LADDER, config.weight_decay), key=KEYS["weight_decay"],
                         format_func=lambda v: f"{v:g}", help=HELP["weight_decay"])
        st.number_input("Training images (0 = all 60,000)", 0, N_TRAIN, step=1000, key=KEYS["train_subset"],
                        help=HELP["train_subset"])
        st.selectbox("Mixed precision", MIXED_PRECISIONS, key=KEYS["mixed_precision"],
                     help=HELP["mixed_precision"])
    with b:
        st.checkbox("Overfit one batch", key=KEYS["overfit_one_batch"], help=HELP["overfit_one_batch"])
        st.number_input("Steps on that batch per epoch", 1, 10_000, step=10, key=KEYS["overfit_steps"],
                        help=HELP["overfit_steps"], disabled=not st.session_state[KEYS["overfit_one_batch"]])
        st.selectbox("Device", DEVICES, key=KEYS["device"], help=HELP["device"])

new_config, error = read_widgets(config)
if error:
    st.error(f"{error}. The last valid settings stay in use.", icon=":material/error:")
if new_config != config:
    config = new_config
    set_settings(config)
    publish(config)
    st.session_state[WIDGETS_FOR] = config

st.subheader("Preview of the network")
model = build_mlp(config.hidden)
rows = [row for row in describe_layers(model) if row.kind != "Flatten"]
table({
    "Layer": [f"{row.name}: {row.kind}" for row in rows],
    "Output per image": [" × ".join(str(n) for n in row.output_shape) for row in rows],
    "Parameters": [f"{row.parameters:,}" for row in rows],
})
speed = job_manager().speed
epoch = estimate_epoch(config, speed or 1.0)
st.markdown(f"**{config.architecture()}**, with ReLU after every hidden layer.")
m1, m2, m3 = st.columns(3)
m1.metric("Parameters to learn", f"{count_parameters(config.hidden):,}")
m2.metric("Time per epoch (estimate)", format_seconds(epoch.seconds))
m3.metric(f"Time for {plural(config.epochs, 'epoch')}", format_seconds(epoch.seconds * config.epochs))
st.caption(
    f"{epoch.steps:,} steps per epoch at about {epoch.step_seconds * 1000:.1f} ms each, plus "
    f"{format_seconds(epoch.eval_seconds)} to test on 10,000 images. "
    + ("Scaled to this server's speed, timed when it started; " if speed else "Not yet timed on this server; ")
    + "a server busy with other runs is slower."
)
over_budget = job_manager().budget.problem(config, speed or 1.0)
if over_budget:
    st.warning(over_budget, icon=":material/block:")
st.page_link("pages/train.py", label="Train with these settings", icon=":material/model_training:")

sweep_section(config, owner_id(), params, apply)
