"""The run doctor: what a run's own numbers say went wrong (or right), in plain words, with one thing to try.

Pure functions over what every run saves: the loss of each step, the per-epoch train and test metrics, the
settings, how it ended and (for finished runs) the report card's train accuracy. Each diagnosis has a stable
code, a message that quotes its evidence, and `try`: the settings to change. The thresholds were chosen on
real runs of this lab (benchmarks/doctor_cases.py prints the numbers each rule looks at); each says how.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from core.engine.config import N_TRAIN, TrainConfig
from core.engine.smoothing import ema
from core.engine.status import Status


class Code(StrEnum):
    """The doctor's stable codes (as they appear in the CLI's JSON)."""

    DIVERGED = "diverged"
    LR_TOO_HIGH = "lr_too_high"
    LR_TOO_LOW = "lr_too_low"
    OVERFITTING = "overfitting"
    STILL_LEARNING = "still_learning"
    VANISHING_GRADIENTS = "vanishing_gradients"
    HEALTHY = "healthy"


CHANCE_LOSS = math.log(10)  # cross-entropy of a network that guesses among 10 digits: every run starts here
LOSS_SMOOTHING = 0.98  # the step losses, averaged over about the last 50 steps: minibatch noise cancels out
START_STEPS = 20  # "the loss at the start": the mean of the first steps (one batch alone is noisy)
MIN_STEPS = 100  # fewer steps tell nothing about the learning rate: no verdict on it, nor "healthy" on them alone
# A raw step loss above 3x the chance loss (6.9) is a leap no healthy run makes. Measured: SGD lr 2 leaps
# to 9.5 and Adam lr 0.1 to 27.7, while SGD lr 1 (which learns, to 92 %) peaks at 4.2 and every preset at 2.3.
SPIKE_FACTOR = 3.0
# A run that ends with its smoothed loss above 1.0 has learned little. Measured: SGD lr 2 ends at 2.31
# (10 % test accuracy) and Adam lr 0.1 at 1.74 (34 %); SGD lr 1 ends its one epoch at 0.26 (92 %).
POOR_LOSS = 1.0
# The smoothed loss climbing to 1.5x its lowest point means the steps overshoot. Measured: no run that
# learns ends more than 1.16x above its lowest (the lecture 1.04x, Adam 1.13x, Quick 1.16x: minibatch noise).
CLIMB_FACTOR = 1.5
# "Creeping": the smoothed loss has fallen less than a quarter of the way from its start. Measured over
# one epoch (938 steps): SGD lr 0.0001 fell 0 %, lr 0.001 fell 1 %, lr 1 fell 88 %; the lecture fell 83 %.
CREEP_FRACTION = 0.25
# Test accuracy rising by more than 0.5 points in the last epoch: still learning. Runs that differ only
# in their seed end within about 0.2-0.3 points of each other, so a rise of twice that is not luck. Measured:
# the lecture rises 1.8 points in its third epoch, Quick 0.3 in its fourth, Best 0.0 in its sixth.
STILL_RISING_POINTS = 0.5
# With a single epoch, the smoothed loss still falling by more than 10 % over the last quarter of the steps.
STILL_FALLING_FRACTION = 0.10
# Train accuracy (eval mode) above test accuracy by more than 3 points: memorising. Measured: Adam on
# 1,000 images for 30 epochs has a gap of 11.3 points; Quick 1.1-1.2, Best 1.4, the lecture -0.4 to -0.7.
GAP_POINTS = 3.0
# The test loss 10 % above its lowest epoch while the train loss kept falling: the network memorises.
# Measured: Adam on 1,000 images goes from 0.387 (epoch 16) to 0.455 (epoch 30), 17 % up; the lecture and
# the presets end at their lowest test loss.
TEST_RISE_FRACTION = 0.10
# A learning rate known to train this network well with each optimizer: where a "try" points. Measured,
# the lecture's setup for 3 epochs: SGD 0.1 96.1 %, momentum 0.01 96.4 %, Adam 0.001 97.2 % (SGD 0.01: 89.8 %).
GOOD_LR = {"sgd": 0.1, "momentum": 0.01, "adam": 0.001}
LR_STEP = 10.0  # a wrong learning rate is usually off by a power of ten: a try moves by one at least
MAX_EPOCHS_TRIED = 30
# The first hidden layer's gradient norm below 1/1,000 of the output layer's (the means of the last epoch's
# measurements): the gradient fades on its way back. Measured, the lecture's SGD lr 0.01 for 1 epoch with
# 8 hidden layers of 64: sigmoid 3.8e-7 (11 % test accuracy), ReLU 0.018, tanh 0.15; the lecture's network
# 1.1 (sigmoid 0.058), Quick 0.70, Best 0.73, 8 ReLU layers with Adam 0.67 (90 % in 1 epoch).
VANISHING_RATIO = 0.001
RELU_LIKE = ("relu", "leaky_relu", "gelu")  # activations whose slope is about 1 for positive inputs
SLOPE_WORDS = {"sigmoid": "sigmoid's slope is at most 0.25",
               "tanh": "tanh's slope is 1 only at 0 and smaller elsewhere"}


@dataclass(frozen=True)
class Diagnosis:
    """One finding: a stable code, the evidence in plain words, and the settings to try (maybe none)."""

    code: Code
    message: str
    try_settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready: {"code", "message", "try"}."""
        return {"code": str(self.code), "message": self.message, "try": dict(self.try_settings)}


