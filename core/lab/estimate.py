"""How long an epoch will take here: a cost model of one training step, scaled to this machine's speed.

Timing the chosen network inside the page would be simpler, but a server that is training someone's run
(or loading MNIST) makes such timings far too slow (docs/measured.md). So the page uses a model fitted
once on the lab machine and a speed factor timed once, when the server warms up.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.engine.config import N_TRAIN, TrainConfig
from core.engine.data import to_inputs
from core.engine.model import build_model
from core.engine.network_size import conv_multiplies, conv_values, count_parameters
from core.engine.optimizers import make_optimizer
from core.engine.words import format_seconds

log = logging.getLogger(__name__)

N_TEST = 10_000
# The Trainer's own cost per step beyond the bare maths (Accelerate's wrappers, events, the data loader);
# measured here at 0.1-0.5 ms against a bare loop, for batches of 8 to 1024.
TRAINER_OVERHEAD_S = 0.0003
# A real epoch's average step against the fastest timed step: measured 1.1-1.4 for batches of 64 to 1024.
TYPICAL_OVER_FASTEST = 1.25
CALIBRATION = (TrainConfig(), TrainConfig(batch_size=256, hidden=(256, 128), optimizer="adam"))


@dataclass(frozen=True)
class StepCost:
    """Seconds per training step as base + terms in images (B), weights (W) and B·W, plus Adam's extra."""

    base: float
    per_image: float
    per_image_weight: float
    per_weight: float
    per_weight_adam: float
    eval_base: float
    eval_per_image_weight: float
    # Dropout's masks, per image and hidden unit. Measured: 12-15 ns here (0.65x the lab machine's step
    # times) for batches 64 and 512 and widths 128-64 and 512-256, +13 to +35 % of a step. The activations
    # cost within the timing noise of ReLU (tanh +1-3 %, GELU +1-10 %), so they add no term.
    per_image_unit_dropout: float = 1.9e-8
    # Convolutional layers: per multiply-add of one image's filters and per number their feature maps hold (the
    # activation, the pooling and their gradients), in a training step and in a test pass. Fitted by
    # benchmarks/cnn_step_cost.py against the MLP terms above.
    per_image_conv_multiply: float = 0.0
    per_image_conv_value: float = 0.0
    eval_per_image_conv_multiply: float = 0.0
    eval_per_image_conv_value: float = 0.0


# Least squares (relative error) over 40 timed configs on the 2-core lab machine, one torch thread:
# batches 8-2048, 25k-1.3M weights, SGD and Adam. Most predictions within ±25 %.
# The conv terms: 12 CNNs timed beside the MLP calibration while other work loaded the 2 cores (load average 20-30);
# steps within about ±30 % of the fit, a few up to 2x.
LAB_MACHINE = StepCost(5.9e-4, 1.32e-6, 8.5e-11, 1.14e-9, 4.16e-9, 0.03, 4.3e-11, per_image_conv_multiply=1.94e-10,
                       per_image_conv_value=2.08e-8, eval_per_image_conv_multiply=2.11e-11,
                       eval_per_image_conv_value=2.54e-8)


@dataclass(frozen=True)
class EpochEstimate:
    """The estimated time of one epoch: its training steps plus the test-set evaluation after it."""

    steps: int
    step_seconds: float
    eval_seconds: float

    @property
    def train_seconds(self) -> float:
        return self.steps * self.step_seconds

    @property
    def seconds(self) -> float:
        return self.train_seconds + self.eval_seconds


def steps_per_epoch(config: TrainConfig) -> int:
    """Optimizer steps in one epoch of this config."""
    if config.overfit_one_batch:
        return config.overfit_steps
    return math.ceil((config.train_subset or N_TRAIN) / config.batch_size)


def dense_weights(config: TrainConfig) -> int:
    """The fully connected layers' weights and biases: every one of the network's for an MLP."""
    return count_parameters(config.hidden, config.flat_features)


