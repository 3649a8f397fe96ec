"""The kinds of value a setting holds, each one object that checks, parses, writes and words its values.

A Setting (core.engine.schema) reaches its kind as `setting.kind`; links, the CLI, the run history, the
Hyperparameters page and the exported script ask the kind (`kind.parse(text)`, `kind.to_url(value)`,
`kind.words(value)`, …) and never branch on which kind it is. Layer sizes, the one kind whose value is a list,
are core.engine.layer_sizes's.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


class ConfigError(ValueError):
    """A hyperparameter is out of range; the message names the field, the value and what is allowed."""

    def __init__(self, name: str, value, allowed: str):
        self.field, self.value, self.allowed = name, value, allowed
        super().__init__(f"{name} = {value!r} is not allowed: {allowed}")


def plain_number(value: float) -> str:
    """A number without exponent or trailing zeros: 1e-06 → "0.000001", 100.0 → "100"."""
    return f"{value:.10f}".rstrip("0").rstrip(".")


def read_number(text: str) -> float:
    """A finite number from text; ValueError in words otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError("not a number") from None
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def read_whole(text: str) -> int:
    """A whole number from text; ValueError in words otherwise."""
    try:
        return int(text)
    except ValueError:
        # All digits, yet refused: int() reads at most 4,300 of them.
        raise ValueError("a number with far too many digits" if text.strip().lstrip("+-").isdecimal()
                         else "not a whole number") from None


class Kind(ABC):
    """What every kind answers; the defaults suit a value written as itself (numbers, choices)."""

    name: ClassVar[str]  # how the kind is named in KINDS (core.engine.schema)
    whole: ClassVar[bool] = False  # its values are whole numbers (a ladder of them is rounded)
    low: float = 0
    high: float = 0
    widget_low: float = 0  # a number_input's lowest value

    def check(self, setting: str, value) -> None:
        """Raise ConfigError unless `value` is allowed."""
        if not self.fits(value):
            raise ConfigError(setting, value, self.allowed)

    @abstractmethod
    def fits(self, value) -> bool:
        """True when `value` is allowed."""

    @property
    @abstractmethod
    def allowed(self) -> str:
        """What is allowed, in words for an error message."""

    @abstractmethod
    def parse(self, text: str):
        """The value a link's or a text field's text means (not range-checked); ValueError in words."""

    def to_url(self, value) -> str:
        return str(value)

    def words(self, value) -> str:
        """The value as people read it: "SGD", "784 → 128 → 64 → 10", "0.01", "all"."""
        return str(value)

    def short(self, value) -> str:
        """The value in a compact list (run history, sweep): "0.002", "256-128", "adam"."""
        return self.words(value)

    def history(self, value) -> str:
        """The value in the run history's line; "" leaves the setting out (a switch that is off)."""
        return self.short(value)

    def to_json(self, value):
        """The value as run.json keeps it."""
        return value

    def widget_value(self, value):
        """What the setting's widget shows for `value`."""
        return value

    def from_widget(self, shown):
        """The value a widget's content means (ValueError when it does not parse)."""
        return shown

    def format(self, value) -> str:
        """How a slider or list of options writes a value."""
        return str(value)

    @abstractmethod
    def cli_words(self) -> dict:
        """add_argument's words for the setting's flag: its type, or choices, and how many values."""

    def cli_text(self, value) -> str:
        """A value as --help shows it."""
        return str(value)

    def script(self, value) -> str:
        """The value as a Python literal in the exported script."""
        return repr(value)

    def axis_value(self, value) -> float | None:
        """The value as a point on a chart's number axis; None for kinds without an order (choices, sizes)."""
        return None


