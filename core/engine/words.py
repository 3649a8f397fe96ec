"""Numbers in words for students: durations and counts (a setting's values are worded by its kind)."""

from __future__ import annotations

import math


def plural(count: int, word: str) -> str:
    """ "1 run", "2 runs": a count and its noun."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def format_seconds(seconds: float) -> str:
    """A duration for people: "0.4 s", "12 s", "3 min 5 s"."""
    if not math.isfinite(seconds) or seconds < 0:
        return "unknown"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"