def conv_sizes(config: TrainConfig) -> tuple[int, int]:
    """(multiply-adds, feature-map numbers) of the convolutional layers for one image; (0, 0) for an MLP."""
    if config.architecture != "cnn":
        return 0, 0
    return conv_multiplies(config.conv_channels, config.kernel_size), conv_values(config.conv_channels)


def model_step_seconds(config: TrainConfig, cost: StepCost = LAB_MACHINE) -> float:
    """The cost model's seconds per training step on the lab machine."""
    b, w, dense = config.batch_size, config.parameter_count(), dense_weights(config)
    adam = cost.per_weight_adam * w if config.optimizer == "adam" else 0.0
    dropout = cost.per_image_unit_dropout * b * sum(config.hidden) if config.dropout else 0.0
    multiplies, values = conv_sizes(config)
    conv = b * (cost.per_image_conv_multiply * multiplies + cost.per_image_conv_value * values)
    return (cost.base + cost.per_image * b + cost.per_image_weight * b * dense + cost.per_weight * w + adam + dropout
            + conv)


def estimate_epoch(config: TrainConfig, speed: float = 1.0, cost: StepCost = LAB_MACHINE) -> EpochEstimate:
    """One epoch of this config; `speed` is how many times slower this machine is than the lab machine."""
    multiplies, values = conv_sizes(config)
    eval_seconds = cost.eval_base + N_TEST * (cost.eval_per_image_weight * dense_weights(config)
                                              + cost.eval_per_image_conv_multiply * multiplies
                                              + cost.eval_per_image_conv_value * values)
    return EpochEstimate(steps_per_epoch(config), model_step_seconds(config, cost) * speed, eval_seconds * speed)


def measure_step_seconds(config: TrainConfig, budget_s: float = 0.15, max_steps: int = 20) -> float:
    """Seconds per Trainer step of this network, batch size and optimizer, from a few steps on random images."""
    model = build_model(config, seed=0)
    optimizer = make_optimizer(config, model.parameters())
    generator = torch.Generator().manual_seed(0)
    pool = 2 * config.batch_size  # the Trainer gathers each batch from shuffled indices: so do we
    images = torch.randint(0, 256, (pool, 28, 28), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (pool,), generator=generator)

    def step():
        idx = torch.randperm(pool, generator=generator)[: config.batch_size]
        loss = F.cross_entropy(model(to_inputs(images[idx], config.normalize)), labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()

    step()  # the first step allocates the optimizer's state
    # The fastest of a few steps: other threads now and then hold the interpreter or a core.
    times, began = [], time.perf_counter()
    while len(times) < max_steps and (len(times) < 3 or time.perf_counter() - began < budget_s):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times) * TYPICAL_OVER_FASTEST + TRAINER_OVERHEAD_S


def measure_speed() -> float:
    """How many times slower than the lab machine this one is (0.5 = twice as fast); about 0.1 s of timing."""
    ratios = [measure_step_seconds(c, budget_s=0.05) / model_step_seconds(c) for c in CALIBRATION]
    return min(10.0, max(0.1, math.sqrt(ratios[0] * ratios[1])))


# The optimizer's extra copies of the weights: momentum keeps one, Adam two.
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2}
BASE_MEMORY_MB = 50  # MNIST's test set in floats, the evaluation's outputs, allocator slack


def estimate_memory_mb(config: TrainConfig) -> float:
    """Peak memory one run adds to the server: weights, gradients, optimizer state and a batch's activations."""
    w = config.parameter_count()
    activations = 2 * config.batch_size * (784 + sum(config.hidden) + 10)  # forward values and their gradients
    if config.dropout:  # dropout's output and its gradient, per hidden unit (its masks are bytes: rounded in)
        activations += 2 * config.batch_size * sum(config.hidden)
    # Each feature map's numbers: the conv output, the activation's and a quarter each for the pooling's output
    # and its indices (8-byte integers), with their gradients: about 5 numbers for each.
    activations += 5 * config.batch_size * conv_sizes(config)[1]
    return BASE_MEMORY_MB + 4 * (w * (2 + OPTIMIZER_STATES[config.optimizer]) + activations) / 2**20


