"""Experiment trackers (TensorBoard, MLflow, W&B) through Accelerate's own log_with / init_trackers / log.

The Accelerator logs into the runs folder and each run's trackers are named after the run, so TensorBoard's
files land in the run's own folder (runs/<id>/) and `tensorboard --logdir runs` shows the lab's runs, by id,
beside a user's other work. Accelerate writes from the main process only.
"""

from __future__ import annotations

import importlib.util
import math
import os
import time

TRACKERS = ("none", "tensorboard", "mlflow", "wandb")
PROJECT = "mnist-lab"  # the trackers' project name for a run without a folder of its own
# Seconds between two writes: Accelerate's TensorBoard tracker flushes its file at every log() (about 3 ms
# here), so logging every step would cost more than the step; 4 writes a second keep a curve, cost ~1 %.
LOG_SECONDS = 0.25
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


class TrackerLog:
    """What a run sends its Accelerator's trackers: the training loss (mean since the last write), the learning
    rate and the latest gradient flow at most every LOG_SECONDS, and each evaluated epoch. Does nothing
    without trackers."""

    def __init__(self, accelerator, every_seconds: float = LOG_SECONDS):
        self.accelerator, self.every_seconds = accelerator, every_seconds
        self.on = bool(accelerator.trackers)
        self._last = time.perf_counter()
        self._values: dict[str, float] = {}
        self._loss_sum, self._losses = 0.0, 0

    def step(self, step: int, loss: float, lr: float, layers: list[dict] | None) -> None:
        """One training step; written when LOG_SECONDS have passed since the last write."""
        if not self.on:
            return
        if math.isfinite(loss):
            self._loss_sum, self._losses = self._loss_sum + loss, self._losses + 1
        self._values["train/lr"] = lr
        if layers is not None:
            self._values.update({f"{quantity}/{layer['name']}": layer[quantity] for layer in layers
                                 for quantity in ("grad_norm", "update_ratio", "dead_fraction")
                                 if layer[quantity] is not None})
        if time.perf_counter() - self._last >= self.every_seconds:
            self.write(step)

    def epoch(self, epoch, step: int) -> None:
        """One evaluated epoch (an EpochEvent), written at once with what the steps left unwritten."""
        if self.on:
            self._values.update({"epoch/train_loss": epoch.train_loss, "epoch/test_loss": epoch.test_loss,
                                 "epoch/test_accuracy": epoch.test_accuracy})
            self.write(step)

    def write(self, step: int) -> None:
        """Send what was gathered, as of step `step`."""
        if self._losses:
            self._values["train/loss"] = self._loss_sum / self._losses
        if self.on and self._values:
            self.accelerator.log(self._values, step=step)
        self._values, self._loss_sum, self._losses = {}, 0.0, 0
        self._last = time.perf_counter()


def finish_trackers(accelerator) -> None:
    """Close the trackers' files. Not Accelerator.end_training(): it also ends the process group of a
    multi-process launch, which the caller may still need after training."""
    for tracker in accelerator.trackers:
        tracker.finish()
    accelerator.trackers = []
