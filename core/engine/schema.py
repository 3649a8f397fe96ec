"""The words that describe a setting once: its range, its names for people, its flag, its widget.

TrainConfig's fields carry one Setting each (core.engine.config.SETTINGS); the CLI, links, the run history,
the Hyperparameters page, sweeps and the exported script are derived from them and from each Setting's kind
(core.engine.kinds), so a new setting is described in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from core.engine.kinds import Choice, ConfigError, Kind, Number, Subset, Switch, Whole, plain_number
from core.engine.layer_sizes import Hidden

__all__ = ["KINDS", "Cli", "ConfigError", "Setting", "SweepValues", "Widget", "plain_number", "setting", "settings_of"]

KINDS = tuple(kind.name for kind in (Number, Whole, Choice, Switch, Hidden, Subset))  # what a setting's kind may be


@dataclass(frozen=True)
class Cli:
    """How `python -m core.train` spells a setting."""

    help: str  # one line for --help; {default}, {low} and {high} are filled in
    flag: str = ""  # "" means --the-field-name
    alone: Any = None  # the value meant by the flag given without one (--normalize alone means standard)
    switch: Any = None  # the flag takes no value and sets this one (--cpu sets the device to cpu)
    metavar: str | None = None
    group: str = "hyperparameters"


@dataclass(frozen=True)
class Widget:
    """The Hyperparameters page's widget for a setting: which Streamlit widget, and its bounds."""

    kind: str  # select_slider, slider, radio, selectbox, text_input, number_input or checkbox
    ladder: tuple = ()  # a select_slider's stops
    high: int | None = None  # a slider's top, raised to fit a larger value; None: the setting's own top
    step: int = 1  # a number_input's step
    placeholder: str = ""


@dataclass(frozen=True)
class SweepValues:
    """The values a sweep offers for a setting, and those it picks until the student changes them."""

    values: tuple
    picked: tuple


@dataclass(frozen=True)
class Setting:
    """One hyperparameter described once; its name and default come from its TrainConfig field."""

    kind: Kind  # what its values are, and how each context reads and writes them (core.engine.kinds)
    label: str  # for people: "Learning rate"
    help: str  # for students on the Hyperparameters page (markdown)
    cli: Cli
    history: str  # the run history's short text; {} is the value and {s} a plural s: "lr {}", "{} epoch{s}"
    widget: Widget
    script: str = ""  # the exported script's comment on its line, where the value needs one
    sweep: SweepValues | None = None  # None: a sweep cannot vary it
    in_link: bool = False  # always written into links, so a link keeps its meaning if the defaults change
    needs: tuple = ()  # (another setting, its value) without which this one changes nothing: its widget is off
    name: str = ""
    default: Any = None

    @property
    def flag(self) -> str:
        return self.cli.flag or "--" + self.name.replace("_", "-")

    @property
    def url_key(self) -> str:
        return self.name  # links use the field's own name: readable, and old links keep working

    @property
    def low(self):
        return self.kind.low

    @property
    def high(self):
        return self.kind.high

    @property
    def choices(self) -> tuple:
        return getattr(self.kind, "choices", ())

    @property
    def choice_labels(self) -> dict:
        return getattr(self.kind, "labels", {})

    def used_by(self, config) -> bool:
        """Whether this setting changes anything in `config` (a kernel size does not in an MLP)."""
        return not self.needs or getattr(config, self.needs[0]) == self.needs[1]

    def check(self, value) -> None:
        """Raise ConfigError unless `value` is allowed for this setting."""
        self.kind.check(self.name, value)

    @property
    def allowed(self) -> str:
        """What is allowed, in words for an error message."""
        return self.kind.allowed


def setting(default, **described) -> Any:
    """A dataclass field with its default and its Setting (described by Setting's own fields)."""
    return field(default=default, metadata={"setting": Setting(**described)})


def settings_of(cls) -> dict[str, Setting]:
    """Each field's Setting, in the fields' order, with the field's name and default filled in."""
    return {f.name: replace(f.metadata["setting"], name=f.name, default=f.default) for f in fields(cls)}
