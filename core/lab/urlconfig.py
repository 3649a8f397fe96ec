"""A TrainConfig in a URL's query string and back, so that a link reproduces a setup.

Every value travels as text. Reading never raises: a value that does not parse or is out of range is left
out with a warning for the student, and that setting keeps its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from core.engine.config import SETTINGS, ConfigError, TrainConfig
from core.engine.presets import DEFAULT

FIELDS = tuple(described.url_key for described in SETTINGS.values())  # the URL keys: the settings' names


def to_query(config: TrainConfig) -> dict[str, str]:
    """The query parameters for a config: the main settings always, the others when not default."""
    values = config.to_dict()
    defaults = DEFAULT.to_dict()
    return {
        described.url_key: described.kind.to_url(getattr(config, name))
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
            config = replace(config, **{name: described.kind.parse(text)})
        except (ValueError, ConfigError) as error:
            allowed = error.allowed if isinstance(error, ConfigError) else str(error)
            default = described.kind.to_url(getattr(base, name))
            shown = text if len(text) <= 40 else text[:40] + "…"
            warnings.append(f"The link's {key}={shown!r} was ignored ({allowed}); using {default} instead.")
    return config, warnings


def config_params(params: Mapping[str, object]) -> dict[str, str]:
    """Only the query parameters that describe settings (drops job ids and the like)."""
    return {k: (v[-1] if isinstance(v, list | tuple) else str(v)) for k, v in params.items() if k in FIELDS}
