"""Hyperparameters: every setting of a run, two presets, a preview of the network, and a sweep.

Thin on purpose: presets, URL handling, estimates and sweeps live in core/; this file lays out widgets.
The settings chosen here are the ones the Train page trains with (pages/ui/settings_state.py).
"""

from dataclasses import replace

import streamlit as st

from core.engine.config import SETTINGS, ConfigError, TrainConfig
from core.engine.model import build_model, describe_layers
from core.engine.presets import DESCRIPTIONS, PRESETS, preset_name
from core.engine.words import format_seconds, plural
from core.lab.estimate import estimate_epoch, estimate_finder_seconds
from core.lab.finder import FINDER_SPACING_S
from core.lab.jobs import RunRefused
from core.views.charts import lr_finder_figure, lr_finder_words
from core.views.doctor_view import use_lr_label
from core.views.history import network_words
from pages.ui.charts import chart
from pages.ui.common import owner_id, table
from pages.ui.live import CallbackMessage, live_fragment
from pages.ui.services import classroom, lab
from pages.ui.settings_state import enter_page, link_params, publish, publish_settings, set_settings, settings
from pages.ui.staff import unlocked
from pages.ui.sweep_panel import sweep_section

enter_page("pages/hyperparameters.py")

WIDGETS_FOR = "hp_widgets_for"  # the config the widgets were last filled from
LR_FOUND = "hp_lr_found"  # (settings it was run for, LrFinderResult) of the last learning-rate finder run
# Why the last finder gave no rate (refused, stopped): kept until the next click, while the finder's fragment polls.
FINDER_NOTE = CallbackMessage("hp_finder_note", keep=True)
FINDER_SEEN = "hp_finder_seen"  # the id of the finder whose outcome this session has taken in
FINDER_REFRESH_S = 1.0
KEYS = {name: f"hp_{name}" for name in SETTINGS}
LOCKED = "Locked by your instructor for the class"
LOCKED_WHY = f"{LOCKED}: every run uses this value."
# Where the widgets sit; every other setting goes into the left column of "More settings".
MAIN_COLUMNS = (("lr", "optimizer", "batch_size", "epochs", "normalize", "seed"),
                ("architecture", "conv_channels", "kernel_size", "hidden", "activation"))
MORE_RIGHT = ("overfit_one_batch", "overfit_steps", "device", "log_with")
MORE_LEFT = tuple(name for name in SETTINGS if name not in {*MAIN_COLUMNS[0], *MAIN_COLUMNS[1], *MORE_RIGHT})


def fill_widgets(config: TrainConfig) -> None:
    """Put a config's values into the widgets (before they are drawn, or in a callback)."""
    for name, key in KEYS.items():
        st.session_state[key] = SETTINGS[name].kind.widget_value(getattr(config, name))
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
    try:
        values = {name: SETTINGS[name].kind.from_widget(st.session_state[key]) for name, key in KEYS.items()}
        return replace(config, **values), None
    except (ValueError, ConfigError) as error:
        return config, str(error)


def draw_widget(name: str, config: TrainConfig, locked: bool = False) -> None:
    """The widget of one setting, as its Setting describes it, keyed hp_<name>; disabled, saying why, if locked."""
    described = SETTINGS[name]
    widget, current = described.widget, getattr(config, name)
    words = {"key": KEYS[name], "help": f"**{LOCKED_WHY}**\n\n{described.help}" if locked else described.help}
    if locked or (described.needs and st.session_state[KEYS[described.needs[0]]] != described.needs[1]):
        words["disabled"] = True  # locked, or it changes nothing with the settings above it (a kernel in an MLP)
    if widget.kind == "select_slider":
        st.select_slider(described.label, ladder(widget.ladder, current), format_func=described.kind.format, **words)
    elif widget.kind == "slider":
        st.slider(described.label, described.low, max(widget.high, current), **words)
    elif widget.kind == "radio":
        st.radio(described.label, described.choices, format_func=described.kind.format, horizontal=True, **words)
    elif widget.kind == "selectbox":
        st.selectbox(described.label, described.choices, format_func=described.kind.format, **words)
    elif widget.kind == "text_input":
        st.text_input(described.label, placeholder=widget.placeholder, **words)
    elif widget.kind == "number_input":
        st.number_input(described.label, described.kind.widget_low, described.high, step=widget.step, **words)
    elif widget.kind == "checkbox":
        st.checkbox(described.label, **words)
    else:
        raise ValueError(f"{name}: no such widget {widget.kind!r}")


st.title("Hyperparameters")
st.markdown(
    "The settings you choose here are the ones the **Train** page uses. They are also written into this "
    "page's address, so a link to it reproduces your setup."
)

params = link_params()
config = settings(params)
publish_settings(config)
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
locked = classroom().locked_for(owner_id(), join=not unlocked())  # with this student's class-experiment value
experiment = classroom().state().experiment
if experiment is not None and experiment.value_of(owner_id()) is not None:
    st.info(experiment.gift_words(owner_id()), icon=":material/science:")
if locked:
    st.warning(f"{LOCKED}: "
               + ", ".join(SETTINGS[name].label.lower() for name in locked)
               + ". They are shown greyed out; a run that changes them is refused.", icon=":material/lock:")
for column, names in zip(st.columns(2), MAIN_COLUMNS, strict=True):
    with column:
        for name in names:
            draw_widget(name, config, name in locked)
