"""Hyperparameter sweeps: one short run per value of one setting, then the table and the winner."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from core.engine.config import SETTINGS, ConfigError, TrainConfig
from core.engine.status import Status

MIN_VALUES, MAX_VALUES = 2, 6
SHORT_EPOCHS = 1
SHORT_SUBSET = 10_000  # a sixth of MNIST: enough to rank settings, short enough to compare several


@dataclass(frozen=True)
class Sweepable:
    """A setting a sweep can vary: the values offered and those picked by default."""

    param: str
    options: tuple
    default: tuple

    @property
    def title(self) -> str:
        """The setting's name for people, as a sentence writes it: "learning rate"."""
        return SETTINGS[self.param].label.lower()


# What a sweep can vary and with which values: each setting's own SweepValues, in the settings' order.
SWEEPABLE: dict[str, Sweepable] = {
    name: Sweepable(name, described.sweep.values, described.sweep.picked)
    for name, described in SETTINGS.items() if described.sweep is not None
}


def format_param_value(param: str, value) -> str:
    """A swept value as people read it: 0.001, 128, 256-128, adam, leaky ReLU."""
    return SETTINGS[param].kind.short(value)


def sweep_configs(
    base: TrainConfig, param: str, values: list, epochs: int = SHORT_EPOCHS, train_subset: int | None = SHORT_SUBSET
) -> list[TrainConfig]:
    """One config per value: the base settings with `param` set (and what it needs to matter: a CNN for a kernel
    size) and the run shortened. Raises ValueError."""
    if param not in SWEEPABLE:
        raise ValueError(f"cannot sweep {param!r}: choose one of {', '.join(SWEEPABLE)}")
    if len(set(values)) != len(values):
        raise ValueError("each value may appear only once")
    if not MIN_VALUES <= len(values) <= MAX_VALUES:
        raise ValueError(f"a sweep compares {MIN_VALUES} to {MAX_VALUES} values, not {len(values)}")
    needs = dict([SETTINGS[param].needs]) if SETTINGS[param].needs else {}  # a kernel-size sweep trains CNNs
    try:
        return [replace(base, **needs, **{param: value}, epochs=epochs, train_subset=train_subset,
                        overfit_one_batch=False) for value in values]
    except ConfigError as error:
        raise ValueError(str(error)) from None


@dataclass(frozen=True)
class SweepJobs:
    """The jobs of one sweep, queued together: one short run per value of one setting."""

    id: str
    param: str
    values: tuple
    owner: str
    job_ids: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return SWEEPABLE[self.param].title

    def label_for(self, value) -> str:
        """The run label of one value, as shown in the history: "sweep: learning rate 0.01"."""
        return f"sweep: {self.title} {format_param_value(self.param, value)}"


@dataclass(frozen=True)
class SweepRow:
    """One line of a sweep's results table."""

    value: object
    status: str
    test_accuracy: float | None
    seconds: float
    job_id: str


def results(sweep: SweepJobs, snapshots) -> list[SweepRow]:
    """The sweep's rows in the order of its values, from its jobs' snapshots."""
    by_id = {snap.id: snap for snap in snapshots}
    rows = []
    for value, job_id in zip(sweep.values, sweep.job_ids, strict=False):
        snap = by_id.get(job_id)
        if snap is not None:
            rows.append(SweepRow(value, snap.status, snap.test_accuracy, snap.train_seconds, job_id))
    return rows


def best(rows: list[SweepRow]) -> SweepRow | None:
    """The finished run with the highest test accuracy (the faster one on a tie); None if none finished."""
    done = [r for r in rows if r.status == Status.FINISHED and r.test_accuracy is not None
            and math.isfinite(r.test_accuracy)]
    return max(done, key=lambda r: (r.test_accuracy, -r.seconds), default=None)
