"""TrainConfig: every hyperparameter of a run in one place, checked when it is made."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

OPTIMIZERS = ("sgd", "momentum", "adam")
NORMALIZATIONS = ("plain", "standard")
MIXED_PRECISIONS = ("no", "fp16", "bf16")
DEVICES = ("auto", "cpu")
MOMENTUM = 0.9  # the usual value; "momentum" is plain SGD with it
MAX_HIDDEN_LAYERS = 16
N_TRAIN = 60_000


class ConfigError(ValueError):
    """A hyperparameter is out of range; the message names the field, the value and what is allowed."""

    def __init__(self, name: str, value, allowed: str):
        self.field, self.value, self.allowed = name, value, allowed
        super().__init__(f"{name} = {value!r} is not allowed: {allowed}")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run. The defaults are the lecture's setup."""

    lr: float = 0.01
    batch_size: int = 64
    epochs: int = 3
    hidden: tuple[int, ...] = (128, 64)
    optimizer: str = "sgd"
    weight_decay: float = 0.0
    seed: int = 0
    normalize: str = "plain"
    train_subset: int | None = None
    overfit_one_batch: bool = False
    overfit_steps: int = 100
    mixed_precision: str = "no"
    device: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(self.hidden) if isinstance(self.hidden, list) else self.hidden)
        _check_number("lr", self.lr, 1e-6, 100.0, "a number from 0.000001 to 100")
        _check_int("batch_size", self.batch_size, 1, 8192)
        _check_int("epochs", self.epochs, 1, 100)
        if not isinstance(self.hidden, tuple) or len(self.hidden) > MAX_HIDDEN_LAYERS:
            raise ConfigError("hidden", self.hidden, f"a list of at most {MAX_HIDDEN_LAYERS} layer sizes")
        for units in self.hidden:
            if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= 1024:
                raise ConfigError("hidden", self.hidden, "each hidden layer must have 1 to 1024 units")
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_number("weight_decay", self.weight_decay, 0.0, 1.0, "a number from 0 to 1")
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_choice("normalize", self.normalize, NORMALIZATIONS)
        if self.train_subset is not None:
            _check_int("train_subset", self.train_subset, 1, N_TRAIN)
        if not isinstance(self.overfit_one_batch, bool):
            raise ConfigError("overfit_one_batch", self.overfit_one_batch, "true or false")
        _check_int("overfit_steps", self.overfit_steps, 1, 10_000)
        _check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISIONS)
        _check_choice("device", self.device, DEVICES)

    def to_dict(self) -> dict:
        """Plain JSON-ready values."""
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build from a dict such as to_dict() made; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(unknown[0], values[unknown[0]], f"not a setting (known: {', '.join(sorted(names))})")
        values = dict(values)
        if "hidden" in values and isinstance(values["hidden"], list):
            values["hidden"] = tuple(values["hidden"])
        return cls(**values)

    def differences(self, other: TrainConfig | None = None) -> dict:
        """The settings that differ from `other` (the lecture's defaults when omitted)."""
        base = (other or TrainConfig()).to_dict()
        return {k: v for k, v in self.to_dict().items() if base[k] != v}

    def architecture(self) -> str:
        """The layer widths as the lecture writes them: 784 → 128 → 64 → 10."""
        return " → ".join(str(n) for n in (784, *self.hidden, 10))


def _check_number(name, value, low, high, allowed):
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:
        raise ConfigError(name, value, allowed)


def _check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(name, value, f"a whole number from {low:,} to {high:,}")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ConfigError(name, value, f"one of {', '.join(choices)}")