@dataclass(frozen=True)
class Number(Kind):
    """A real number in [low, high]."""

    name: ClassVar[str] = "float"
    low: float = 0
    high: float = 0

    def fits(self, value) -> bool:
        return (not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
                and self.low <= value <= self.high)

    @property
    def allowed(self) -> str:
        return f"a number from {plain_number(self.low)} to {plain_number(self.high)}"

    def parse(self, text: str) -> float:
        return read_number(text.strip())

    def to_url(self, value) -> str:
        return repr(value) if isinstance(value, float) else str(value)  # repr: reads back as the same float

    def words(self, value) -> str:
        return f"{value:g}"

    format = cli_text = words

    def cli_words(self) -> dict:
        return {"type": float}

    def axis_value(self, value) -> float | None:
        return None if isinstance(value, bool) or not isinstance(value, int | float) else float(value)


@dataclass(frozen=True)
class Whole(Number):
    """A whole number in [low, high]."""

    name: ClassVar[str] = "int"
    whole: ClassVar[bool] = True
    step: int = 1  # 2 from an odd low: odd numbers only

    def fits(self, value) -> bool:
        return isinstance(value, int) and super().fits(value) and (value - self.low) % self.step == 0

    @property
    def allowed(self) -> str:
        if self.step > 1:
            every = ", ".join(str(n) for n in range(self.low, self.high + 1, self.step))
            return f"one of {every}"
        return f"a whole number from {self.low:,} to {self.high:,}"

    def parse(self, text: str) -> int:
        return read_whole(text.strip())

    def to_url(self, value) -> str:
        return str(value)

    def words(self, value) -> str:
        return str(value)

    format = cli_text = words

    def cli_words(self) -> dict:
        return {"type": int}

    @property
    def widget_low(self) -> int:
        return self.low


@dataclass(frozen=True)
class Subset(Whole):
    """A count of training images, or None for all of them (0 on the page, "all" in a link)."""

    name: ClassVar[str] = "subset"
    widget_low: ClassVar[int] = 0  # 0 stands for all the images

    def check(self, setting: str, value) -> None:
        if value is not None:
            super().check(setting, value)

    def parse(self, text: str) -> int | None:
        return None if text.strip().lower() in {"all", "none", ""} else read_whole(text.strip())

    def to_url(self, value) -> str:
        return "all" if value is None else str(value)

    def words(self, value) -> str:
        return f"{value:,}" if value else "all"

    def widget_value(self, value) -> int:
        return value or 0

    def from_widget(self, shown) -> int | None:
        return shown or None

    def axis_value(self, value) -> float | None:
        return float(self.high) if value is None else super().axis_value(value)  # None: all the images


@dataclass(frozen=True)
class Choice(Kind):
    """One of a few names; `labels` says how people read those that are not plain words."""

    name: ClassVar[str] = "choice"
    choices: tuple = ()
    labels: dict = field(default_factory=dict)
    labelled_when_short: bool = False  # compact lists use the label too ("leaky ReLU", not "leaky_relu")

    def fits(self, value) -> bool:
        return value in self.choices

    @property
    def allowed(self) -> str:
        return f"one of {', '.join(self.choices)}"

    def parse(self, text: str) -> str:
        return text.strip().lower()

    def words(self, value) -> str:
        return self.labels.get(value, value)

    def short(self, value) -> str:
        return self.words(value) if self.labelled_when_short else str(value)

    format = words

    def cli_words(self) -> dict:
        return {"choices": self.choices}

    def script(self, value) -> str:
        return f'"{value}"'  # the lecture's quotes


@dataclass(frozen=True)
class Switch(Kind):
    """On or off."""

    name: ClassVar[str] = "bool"

    def fits(self, value) -> bool:
        return isinstance(value, bool)

    @property
    def allowed(self) -> str:
        return "true or false"

    def parse(self, text: str) -> bool:
        cleaned = text.strip().lower()
        if cleaned in _TRUE | _FALSE:
            return cleaned in _TRUE
        raise ValueError("true or false")

    def to_url(self, value) -> str:
        return "true" if value else "false"

    def words(self, value) -> str:
        return "on" if value else "off"

    def history(self, value) -> str:
        return "on" if value else ""

    def cli_words(self) -> dict:
        return {"action": "store_true"}