def estimate_run_seconds(config: TrainConfig, speed: float = 1.0) -> float:
    """The whole run's estimated time on this machine: every epoch's training and evaluation."""
    return config.epochs * estimate_epoch(config, speed).seconds


def estimate_finder_seconds(config: TrainConfig, speed: float = 1.0) -> float:
    """The learning-rate finder's longest time on this machine: every seed's every step (it often stops sooner)."""
    from core.engine.lr_finder import SEEDS, STEPS

    return SEEDS * STEPS * model_step_seconds(config) * speed


@dataclass(frozen=True)
class RunBudget:
    """The most one run may cost a shared server, in estimated training time, memory and time per step."""

    seconds: float
    memory_mb: float
    # Stop and Pause act between two steps (torch cannot be interrupted inside one), so no step may take longer.
    step_seconds: float = 2.0

    def problem(self, config: TrainConfig, speed: float = 1.0) -> str | None:
        """Why this run is over budget, in words for the student; None when it fits."""
        seconds = estimate_run_seconds(config, speed)
        if seconds > self.seconds:
            return (f"This run would train for about {format_seconds(seconds)} on this server, and one run may "
                    f"take at most {format_seconds(self.seconds)}. Choose fewer epochs, fewer training images, "
                    "a bigger batch or a smaller network.")
        return self._memory_problem(config, "This run") or self._step_problem(config, speed, "this run")

    def finder_problem(self, config: TrainConfig, speed: float = 1.0) -> str | None:
        """Why the learning-rate finder may not run for these settings, in words for the student; None when it may."""
        seconds = estimate_finder_seconds(config, speed)
        if seconds > self.seconds:
            return (f"The learning-rate finder would take up to {format_seconds(seconds)} on this server with these "
                    f"settings, and it may take at most {format_seconds(self.seconds)}, like a run. Choose a smaller "
                    "batch size or a smaller network.")
        # Its 720 steps within the time allowed keep each step far shorter than step_seconds.
        return self._memory_problem(config, "The learning-rate finder")

    def _memory_problem(self, config: TrainConfig, what: str) -> str | None:
        memory = estimate_memory_mb(config)
        if memory > self.memory_mb:
            return (f"{what} would need about {memory:,.0f} MB of memory, and one run may use at most "
                    f"{self.memory_mb:,.0f} MB. Choose a smaller batch size or a smaller network.")
        return None

    def _step_problem(self, config: TrainConfig, speed: float, what: str) -> str | None:
        step = model_step_seconds(config) * speed
        if step > self.step_seconds:
            return (f"One step of {what} would take about {format_seconds(step)} on this server, and Stop and Pause "
                    f"act between steps, so a step may take at most {format_seconds(self.step_seconds)}. Choose a "
                    "smaller batch size or a smaller network.")
        return None


MAX_RUN_MINUTES_ENV = "MNIST_LAB_MAX_RUN_MINUTES"
# Ten minutes leaves the lecture's setup (well under a minute) and a 20-epoch run of a wide network room; 1 GB keeps
# a 2-core, 24 GB server safe with several runs at once.
DEFAULT_MAX_RUN_MINUTES = 10
MEMORY_BUDGET_MB = 1024


def run_budget(environ=None) -> RunBudget:
    """One run's limits: ${MNIST_LAB_MAX_RUN_MINUTES} minutes of estimated training (else 10) and 1 GB. The one
    place they are set."""
    text = (environ if environ is not None else os.environ).get(MAX_RUN_MINUTES_ENV, "").strip()
    minutes = DEFAULT_MAX_RUN_MINUTES
    if text:
        try:
            minutes = float(text)
            if not 0 < minutes < math.inf:
                raise ValueError
        except ValueError:
            log.warning("%s=%r is not a number of minutes above 0; using %d", MAX_RUN_MINUTES_ENV, text,
                        DEFAULT_MAX_RUN_MINUTES)
            minutes = DEFAULT_MAX_RUN_MINUTES
    return RunBudget(seconds=60 * minutes, memory_mb=MEMORY_BUDGET_MB)


RUN_BUDGET = run_budget()


