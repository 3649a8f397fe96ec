"""A class experiment: one setting varied over a few values, every other setting fixed, one value per student.

Pure data and rules (no files, no Streamlit): core.lab.classroom keeps it in class.json under its file lock. A
joiner gets one of the values held by the fewest students, drawn at random, so every value gets as many students
as the others, give or take one. A student keeps their value for the experiment's life: leaving and coming back,
another tab, another day give the same value. Only the instructor frees the values of students not seen for
STALE_S (who, back, join again).

Why at random among the least held: with a fixed order (the earliest value first), a throwaway identity (a private
window, a second account) showed which value came next, so a student could line up the value they wanted, and a
throwaway chose what the next classmate got. Drawn at random, a throwaway's own value says nothing of the next one;
all it can do is what any joiner does, be one more student in the rotation, holding its value until the instructor
frees it.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy

from core.engine.config import SETTINGS
from core.lessons.challenge import checked_settings, json_setting, value_words

NUMBER_SETTINGS = ("lr", "batch_size", "epochs", "dropout", "weight_decay")  # "from, to, how many" applies
CHOICE_SETTINGS = ("architecture", "optimizer", "activation", "schedule", "normalize")
EXPERIMENT_SETTINGS = NUMBER_SETTINGS + CHOICE_SETTINGS
FREE_SETTINGS = ("seed",)  # never locked: runs of one value differ by their seed, which shows the spread
MAX_VALUES = 12
STALE_S = 10 * 60.0  # a student not seen for this long is away: the instructor may free their value
SEEN_EVERY_S = 60.0  # how often a student's "last seen" is written (not at every page run)


def value_ladder(low: float, high: float, count: int, log: bool, integer: bool = False) -> tuple:
    """`count` values from `low` to `high`, evenly spaced (on a log scale when `log`), as a person would type them
    (3 significant digits; whole numbers for integer settings); raises ValueError with the reason."""
    if not 2 <= count <= MAX_VALUES:
        raise ValueError(f"Choose between 2 and {MAX_VALUES} values.")
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise ValueError("“From” must be below “to”.")
    if log and low <= 0:
        raise ValueError("A log scale needs values above 0: raise “from”.")
    points = (numpy.geomspace if log else numpy.linspace)(low, high, count)
    values = [int(round(p)) if integer else float(f"{p:.3g}") for p in points.tolist()]
    return tuple(dict.fromkeys(values))  # whole numbers can coincide: each value once


@dataclass(frozen=True)
class Experiment:
    """The varied `setting` and its `values`, the `fixed` settings (run.json's form), when it started and ended,
    and who holds which value: (owner id, index into values, last seen)."""

    id: str
    setting: str
    values: tuple
    fixed: tuple[tuple[str, Any], ...]
    started: float
    ended: float | None = None
    holders: tuple[tuple[str, int, float], ...] = ()

    @classmethod
    def new(cls, setting: str, values: Sequence, base: Mapping[str, Any], now: float) -> Experiment:
        """An experiment on `setting` over `values`, every other setting at `base`'s value; ValueError in words."""
        if setting not in EXPERIMENT_SETTINGS:
            labels = ", ".join(SETTINGS[name].label.lower() for name in EXPERIMENT_SETTINGS)
            raise ValueError(f"An experiment can vary one of: {labels}.")
        values = tuple(dict.fromkeys(values))
        if not 2 <= len(values) <= MAX_VALUES:
            raise ValueError(f"An experiment needs between 2 and {MAX_VALUES} different values.")
        for value in values:
            checked_settings({setting: value})  # raises ConfigError (a ValueError) naming the bad value
        fixed = {name: json_setting(name, value) for name, value in base.items()
                 if name != setting and name not in FREE_SETTINGS}
        return cls(secrets.token_hex(4), setting, values, tuple(checked_settings(fixed).items()), now)

    @property
    def fixed_settings(self) -> dict[str, Any]:
        return dict(self.fixed)

    @property
    def active(self) -> bool:
        return self.ended is None

    def value_of(self, owner: str) -> Any | None:
        """The value this student holds, or None."""
        index = next((i for who, i, _ in self.holders if who == owner), None)
        return None if index is None else self.values[index]

    def joined(self, owner: str, now: float, choose: Callable[[Sequence[int]], int] = secrets.choice) -> Experiment:
        """The experiment with `owner` holding a value (the one they hold, if any), seen now. A newcomer gets one of
        the values held by the fewest students, picked by `choose` (at random: see the module's note)."""
        if not self.needs_write(owner, now):
            return self
        if any(who == owner for who, _, _ in self.holders):
            return replace(self, holders=tuple((w, i, now if w == owner else s) for w, i, s in self.holders))
        counts = [0] * len(self.values)
        for _, i, _ in self.holders:
            counts[i] += 1
        fewest = [i for i, count in enumerate(counts) if count == min(counts)]
        return replace(self, holders=(*self.holders, (owner, choose(fewest), now)))

    def away(self, now: float) -> int:
        """How many students holding a value have not been seen for STALE_S."""
        return sum(now - seen >= STALE_S for _, _, seen in self.holders)

    def without_away(self, now: float) -> Experiment:
        """The experiment with the values of students not seen for STALE_S freed (the instructor's choice)."""
        return replace(self, holders=tuple(h for h in self.holders if now - h[2] < STALE_S))

    def needs_write(self, owner: str, now: float) -> bool:
        """True when joining now changes something worth saving (a new holder, or a stale "last seen")."""
        seen = next((seen for who, _, seen in self.holders if who == owner), None)
        return seen is None or now - seen >= SEEN_EVERY_S

    def value_words(self, value: Any) -> str:
        return value_words(self.setting, value)

    def label(self) -> str:
        """"the learning rate" for sentences."""
        return "the " + SETTINGS[self.setting].label.lower()

    def gift_words(self, owner: str) -> str | None:
        """"Your instructor's experiment on the learning rate gave you 0.03." (None without a value)."""
        value = self.value_of(owner)
        if value is None:
            return None
        return f"Your instructor's experiment on {self.label()} gave you {self.value_words(value)}."

    def problem(self, saved: Mapping[str, Any], owner: str) -> str | None:
        """Why this student's run (run.json's settings) is refused by the experiment, in words; else None."""
        value = self.value_of(owner)
        if value is None or json_setting(self.setting, value) == saved[self.setting]:
            return None
        return (f"{self.gift_words(owner)[:-1]}, and this run has {value_words(self.setting, saved[self.setting])}. "
                "Keep your value: the class compares every value, so each student trains theirs.")

    def includes(self, saved: Mapping[str, Any], created: float) -> bool:
        """Is a run (its saved settings, when it was made) one of this experiment's runs?"""
        if created < self.started or (self.ended is not None and created > self.ended):
            return False
        if any(saved.get(name) != value for name, value in self.fixed):
            return False
        return saved.get(self.setting) in [json_setting(self.setting, v) for v in self.values]

    def to_dict(self) -> dict:
        return {"id": self.id, "setting": self.setting, "values": [json_setting(self.setting, v) for v in self.values],
                "fixed": self.fixed_settings, "started": self.started, "ended": self.ended,
                "holders": [list(h) for h in self.holders]}

    @classmethod
    def from_dict(cls, raw: Any) -> Experiment:
        """Read back what to_dict wrote; raises ValueError (or TypeError) on anything else."""
        if not isinstance(raw, dict) or raw.get("setting") not in EXPERIMENT_SETTINGS:
            raise ValueError("not an experiment")
        setting = raw["setting"]
        values = tuple(checked_settings({setting: v})[setting] for v in raw["values"])
        if not 2 <= len(values) <= MAX_VALUES:
            raise ValueError("an experiment's values")
        started, ended = float(raw["started"]), raw.get("ended")
        holders = tuple((str(who), int(i), float(seen)) for who, i, seen in raw.get("holders") or ()
                        if 0 <= int(i) < len(values))
        return cls(str(raw["id"]), setting, values, tuple(checked_settings(raw.get("fixed") or {}).items()), started,
                   None if ended is None else float(ended), holders)
