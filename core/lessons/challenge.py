"""A class challenge: which settings every run must keep, limits on epochs and network size, and the goal.

Checked from a run's saved settings only (run.json), never from what a browser says. Plain Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.engine.config import SETTINGS, ConfigError, TrainConfig
from core.engine.presets import DEFAULT
from core.engine.words import plural

BEST, FIRST_TO = "best", "first_to"
GOALS = {BEST: "Highest test accuracy wins", FIRST_TO: "First to reach a test accuracy wins"}


def value_words(name: str, value: Any) -> str:
    """A setting's value as people read it: "SGD", "784 → 128 → 64 → 10", "0.01", "all"."""
    return SETTINGS[name].kind.words(value)


def setting_words(name: str, value: Any) -> str:
    """One setting and its value: "Optimizer: SGD", "Hidden layers: 784 → 128 → 64 → 10"."""
    return f"{SETTINGS[name].label}: {value_words(name, value)}"


def json_setting(name: str, value: Any) -> Any:
    """A setting's value as run.json keeps it (hidden layers as a list)."""
    return SETTINGS[name].kind.to_json(value)


def checked_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Settings by name, each checked against its range and kept in run.json's form; raises ConfigError."""
    unknown = sorted(set(values) - set(SETTINGS))
    if unknown:
        raise ConfigError(unknown[0], values[unknown[0]], "not a setting")
    config = TrainConfig.from_dict({**DEFAULT.to_dict(), **values})  # checks every value
    return {name: json_setting(name, getattr(config, name)) for name in SETTINGS if name in values}  # fixed order


@dataclass(frozen=True)
class Challenge:
    """What the instructor asks of the class. `fixed` holds the settings every run must keep, in run.json's form."""

    fixed: tuple[tuple[str, Any], ...] = ()
    max_epochs: int | None = None
    max_parameters: int | None = None
    goal: str = BEST
    target: float | None = None  # FIRST_TO: the test accuracy (%) to reach

    def __post_init__(self):
        fixed = checked_settings(dict(self.fixed))
        # Lists become tuples inside: the challenge stays hashable.
        object.__setattr__(self, "fixed", tuple((n, tuple(v) if isinstance(v, list) else v) for n, v in fixed.items()))
        if self.goal not in GOALS:
            raise ValueError(f"goal must be one of {', '.join(GOALS)}")
        if self.goal == FIRST_TO and not _percent(self.target):
            raise ValueError("a first-to challenge needs a test accuracy between 0 and 100 %")
        for limit in (self.max_epochs, self.max_parameters):
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
                raise ValueError("limits on epochs and network size are whole numbers of at least 1")

    @property
    def fixed_settings(self) -> dict[str, Any]:
        """The settings every run must keep, by name, in run.json's form."""
        return {name: list(value) if isinstance(value, tuple) else value for name, value in self.fixed}

    def goal_text(self) -> str:
        """The goal in one line: "Highest test accuracy wins" or "First to 98 % test accuracy wins"."""
        if self.goal == FIRST_TO:
            return f"First to {self.target:g} % test accuracy wins"
        return GOALS[BEST]

    def rules(self) -> list[str]:
        """Every rule in words, one line each."""
        rules = [f"{setting_words(name, value)} (fixed)" for name, value in self.fixed]
        if self.max_epochs is not None:
            rules.append(f"At most {plural(self.max_epochs, 'epoch')}")
        if self.max_parameters is not None:
            rules.append(f"A network of at most {self.max_parameters:,} parameters")
        return rules

    def broken_rule(self, config: TrainConfig) -> str | None:
        """The first rule this run's settings break, in words; None when it keeps them all."""
        saved = config.to_dict()
        for name, value in self.fixed_settings.items():
            if saved[name] != value:
                return f"{setting_words(name, value)} is fixed; this run used {value_words(name, saved[name])}"
        if self.max_epochs is not None and config.epochs > self.max_epochs:
            return f"At most {plural(self.max_epochs, 'epoch')}; this run trained {plural(config.epochs, 'epoch')}"
        size = config.parameter_count()
        if self.max_parameters is not None and size > self.max_parameters:
            return f"A network of at most {self.max_parameters:,} parameters; this one has {size:,}"
        return None

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"fixed": self.fixed_settings, "max_epochs": self.max_epochs, "max_parameters": self.max_parameters,
                "goal": self.goal, "target": self.target}

    @classmethod
    def from_dict(cls, values: Any) -> Challenge:
        """Read back what to_dict wrote; ValueError (ConfigError included) when it is not a challenge."""
        if not isinstance(values, dict) or not isinstance(values.get("fixed", {}), dict):
            raise ValueError("not a challenge")
        target = values.get("target")
        return cls(fixed=tuple(values.get("fixed", {}).items()), max_epochs=values.get("max_epochs"),
                   max_parameters=values.get("max_parameters"), goal=values.get("goal", BEST),
                   target=float(target) if _percent(target) else None)


def _percent(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
            and 0 < value <= 100)
