"""Which settings mattered across the class's runs: each setting's share of the spread in test accuracy.

scikit-learn's permutation importance on a random forest fitted to the runs (settings in, test accuracy out):
shuffling a setting that matters breaks the forest's predictions, shuffling one that does not changes nothing.
The settings are encoded once here (numbers as numbers, log-scaled ones as log10, choices as integer codes),
and the Class page's parallel-coordinates chart draws the same columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.engine.config import SETTINGS
from core.lessons.challenge import value_words

IGNORED = ("seed", "device", "log_with")  # the seed is the noise the ranking measures against; the rest: where
LOG_SETTINGS = ("lr", "weight_decay")  # spread over powers of ten: drawn and judged as log10 (when all above 0)
MIN_RUNS = 8  # fewer runs than this, and a forest fitted to them ranks noise
MIN_DISTINCT = 2  # a setting with one value among the runs explains nothing
DEPTH = 8  # a few settings with a handful of values each: deeper trees only fit the seed's noise
TREES, REPEATS = 30, 3  # measured, 300 runs on 2 busy cores: ranked in 35 ms (60 trees and 5 repeats: 90-125 ms)


@dataclass(frozen=True)
class Column:
    """One setting across the runs, encoded for a forest and an axis: `values` (numbers, log10 when `log`), and
    for choices the code of each value with its text (`ticks`)."""

    name: str
    values: tuple[float, ...]
    log: bool = False
    ticks: tuple[tuple[float, str], ...] = ()

    @property
    def label(self) -> str:
        return SETTINGS[self.name].label


def _number(name: str, value: Any) -> float | None:
    return SETTINGS[name].kind.axis_value(value)


def column(name: str, saved: Sequence[Mapping[str, Any]]) -> Column:
    """The setting `name` of every run (run.json's settings), encoded."""
    raw = [settings[name] for settings in saved]
    numbers = [_number(name, value) for value in raw]
    if None not in numbers:
        if name in LOG_SETTINGS and min(numbers) > 0:
            return Column(name, tuple(math.log10(v) for v in numbers), log=True)
        return Column(name, tuple(numbers))
    texts = [value_words(name, tuple(v) if isinstance(v, list) else v) for v in raw]
    order = sorted(set(texts), key=lambda text: texts.index(text))
    if SETTINGS[name].choices:  # the setting's own order (SGD, momentum, Adam), not the runs'
        known = [value_words(name, choice) for choice in SETTINGS[name].choices]
        order = sorted(order, key=lambda text: known.index(text) if text in known else len(known))
    codes = {text: float(i) for i, text in enumerate(order)}
    return Column(name, tuple(codes[text] for text in texts), ticks=tuple((code, text) for text, code in codes.items()))


def varying_columns(saved: Sequence[Mapping[str, Any]]) -> list[Column]:
    """The settings that take at least two values among these runs, encoded, in the settings' order."""
    columns = [column(name, saved) for name in SETTINGS if name not in IGNORED and all(name in s for s in saved)]
    return [c for c in columns if len(set(c.values)) >= MIN_DISTINCT]


@dataclass(frozen=True)
class Ranking:
    """How much each setting mattered: (setting, share of the spread, 0..1) most first; `runs` it rests on; or,
    when there is no ranking, `problem` in words."""

    runs: int
    shares: tuple[tuple[str, float], ...] = ()
    problem: str = ""

    def words(self) -> str:
        """"Across 24 runs, the learning rate explains most of the spread in test accuracy; the batch size little."""
        if self.problem:
            return self.problem
        def the(name: str) -> str:
            return "the " + SETTINGS[name].label.lower()

        (top, share), rest = self.shares[0], self.shares[1:]
        head = (f"Across {self.runs} runs, {the(top)} explains "
                f"{'most' if share >= 0.5 else 'the largest part'} of the spread in test accuracy ({share:.0%})")
        some = [f"{the(name)} {s:.0%}" for name, s in rest if s >= 0.1]
        little = [the(name) for name, s in rest if s < 0.1]
        parts = [head]
        if some:
            parts.append("then " + ", ".join(some))
        if little:
            parts.append(_joined(little) + " little")
        return "; ".join(parts) + "."


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def rank_settings(saved: Sequence[Mapping[str, Any]], accuracies: Sequence[float], seed: int = 0) -> Ranking:
    """Rank the settings that vary among these runs by how much of the spread in test accuracy they explain."""
    runs = len(saved)
    if runs < MIN_RUNS:
        return Ranking(runs, problem=f"{runs} finished run{'s' if runs != 1 else ''} so far: ranking the settings "
                       f"needs at least {MIN_RUNS}, so that one lucky run does not decide it.")
    columns = varying_columns(saved)
    if not columns:
        return Ranking(runs, problem=f"Across {runs} runs no setting takes two different values (the seed aside), "
                       "so there is nothing to rank: the spread is the seed's luck.")
    if max(accuracies) - min(accuracies) < 1e-9:
        return Ranking(runs, problem=f"All {runs} runs reached the same test accuracy: nothing to explain.")
    import numpy as np  # here: scikit-learn takes a second to import, and only a ranking needs it
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    features = np.array([c.values for c in columns]).T
    target = np.asarray(accuracies, dtype=float)
    forest = RandomForestRegressor(n_estimators=TREES, min_samples_leaf=2, max_depth=DEPTH, random_state=seed, n_jobs=1)
    forest.fit(features, target)
    result = permutation_importance(forest, features, target, n_repeats=REPEATS, random_state=seed, n_jobs=1)
    drops = np.clip(result.importances_mean, 0.0, None)
    if drops.sum() <= 0:
        return Ranking(runs, problem=f"Across {runs} runs no setting explains the spread in test accuracy: "
                       "it looks like the seed's luck.")
    shares = sorted(zip((c.name for c in columns), (drops / drops.sum()).tolist(), strict=True), key=lambda p: -p[1])
    return Ranking(runs, tuple(shares))
