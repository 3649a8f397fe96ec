"""Reading a run's files without trusting them: run.json's summary and epochs.json's entries, checked.

Files damaged by hand or by a full disk give well-typed values and what is wrong, in plain words; the run
store shows such a run as "damaged" beside the others instead of failing to list them.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from core.engine.config import ConfigError, TrainConfig
from core.engine.display_name import is_saved_name
from core.engine.fileio import read_json
from core.engine.status import Status

# What a writer saves (a tuple: a damaged run.json's status may be unhashable).
SAVED_STATUSES = tuple(status for status in Status if status.ended) + (Status.RUNNING, Status.INTERRUPTED)
_LAST_TIME = 32_503_680_000  # year 3000: later "times" are damage, and would overflow time.localtime
# "lr": the learning rate at the epoch's end (absent in runs saved before it was kept).
EPOCH_COLUMNS = ["epoch", "train_loss", "test_loss", "test_accuracy", "seconds", "eval_seconds", "lr"]


def json_float(value: Any) -> float | None:
    """A JSON number as float, NaN and infinity included (a diverged run writes them); else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float
        return None


def finite_number(value: Any) -> float | None:
    """A finite number as float, else None."""
    value = json_float(value)
    return value if value is not None and math.isfinite(value) else None


def _count(value: Any) -> int | None:
    """A whole number >= 0, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _timestamp(value: Any) -> float | None:
    """A Unix time that time.localtime can show, else None."""
    value = finite_number(value)
    return value if value is not None and 0 <= value < _LAST_TIME else None


def _time_of_id(run_id: str) -> float:
    # Ids begin with the local time the run was made: the fallback when run.json's own time is damaged.
    try:
        return time.mktime(time.strptime(run_id[:15], "%Y%m%d-%H%M%S"))
    except (ValueError, OverflowError):
        return 0.0


def read_json_file(path: Path) -> tuple[Any, str | None]:
    """A JSON file's value and None, or None and why it could not be read; a missing file raises."""
    try:
        return read_json(path), None
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RecursionError):  # unreadable, not UTF-8, not JSON, absurdly nested
        return None, f"{path.name} could not be read"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _student(value: Any) -> str | None:
    return value if value == "" or is_saved_name(value) else None


def _seconds(value: Any) -> float | None:
    value = finite_number(value)
    return value if value is not None and value >= 0 else None


# The summary fields a page shows: how to check each, its value when absent, and what it should be, in words.
_FIELDS = {
    "label": (_text, "", "text"),
    "message": (_text, "", "text"),
    "student": (_student, "", "a display name of 1 to 30 visible characters"),
    "created": (_timestamp, None, "a time"),  # absent: the time in the run's id
    "updated": (_timestamp, None, "a time"),  # absent: the creation time
    "epochs_done": (_count, 0, "a whole number"),
    "steps": (_count, 0, "a whole number"),
    "test_accuracy": (finite_number, None, "a number"),  # None: not tested yet
    "train_seconds": (_seconds, 0.0, "a number of seconds"),
}


def run_settings(value: Any) -> TrainConfig:
    """run.json's "config" as a TrainConfig; ConfigError (a ValueError) when it is not valid settings."""
    if not isinstance(value, dict):
        raise ConfigError("config", value, "a set of settings")
    return TrainConfig.from_dict(value)


def checked_record(raw: Any, run_id: str) -> tuple[dict, list[str]]:
    """run.json's content with well-typed summary fields, and what was wrong with it, in plain words.

    Other fields (the writer's process, "config") are kept as written; Run.config checks the settings.
    """
    if not isinstance(raw, dict):
        return checked_record({}, run_id)[0], ["run.json is not a JSON object"]
    problems = [] if "status" in raw else ["run.json has no status"]
    record = {**raw, "id": run_id}  # the folder names the run: a copied run.json must not hide another run
    if "status" in raw and raw["status"] not in SAVED_STATUSES:
        problems.append("run.json's status is not a run status")
    record["status"] = Status(raw["status"]) if raw.get("status") in SAVED_STATUSES else Status.DAMAGED
    for name, (check, default, what) in _FIELDS.items():
        value = check(raw.get(name))
        if value is None and raw.get(name) is not None:
            problems.append(f"run.json's {name} is not {what}")
        record[name] = default if value is None else value
    if record["created"] is None:
        record["created"] = _time_of_id(run_id)
    if record["updated"] is None:
        record["updated"] = record["created"]
    problem = _settings_problem(raw["config"]) if "config" in raw else "run.json has no settings"
    if problem:
        problems.append(problem)
    return record, problems


def _settings_problem(config: Any) -> str | None:
    """Why run.json's config is not usable settings, or None when it is."""
    try:
        run_settings(config)
    except ConfigError as error:
        # Names the field, not its value: a damaged value can be long and means nothing to a student.
        if error.field == "config":
            return "run.json's config is not a set of settings"
        return f"run.json's setting {error.field} is not valid"
    return None


def is_epoch(entry: Any) -> bool:
    """An epochs.json entry: a dict with a whole epoch number and numbers (NaN allowed) for its metrics."""
    if not isinstance(entry, dict) or _count(entry.get("epoch")) is None:
        return False
    # "lr" may be null: an epoch made outside the Trainer need not know its learning rate.
    return all(json_float(entry[name]) is not None for name in EPOCH_COLUMNS[1:]
               if name in entry and not (name == "lr" and entry[name] is None))