def diagnose(
    steps: Sequence[float],
    epochs: Sequence[dict],
    config: TrainConfig,
    status: Status,
    train_accuracy: float | None = None,
) -> list[Diagnosis]:
    """What this run's numbers say, most serious first; [] when it did not train long enough to tell."""
    if status not in (Status.FINISHED, Status.STOPPED, Status.DIVERGED):
        return []  # failed, interrupted or damaged: its numbers stop where something else went wrong
    if status == Status.DIVERGED or any(not math.isfinite(loss) for loss in steps):
        return [diverged(steps, config)]
    if not steps:
        return []
    enough_steps = len(steps) >= MIN_STEPS
    # Fading gradients also make the loss creep: then the cure is the network, not the learning rate.
    fading = vanishing_gradients(epochs, config)
    if enough_steps and (found := lr_too_high(steps, config) or (not fading and lr_too_low(steps, config))):
        return [found]
    found = [d for d in (fading, overfitting(epochs, config, train_accuracy), still_learning(steps, epochs, config))
             if d]
    if found or not (enough_steps or len(epochs) >= 2):
        return found
    return [healthy(epochs, train_accuracy)]


# `every` below: each of `steps` is the mean loss of that many steps (a live run's curve, core.engine.curves), so the
# rules judge a long run from a few hundred points as they would from every step.


def diverged(steps: Sequence[float], config: TrainConfig, every: int = 1) -> Diagnosis:
    """The loss became NaN or infinite, or exploded: the steps overshoot more at every step."""
    finite = [loss for loss in steps if math.isfinite(loss)]
    bad = next((i for i, loss in enumerate(steps) if not math.isfinite(loss)), len(steps))
    climb = (f"the loss went from {finite[0]:.1f} to {max(finite[:bad]):,.0f} in {bad * every:,} steps, then blew "
             "up" if bad and max(finite[:bad]) > 2 * CHANCE_LOSS
             else f"the loss blew up after {bad * every:,} steps" if bad else "the loss blew up at the very first step")
    return Diagnosis(
        Code.DIVERGED,
        f"{climb}: with learning rate {config.lr:g} each step overshoots the minimum and lands further away, "
        "until the numbers explode",
        {"lr": lower_lr(config)})


def lr_too_high(steps: Sequence[float], config: TrainConfig, every: int = 1) -> Diagnosis | None:
    """The loss leapt far above its start or climbed back up, without becoming NaN."""
    smooth = smoothed(steps, every)
    end, peak = smooth[-1], max(steps)
    lowest = min(smooth[_start_points(every):])
    if peak > SPIKE_FACTOR * CHANCE_LOSS and end > POOR_LOSS:
        evidence = (f"a step's loss leapt to {peak:.1f}, {peak / CHANCE_LOSS:.0f} times the {CHANCE_LOSS:.1f} of a "
                    f"network that guesses, and after {len(steps) * every:,} steps it was still {end:.2f}")
    elif end > CLIMB_FACTOR * lowest:
        evidence = f"the loss fell to {lowest:.2f}, then climbed back to {end:.2f}"
    else:
        return None
    return Diagnosis(Code.LR_TOO_HIGH, f"{evidence}: learning rate {config.lr:g} is too high, the steps jump over "
                     "the valley instead of going down into it", {"lr": lower_lr(config)})


