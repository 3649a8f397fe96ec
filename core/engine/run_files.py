"""A run's folder: what each file holds, and reading them without trusting them.

runs/<id>/run.json        config, status, pid, summary (rewritten at each change)
runs/<id>/epochs.json     one entry per finished epoch
runs/<id>/steps.json      the loss of every step so far
runs/<id>/model.pt        trained weights (state_dict), at the end
runs/<id>/predictions.npz every test image's label, prediction and probabilities, at the end
runs/<id>/mnist-lab/      the TensorBoard (or other tracker's) files, when the run logs to one

run.json's "lr_changes" lists the learning rates changed by hand while training: [{"step", "lr"}], each
applied from step "step" + 1.

Files damaged by hand or by a full disk give well-typed values and what is wrong, in plain words; the run
store shows such a run as "damaged" beside the others instead of failing to list them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from pathlib import Path
from typing import Any

from core.engine.config import ConfigError, TrainConfig
from core.engine.display_name import is_saved_name
from core.engine.events import ReportCardEvent
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


def _read_list(path: Path, what: str, problems: list[str]) -> list:
    """A JSON list from a run's file ([] when not written yet); what is wrong goes into `problems`."""
    try:
        value, problem = read_json_file(path)
    except FileNotFoundError:
        return []  # not written yet: no epoch has finished
    if problem is None and not isinstance(value, list):
        problem = f"{path.name} is not {what}"
    if problem:
        problems.append(problem)
        return []
    return value


def read_epochs(path: Path, problems: list[str]) -> list[dict]:
    """The epochs in the run folder `path`, those that are not left out; what is wrong goes into `problems`."""
    entries = _read_list(path / "epochs.json", "a list of epochs", problems)
    good = [entry for entry in entries if is_epoch(entry)]
    if len(good) < len(entries):
        problems.append("epochs.json has entries that are not epochs")
    return good


def read_steps(path: Path, problems: list[str]) -> list[float]:
    """Every step's loss in the run folder `path`, NaN for one that is not a number; problems as above."""
    try:
        stat = (path / "steps.json").stat()
    except FileNotFoundError:
        return []  # not written yet
    losses, found = _parsed_steps(path / "steps.json", (stat.st_mtime_ns, stat.st_size, stat.st_ino))
    problems.extend(found)
    return list(losses)


# Parsing a few thousand floats takes milliseconds, and pages list every run every few seconds: a steps.json is
# parsed again only when it changed (writers replace it whole, so its time, size or inode changes).
@functools.lru_cache(maxsize=512)
def _parsed_steps(path: Path, stamp: tuple) -> tuple[tuple[float, ...], tuple[str, ...]]:
    problems: list[str] = []
    losses = [json_float(value) for value in _read_list(path, "a list of losses", problems)]
    if any(loss is None for loss in losses):
        problems.append("steps.json has losses that are not numbers")
    return tuple(math.nan if loss is None else loss for loss in losses), tuple(problems)


def read_report_card(record: dict, problems: list[str]) -> dict | None:
    """run.json's report card as numbers, or None when it has none or it is damaged; problems as above."""
    card = record.get("report_card")
    if card is None:
        return None
    names = [field.name for field in dataclasses.fields(ReportCardEvent)]
    if not isinstance(card, dict) or set(card) != set(names) or any(finite_number(card[n]) is None for n in names):
        problems.append("run.json's report card is not a set of numbers")
        return None
    return {name: float(card[name]) for name in names}
