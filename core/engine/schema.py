"""The words that describe a setting once: its range, its names for people, its flag, its widget.

TrainConfig's fields carry one Setting each (core.engine.config.SETTINGS); the CLI, links, the run history
and the Hyperparameters page are derived from them, so a new setting is described in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

KINDS = ("float", "int", "choice", "bool", "hidden", "subset")  # subset: a whole number, or None for all


class ConfigError(ValueError):
    """A hyperparameter is out of range; the message names the field, the value and what is allowed."""

    def __init__(self, name: str, value, allowed: str):
        self.field, self.value, self.allowed = name, value, allowed
        super().__init__(f"{name} = {value!r} is not allowed: {allowed}")


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
    enabled_by: str = ""  # a bool setting that must be on for this widget to be used


@dataclass(frozen=True)
class Setting:
    """One hyperparameter described once; its name and default come from its TrainConfig field."""

    kind: str  # one of KINDS
    label: str  # for people: "Learning rate"
    help: str  # for students on the Hyperparameters page (markdown)
    cli: Cli
    history: str  # the run history's short text; {} is the value and {s} a plural s: "lr {}", "{} epoch{s}"
    widget: Widget
    low: float = 0  # a number's range; for hidden, each layer's units
    high: float = 0
    choices: tuple = ()
    choice_labels: dict = field(default_factory=dict)  # how people read each choice, where it is not plain
    longest: int = 0  # hidden: the most layers
    in_link: bool = False  # always written into links, so a link keeps its meaning if the defaults change
    name: str = ""
    default: Any = None

    @property
    def flag(self) -> str:
        return self.cli.flag or "--" + self.name.replace("_", "-")

    @property
    def url_key(self) -> str:
        return self.name  # links use the field's own name: readable, and old links keep working

    def check(self, value) -> None:
        """Raise ConfigError unless `value` is allowed for this setting."""
        if self.kind == "subset" and value is None:
            return
        if self.kind == "hidden":
            self._check_hidden(value)
        elif not self._fits(value):
            raise ConfigError(self.name, value, self.allowed)

    @property
    def allowed(self) -> str:
        """What is allowed, in words for an error message."""
        if self.kind == "float":
            return f"a number from {plain_number(self.low)} to {plain_number(self.high)}"
        if self.kind in ("int", "subset"):
            return f"a whole number from {self.low:,} to {self.high:,}"
        if self.kind == "bool":
            return "true or false"
        return f"one of {', '.join(self.choices)}"

    def _fits(self, value) -> bool:
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind != "float" and not isinstance(value, int):
            return False
        return math.isfinite(value) and self.low <= value <= self.high

    def _check_hidden(self, value) -> None:
        if not isinstance(value, tuple) or len(value) > self.longest:
            raise ConfigError(self.name, value, f"a list of at most {self.longest} layer sizes")
        for units in value:
            if isinstance(units, bool) or not isinstance(units, int) or not self.low <= units <= self.high:
                raise ConfigError(self.name, value, f"each hidden layer must have {self.low} to {self.high} units")


def setting(default, **described) -> Any:
    """A dataclass field with its default and its Setting (described by Setting's own fields)."""
    return field(default=default, metadata={"setting": Setting(**described)})


def settings_of(cls) -> dict[str, Setting]:
    """Each field's Setting, in the fields' order, with the field's name and default filled in."""
    return {f.name: replace(f.metadata["setting"], name=f.name, default=f.default) for f in fields(cls)}


def plain_number(value: float) -> str:
    """A number without exponent or trailing zeros: 1e-06 → "0.000001", 100.0 → "100"."""
    return f"{value:.10f}".rstrip("0").rstrip(".")
