"""The run history as rows for a table: what each run changed, how it ended, how long it took."""

from __future__ import annotations

import time
from dataclasses import replace

from core.engine.config import SETTINGS, TrainConfig
from core.engine.words import format_seconds


def settings_text(config: TrainConfig) -> str:
    """The settings that differ from the lecture's, compactly: "adam · lr 0.002 · 784 → 256 → 128 → 10"."""
    parts = [setting_text(config, name, value) for name, value in config.differences().items()]
    return " · ".join(p for p in parts if p) or "the lecture's setup"


def setting_text(config: TrainConfig, name: str, value) -> str:
    """One setting as the history writes it: "lr 0.002", "5 epochs", "one batch only" (or "" when off)."""
    described = SETTINGS[name]
    kind = described.kind
    if name == "hidden":  # in a CNN the fully connected layers start from the feature maps, not the 784 pixels
        kind = replace(kind, first=config.flat_features)
    shown = kind.history(value)
    return described.history.format(shown, s="" if value == 1 else "s") if shown else ""


def network_words(config: TrainConfig) -> str:
    """What follows each layer: "with ReLU after every hidden layer", "…, then dropout 0.3"; a CNN's filters first."""
    activation = SETTINGS["activation"].kind.words(config.activation)
    dropout = f", then dropout {config.dropout:g}" if config.dropout else ""
    if config.architecture == "mlp":
        return (f"with {activation}{dropout} after every hidden layer" if config.hidden
                else "with no hidden layer: a linear classifier")
    dense = (f"and {activation}{dropout} after every hidden layer" if config.hidden
             else "then straight to the 10 outputs")
    return f"with {activation} and 2×2 max-pooling after each convolutional layer, {dense}"


def lr_changes_text(changes) -> str:
    """The learning rates changed by hand, for the history: " · lr 0.1 from step 301"."""
    return "".join(f" · lr {lr:g} from step {step + 1:,}" for step, lr in changes)


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
            "settings": (settings_text(config) + lr_changes_text(run.lr_changes)) if config is not None
            else "unreadable settings",
            "test accuracy (%)": round(accuracy, 2) if accuracy is not None else None,
            "training time": format_seconds(record.get("train_seconds") or 0.0),
            "epochs": f"{record.get('epochs_done', 0)} of {config.epochs if config is not None else '?'}",
            "id": run.id,
        })
    return rows