def lr_too_low(steps: Sequence[float], config: TrainConfig, every: int = 1) -> Diagnosis | None:
    """The loss creeps down: many steps, hardly any progress."""
    start, end = start_loss(steps, every), smoothed(steps, every)[-1]
    if start - end >= CREEP_FRACTION * start:
        return None
    return Diagnosis(
        Code.LR_TOO_LOW,
        f"the loss was still {end:.2f} after {len(steps) * every:,} steps: it fell only {start - end:.2f} from "
        f"{start:.2f}. With learning rate {config.lr:g} every step is tiny",
        {"lr": higher_lr(config)})


def overfitting(epochs: Sequence[dict], config: TrainConfig, train_accuracy: float | None) -> Diagnosis | None:
    """The train loss keeps falling while the test loss rises, or train accuracy is well above test."""
    evidence = []
    best = min(epochs, key=lambda e: e["test_loss"]) if epochs else None
    if best is not None and best is not epochs[-1]:
        last = epochs[-1]
        if (last["test_loss"] > (1 + TEST_RISE_FRACTION) * best["test_loss"]
                and last["train_loss"] < best["train_loss"]):
            evidence.append(f"the test loss was lowest after epoch {best['epoch']} ({best['test_loss']:.3f}) and "
                            f"rose to {last['test_loss']:.3f} by epoch {last['epoch']}, while the train loss kept "
                            f"falling ({best['train_loss']:.3f} to {last['train_loss']:.3f})")
    test_accuracy = epochs[-1]["test_accuracy"] if epochs else None
    if train_accuracy is not None and test_accuracy is not None and train_accuracy - test_accuracy > GAP_POINTS:
        evidence.append(f"it gets {train_accuracy:.1f} % of its training images right but only "
                        f"{test_accuracy:.1f} % of new ones, a gap of {train_accuracy - test_accuracy:.1f} points")
    if not evidence:
        return None
    return Diagnosis(Code.OVERFITTING, "; ".join(evidence) + ": the network memorises its training images instead "
                     "of learning what makes a digit", overfitting_cure(config, best))


def overfitting_cure(config: TrainConfig, best: dict | None) -> dict:
    """More data when it trained on part of it, else regularisation, else stopping at the best epoch."""
    if config.train_subset:
        more = config.train_subset * 10
        return {"train_subset": more if more < N_TRAIN else None}
    if config.weight_decay == 0:
        return {"weight_decay": 0.0001}
    return {"epochs": best["epoch"]} if best is not None and best["epoch"] < config.epochs else {}


