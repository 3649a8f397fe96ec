"""Where MNIST and the runs live by default. Imports no torch: the CLI checks both folders before loading it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DATA_ENV = "MNIST_LAB_DATA"
RUNS_ENV = "MNIST_LAB_RUNS"


def default_root(environ: Mapping[str, str] | None = None) -> Path:
    """The data folder: $MNIST_LAB_DATA, else `data/`."""
    return Path((os.environ if environ is None else environ).get(DATA_ENV) or "data")


def default_runs_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The runs folder: $MNIST_LAB_RUNS, else `runs/`."""
    return Path((os.environ if environ is None else environ).get(RUNS_ENV) or "runs")
