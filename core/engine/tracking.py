"""Experiment trackers (TensorBoard, MLflow, W&B) through Accelerate's own log_with / init_trackers / log.

The Accelerator logs into the runs folder and each run's trackers are named after the run, so TensorBoard's
files land in the run's own folder (runs/<id>/) and `tensorboard --logdir runs` shows the lab's runs, by id,
beside a user's other work. Accelerate writes from the main process only.
"""

from __future__ import annotations

import importlib.util
import os

TRACKERS = ("none", "tensorboard", "mlflow", "wandb")
PROJECT = "mnist-lab"  # the trackers' project name for a run without a folder of its own
TRACK_EVERY = 10  # steps between two logged training losses: enough for a curve, cheap to write
# The package each tracker needs (any one of them), as Accelerate looks for them.
_PACKAGES = {"tensorboard": ("tensorboard", "tensorboardX"), "mlflow": ("mlflow",), "wandb": ("wandb",)}


def tracker_problem(name: str) -> str | None:
    """Why the tracker `name` cannot log here (its package is missing), or None when it can."""
    if name == "none":
        return None
    if name not in _PACKAGES:
        return f"{name!r} is not a tracker the lab knows (one of {', '.join(TRACKERS)})"
    if any(importlib.util.find_spec(package) for package in _PACKAGES[name]):
        return None
    return f"logging with {name} needs its package: pip install {_PACKAGES[name][0]}"


def tracker_arguments(name: str, log_dir: str | os.PathLike | None) -> dict:
    """Accelerator's keyword arguments for logging with tracker `name` into `log_dir` (the runs folder); {} for none."""
    if name == "none":
        return {}
    if problem := tracker_problem(name):
        raise ValueError(problem)
    if log_dir is None:
        raise ValueError(f"logging with {name} needs a folder to write into (the runs folder)")
    return {"log_with": name, "project_dir": os.fspath(log_dir)}


def start_trackers(accelerator, config, run_name: str | None) -> None:
    """Start the Accelerator's trackers (if any) for run `run_name`, with its settings as hyperparameters."""
    if not accelerator.log_with:
        return
    # Trackers take plain scalars: the hidden layers as text, "all images" as 0 (as the settings page says).
    settings = {k: ",".join(map(str, v)) if isinstance(v, list) else (0 if v is None else v)
                for k, v in config.to_dict().items()}
    accelerator.init_trackers(run_name or PROJECT, config=settings)


def log_epoch(accelerator, epoch, step: int) -> None:
    """One evaluated epoch (an EpochEvent) to the trackers, at the step where it ended."""
    if accelerator.trackers:
        accelerator.log({"epoch/train_loss": epoch.train_loss, "epoch/test_loss": epoch.test_loss,
                         "epoch/test_accuracy": epoch.test_accuracy}, step=step)


def log_layers(accelerator, layers: list[dict], step: int) -> None:
    """Gradient flow (a LayerStatsEvent's layers) to the trackers: one scalar per layer and quantity."""
    if accelerator.trackers:
        accelerator.log({f"{quantity}/{layer['name']}": layer[quantity]
                         for layer in layers for quantity in ("grad_norm", "update_ratio", "dead_fraction")
                         if layer[quantity] is not None}, step=step)


def finish_trackers(accelerator) -> None:
    """Close the trackers' files. Not Accelerator.end_training(): it also ends the process group of a
    multi-process launch, which the caller may still need after training."""
    for tracker in accelerator.trackers:
        tracker.finish()
    accelerator.trackers = []