def still_learning(steps: Sequence[float], epochs: Sequence[dict], config: TrainConfig) -> Diagnosis | None:
    """Test accuracy still rising at the last epoch (or, with one epoch, the loss still falling)."""
    if len(epochs) >= 2:
        before, last = epochs[-2]["test_accuracy"], epochs[-1]["test_accuracy"]
        if last - before <= STILL_RISING_POINTS:
            return None
        evidence = (f"test accuracy was still rising at the end: {before:.1f} % to {last:.1f} % in the last "
                    "epoch")
    elif len(epochs) == 1:
        smooth = smoothed(steps)
        earlier, end = smooth[len(smooth) * 3 // 4], smooth[-1]
        if earlier - end <= STILL_FALLING_FRACTION * earlier:
            return None
        evidence = f"the loss was still falling at the end: {earlier:.2f} to {end:.2f} in the last quarter of the steps"
    else:
        return None
    good = GOOD_LR.get(config.optimizer)
    if good is not None and config.lr * LR_STEP <= good * 1.001 and config.schedule == "constant":
        advice, change = f"a higher learning rate ({good:g}) gets there sooner", {"lr": good}
    else:
        more = min(config.epochs * 2, MAX_EPOCHS_TRIED)
        advice, change = f"{more} epochs give it time to finish", {"epochs": more}
    return Diagnosis(Code.STILL_LEARNING, f"{evidence}: it stopped before it had finished learning; {advice}", change)


def vanishing_gradients(epochs: Sequence[dict], config: TrainConfig) -> Diagnosis | None:
    """The first layer's gradient is a tiny fraction of the last layer's: the early layers hardly learn."""
    layers = epochs[-1].get("layers") if epochs else None
    if not layers or len(layers) < 3:  # fewer than two hidden layers: nothing for the gradient to fade through
        return None
    first, last = layers[0]["grad_norm"], layers[-1]["grad_norm"]
    if first is None or last is None or not (math.isfinite(first) and math.isfinite(last)) or last <= 0:
        return None
    ratio = first / last
    if ratio >= VANISHING_RATIO:
        return None
    change: dict = {}
    advice = []
    if config.activation not in RELU_LIKE:
        change["activation"] = "relu"
        advice.append(f"{SLOPE_WORDS.get(config.activation, config.activation)}, so it shrinks the gradient at "
                      "every layer it goes back through; ReLU's slope is 1 wherever it fires")
    if len(config.hidden) > 2:
        change["hidden"] = [128, 64]
        advice.append(f"{len(config.hidden)} hidden layers are many to go back through; the lecture's 2 are enough "
                      "for MNIST")
    if config.architecture == "cnn" and len(config.conv_channels) > 2:
        change["conv_channels"] = [8, 16]
        advice.append(f"{len(config.conv_channels)} convolutional layers are many to go back through as well; 2 "
                      "are enough for MNIST")
    return Diagnosis(
        Code.VANISHING_GRADIENTS,
        f"the first layer's gradient is {ratio:.2g} times the last layer's ({first:.2g} against {last:.2g}, the "
        "last epoch's means): the gradient fades on its way back, so the first layers hardly learn"
        + ("; " + "; ".join(advice) if advice else ""),
        change)


def healthy(epochs: Sequence[dict], train_accuracy: float | None) -> Diagnosis:
    """Nothing wrong: the loss went down, the test accuracy levelled off, train and test agree."""
    parts = []
    if epochs:
        parts.append(f"test accuracy {epochs[-1]['test_accuracy']:.1f} %")
        if len(epochs) >= 2:
            rise = epochs[-1]["test_accuracy"] - epochs[-2]["test_accuracy"]
            parts.append(f"{rise:+.1f} points in the last epoch, so it has levelled off")
    if train_accuracy is not None and epochs:
        parts.append(f"train accuracy {train_accuracy:.1f} %, close to the test accuracy")
    evidence = ", ".join(parts) if parts else "the loss went steadily down"
    return Diagnosis(Code.HEALTHY, f"{evidence}: the learning rate suits this setup and the network is not "
                     "memorising", {})


def start_loss(steps: Sequence[float], every: int = 1) -> float:
    """The loss at the start: the mean of the first steps."""
    return statistics.fmean(steps[:_start_points(every)])


def smoothed(steps: Sequence[float], every: int = 1) -> list[float]:
    """The step losses averaged over about the last 50 steps (LOSS_SMOOTHING), whatever `every` is."""
    return ema(steps, LOSS_SMOOTHING**every)


def _start_points(every: int) -> int:
    return max(1, math.ceil(START_STEPS / every))


def lower_lr(config: TrainConfig) -> float:
    """A rate at least ten times lower, and no higher than the one known to work."""
    return round_lr(min(config.lr / LR_STEP, GOOD_LR.get(config.optimizer, config.lr / LR_STEP)))


def higher_lr(config: TrainConfig) -> float:
    """A rate at least ten times higher, or the one known to work if that is higher still."""
    return round_lr(max(config.lr * LR_STEP, GOOD_LR.get(config.optimizer, 0.0)))


def round_lr(lr: float) -> float:
    """A learning rate a person would type: one significant digit (0.1, 0.003)."""
    return float(f"{lr:.1g}")
