"""A TrainConfig in a URL's query string and back, so that a link reproduces a setup.

Every value travels as text. Reading never raises: a value that does not parse or is out of range is left
out with a warning for the student, and that setting keeps its default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from core.engine.config import SETTINGS, ConfigError, TrainConfig
from core.engine.presets import DEFAULT
from core.engine.words import format_hidden

FIELDS = tuple(described.url_key for described in SETTINGS.values())  # the URL keys: the settings' names
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def hidden_field_text(hidden: tuple[int, ...]) -> str:
    """Hidden sizes for a text field: (256, 128) → "256, 128"; no hidden layer → "none"."""
    return ", ".join(str(n) for n in hidden) or "none"


def parse_hidden(text: str) -> tuple[int, ...]:
    """ "256-128", "256, 128" or "256 128" → (256, 128); "none" or "" → (). Raises ValueError on other text."""
    cleaned = text.strip().lower()
    if cleaned in {"", "none", "-"}:
        return ()
    parts = cleaned.replace(",", " ").replace("-", " ").replace("→", " ").split()
    # isdecimal, not isdigit: isdigit also passes "²", which int() then refuses with a message for programmers.
    if not all(p.isdecimal() for p in parts):
        raise ValueError("hidden layer sizes must be whole numbers separated by commas, such as 128, 64")
    return tuple(_whole(p) for p in parts)


def format_value(name: str, value) -> str:
    """One setting as URL text."""
    kind = SETTINGS[name].kind
    if kind == "hidden":
        return format_hidden(value)
    if kind == "subset":
        return "all" if value is None else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    return str(value)


def parse_value(name: str, text: str):
    """One setting from URL text (not yet range-checked); raises ValueError when it does not parse."""
    text, kind = text.strip(), SETTINGS[name].kind
    if kind == "hidden":
        return parse_hidden(text)
    if kind == "float":
        return _number(text)
    if kind == "int":
        return _whole(text)
    if kind == "subset":
        return None if text.lower() in {"all", "none", ""} else _whole(text)
    if kind == "bool":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ValueError("true or false")
    return text.lower()


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("not a number") from None
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        # All digits, yet refused: int() reads at most 4,300 of them.
        raise ValueError("a number with far too many digits" if text.strip().lstrip("+-").isdecimal()
                         else "not a whole number") from None


def to_query(config: TrainConfig) -> dict[str, str]:
    """The query parameters for a config: the main settings always, the others when not default."""
    values = config.to_dict()
    defaults = DEFAULT.to_dict()
    return {
        described.url_key: format_value(name, getattr(config, name))
        for name, described in SETTINGS.items()
        if described.in_link or values[name] != defaults[name]
    }


def from_query(params: Mapping[str, str | list[str]], base: TrainConfig = DEFAULT) -> tuple[TrainConfig, list[str]]:
    """The config a URL describes (other parameters are ignored) and a warning for each value left out."""
    config, warnings = base, []
    for name, described in SETTINGS.items():
        key = described.url_key
        if key not in params:
            continue
        raw = params[key]
        text = raw[-1] if isinstance(raw, list | tuple) else str(raw)
        try:
            config = replace(config, **{name: parse_value(name, text)})
        except (ValueError, ConfigError) as error:
            allowed = error.allowed if isinstance(error, ConfigError) else str(error)
            default = format_value(name, getattr(base, name))
            shown = text if len(text) <= 40 else text[:40] + "…"
            warnings.append(f"The link's {key}={shown!r} was ignored ({allowed}); using {default} instead.")
    return config, warnings


def config_params(params: Mapping[str, object]) -> dict[str, str]:
    """Only the query parameters that describe settings (drops job ids and the like)."""
    return {k: (v[-1] if isinstance(v, list | tuple) else str(v)) for k, v in params.items() if k in FIELDS}
