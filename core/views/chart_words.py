"""What a chart or picture shows, in words: for students who cannot see it, and for everyone who wants the numbers.

Each chart of the lab is built together with its `ChartWords`, from the same data: a short text alternative (the
picture's alt, the chart's aria-label), a visible sentence that carries the chart's message and changes when the
chart does, and the numbers behind it as a table a screen reader can walk. The pages draw all three with one
helper (pages/ui/charts.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_ROWS = 200  # a "Show the numbers" table: every row of a short series, evenly spaced ones of a long series


@dataclass(frozen=True)
class ChartWords:
    """alt: what the picture shows, in one or two sentences; summary: the visible words that carry its message;
    numbers: the table behind it, column name -> values (all columns the same length; may be empty)."""

    alt: str
    summary: str
    numbers: dict[str, list] = field(default_factory=dict)


def number(value: float | None, digits: int = 2) -> str:
    """A value in words: fixed decimals for ordinary sizes, 3 significant digits for tiny or huge ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "undefined (not a number)"
    if math.isinf(value):
        return "infinite" if value > 0 else "minus infinite"
    if value != 0 and (abs(value) < 10 ** -digits or abs(value) >= 1e6):
        return f"{value:.3g}"
    return f"{value:,.{digits}f}"


def significant(value: float | None, digits: int = 4) -> str:
    """A value with at most `digits` significant digits and no trailing zeros, values within 1e-9 of 0 as 0:
    'x = 2', 'slope 7', '0.8415' (for inputs and results a student typed or read, not for losses)."""
    if value is None or not math.isfinite(value):
        return number(value)
    return f"{0.0 if abs(value) < 1e-9 else value:.{digits}g}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 step', '1,200 steps'."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def percent(value: float, digits: int = 1) -> str:
    """A percentage already in 0-100: '96.2 %'."""
    return f"{value:.{digits}f} %" if math.isfinite(value) else number(value)


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A table cell: the value rounded, None (an empty cell) where it is not a finite number."""
    return round(float(value), digits) if value is not None and math.isfinite(value) else None


def joined(parts: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    parts = [p for p in parts if p]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1] if parts else ""


def even_rows(n: int, most: int = MAX_ROWS) -> list[int]:
    """Indices of at most `most` rows spread evenly over n, the first and the last always among them."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def thinned(columns: dict[str, Sequence], most: int = MAX_ROWS) -> dict[str, list]:
    """The table's columns with at most `most` evenly spread rows (long live curves stay light to send)."""
    n = len(next(iter(columns.values()))) if columns else 0
    rows = even_rows(n, most)
    return {name: [values[i] for i in rows] for name, values in columns.items()}


def trend(first: float, last: float, tolerance: float = 0.05) -> str:
    """'fell', 'rose' or 'stayed about the same' from first to last (relative change under `tolerance`: same)."""
    if not (math.isfinite(first) and math.isfinite(last)):
        return "became undefined" if math.isfinite(first) else "was undefined"
    scale = max(abs(first), abs(last), 1e-12)
    if abs(last - first) / scale < tolerance:
        return "stayed about the same"
    return "fell" if last < first else "rose"