with st.expander("More settings: regularisation, less data, debugging, hardware, logging"):
    for column, names in zip(st.columns(2), (MORE_LEFT, MORE_RIGHT), strict=True):
        with column:
            for name in names:
                draw_widget(name, config, name in locked)

new_config, error = read_widgets(config)
if error:
    st.error(f"{error}. The last valid settings stay in use.", icon=":material/error:")
if new_config != config:
    config = new_config
    set_settings(config)
    publish(config)
    st.session_state[WIDGETS_FOR] = config

st.subheader("Preview of the network")
model = build_model(config)
rows = [row for row in describe_layers(model) if row.kind not in ("Flatten", "Unflatten")]
table({
    "Layer": [f"{row.name}: {row.kind}" for row in rows],
    "Output per image": [" × ".join(str(n) for n in row.output_shape) for row in rows],
    "Parameters": [f"{row.parameters:,}" for row in rows],
})
speed = lab().speed
epoch = estimate_epoch(config, speed or 1.0)
st.markdown(f"**{config.layers_text()}**, {network_words(config)}.")
m1, m2, m3 = st.columns(3)
m1.metric("Parameters to learn", f"{config.parameter_count():,}")
m2.metric("Time per epoch (estimate)", format_seconds(epoch.seconds))
m3.metric(f"Time for {plural(config.epochs, 'epoch')}", format_seconds(epoch.seconds * config.epochs))
st.caption(
    f"{epoch.steps:,} steps per epoch at about {epoch.step_seconds * 1000:.1f} ms each, plus "
    f"{format_seconds(epoch.eval_seconds)} to test on 10,000 images. "
    + ("Scaled to this server's speed, timed when it started; " if speed else "Not yet timed on this server; ")
    + "a server busy with other runs is slower."
)
over_budget = lab().over_budget(config)
if over_budget:
    st.warning(over_budget, icon=":material/block:")
st.page_link("pages/train.py", label="Train with these settings", icon=":material/model_training:")


def start_finder(config: TrainConfig, owner: str) -> None:
    """Callback of the finder's button: start it on the server (checked there: budget, one per student)."""
    FINDER_NOTE.clear()
    try:
        lab().start_finder(config, owner)
        lab().wait_finder(owner, FINDER_REFRESH_S)  # a light one answers in this rerun
    except RunRefused as refusal:
        FINDER_NOTE.leave("warning", str(refusal), icon=":material/block:")


def take_finder_outcome(owner: str) -> bool:
    """Keep the owner's ended finder's answer in this session, once; True while it still runs."""
    task = lab().finder(owner)
    if task is None:
        return False
    if not task.done:
        return True
    if st.session_state.get(FINDER_SEEN) != task.id:
        st.session_state[FINDER_SEEN] = task.id
        if task.result is not None:
            st.session_state[LR_FOUND] = (task.config, task.result)
        else:
            FINDER_NOTE.leave("warning", task.message, icon=":material/block:")
    return False


def finder_progress(owner: str) -> bool:
    """While the owner's finder runs: what it does, and Stop; False once it has ended (the page then reruns)."""
    if not take_finder_outcome(owner):
        return False
    st.info("Trying learning rates from 0.00001 to 10 with three seeds…", icon=":material/hourglass_top:")
    st.button("Stop the finder", key="lr_stop", icon=":material/stop:", on_click=lab().stop_finder, args=(owner,))
    return True


def lr_finder_section(config: TrainConfig, owner: str) -> None:
    """The learning-rate finder: its cost, a button, its curve with the pick, why, and a button to use the pick."""
    st.subheader("Learning-rate finder")
    st.markdown(
        "Trains a fresh network for a few hundred steps while the learning rate grows from 0.00001 to 10, "
        "and watches the loss: it falls faster and faster, then blows up. A good rate sits well before the "
        "blow-up. Nothing is trained for keeps, and your settings change only if you press **Use**."
    )
    manager = lab()
    problem = manager.finder_problem(config)
    if problem:
        st.warning(problem, icon=":material/block:")
    else:
        longest = estimate_finder_seconds(config, manager.speed or 1.0)
        st.caption(f"With these settings it takes up to {format_seconds(longest)} on this server (a finder may take "
                   f"at most {format_seconds(manager.budget.seconds)}, like a run); one at a time for each student, "
                   f"{FINDER_SPACING_S:.0f} s apart.")
    running = take_finder_outcome(owner)
    st.button("Find a learning rate for these settings", key="lr_find", icon=":material/search:",
              on_click=start_finder, args=(config, owner), disabled=running or bool(problem))
    if running:
        live_fragment(finder_progress, owner, every_s=FINDER_REFRESH_S)
    FINDER_NOTE.show()
    found = st.session_state.get(LR_FOUND)
    if found is None:
        return
    tested, result = found
    if replace(tested, lr=config.lr) != config:
        st.caption("Found for other settings than these: run it again.")
    chart(lr_finder_figure(result.points, result.suggested_lr),
          lr_finder_words(result.points, result.suggested_lr, f"{result.reason} ({format_seconds(result.seconds)})"),
          key="lr_curve")
    chosen = replace(config, lr=result.suggested_lr)
    st.button(use_lr_label(result.suggested_lr), key="lr_use", icon=":material/check:", on_click=apply,
              args=(chosen,), disabled=config.lr == result.suggested_lr,
              help="Sets the learning rate to the finder's suggestion; it is never changed without this click.")


lr_finder_section(config, owner_id())

sweep_section(config, owner_id(), params, apply)
