"""Where MNIST and the runs live by default. Imports no torch: the CLI checks both folders before loading it."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "MNIST_LAB_DATA"
RUNS_ENV = "MNIST_LAB_RUNS"


def default_root() -> Path:
    """The data folder: $MNIST_LAB_DATA, else `data/`."""
    return Path(os.environ.get(DATA_ENV) or "data")


def default_runs_dir() -> Path:
    """The runs folder: $MNIST_LAB_RUNS, else `runs/`."""
    return Path(os.environ.get(RUNS_ENV) or "runs")
