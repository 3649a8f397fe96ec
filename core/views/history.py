"""The run history as rows for a table: what each run changed, how it ended, how long it took."""

from __future__ import annotations

import time

from core.engine.config import TrainConfig
from core.views.words import format_seconds, plural

_NAMES = {
    "lr": "lr {}",
    "batch_size": "batch {}",
    "optimizer": "{}",
    "weight_decay": "weight decay {}",
    "seed": "seed {}",
    "normalize": "{} pixels",
    "train_subset": "{} images",
    "overfit_steps": "{} overfit steps",
    "mixed_precision": "{} precision",
    "device": "device {}",
}


def settings_text(config: TrainConfig) -> str:
    """The settings that differ from the lecture's, compactly: "adam · lr 0.002 · 784 → 256 → 128 → 10"."""
    parts = []
    for name, value in config.differences().items():
        if name == "hidden":
            parts.append(config.architecture())
        elif name == "overfit_one_batch":
            parts.append("one batch only" if value else "")
        elif name == "epochs":
            parts.append(plural(value, "epoch"))
        elif name == "train_subset":
            parts.append(f"{value:,} images" if value else "all images")
        else:
            parts.append(_NAMES[name].format(f"{value:g}" if isinstance(value, float) else value))
    return " · ".join(p for p in parts if p) or "the lecture's setup"


def run_title(record: dict) -> str:
    """How a run is named in lists: its label if any, then when it was made."""
    when = time.strftime("%d %b %H:%M:%S", time.localtime(record.get("created", 0)))
    return f"{record['label']} ({when})" if record.get("label") else when


def history_rows(runs) -> list[dict]:
    """One row per run, in the order given, for a table; a damaged run shows what could be read."""
    rows = []
    for run in runs:
        record = run.record
        try:
            config = run.config
        except ValueError:  # damaged settings: the run stays listed, its status says damaged
            config = None
        accuracy = record.get("test_accuracy")
        rows.append({
            "run": run_title(record),
            "status": run.status,
            "settings": settings_text(config) if config is not None else "unreadable settings",
            "test accuracy (%)": round(accuracy, 2) if accuracy is not None else None,
            "training time": format_seconds(record.get("train_seconds") or 0.0),
            "epochs": f"{record.get('epochs_done', 0)} of {config.epochs if config is not None else '?'}",
            "id": run.id,
        })
    return rows
