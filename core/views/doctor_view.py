"""The run doctor, the report card and the learning-rate finder in words for the pages."""

from __future__ import annotations

from core.engine.config import N_TRAIN, SETTINGS, TrainConfig
from core.engine.doctor import Code
from core.engine.words import plural

TITLES = {
    Code.DIVERGED: "Diverged",
    Code.LR_TOO_HIGH: "Learning rate too high",
    Code.LR_TOO_LOW: "Learning rate too low",
    Code.OVERFITTING: "Overfitting",
    Code.STILL_LEARNING: "Still learning",
    Code.VANISHING_GRADIENTS: "Vanishing gradients",
    Code.HEALTHY: "Healthy",
}
# How serious each finding is, as the colour of its badge.
COLOURS = {Code.DIVERGED: "red", Code.LR_TOO_HIGH: "red", Code.LR_TOO_LOW: "orange", Code.OVERFITTING: "orange",
           Code.STILL_LEARNING: "blue", Code.VANISHING_GRADIENTS: "orange", Code.HEALTHY: "green"}


def finding_text(code: str, message: str) -> str:
    """Markdown: a coloured badge with the finding's name, then its evidence as a sentence."""
    sentence = message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
    return f":{COLOURS.get(code, 'gray')}-badge[{TITLES.get(code, code)}] {sentence}"


def change_text(name: str, value) -> str:
    """One setting to try, in words: "learning rate 0.1", "10,000 training images", "6 epochs"."""
    described = SETTINGS[name]
    if name == "train_subset":
        return f"{value:,} training images" if value else f"all {N_TRAIN:,} training images"
    if name == "epochs":
        return plural(value, "epoch")
    if name in ("hidden", "conv_channels"):
        return f"{described.label.lower()} {described.kind.short(tuple(value))}"
    if described.choice_labels:
        return described.kind.words(value)
    return f"{described.label.lower()} {described.kind.words(value)}"


def try_label(changes: dict) -> str:
    """A Try button's words: "Try learning rate 0.1" (several changes joined with "and")."""
    return "Try " + " and ".join(change_text(name, value) for name, value in changes.items())


def tried_config(config: TrainConfig, changes: dict) -> TrainConfig:
    """The run's settings with the doctor's changes."""
    return TrainConfig.from_dict({**config.to_dict(), **changes})


def report_card_metrics(card: dict) -> list[tuple[str, str, str]]:
    """The lecture's four measures as (label, value, explanation) for metrics."""
    return [
        ("Accuracy", f"{card['test_accuracy']:.2f} %", "Test images it classifies right: digits it never saw."),
        ("Loss", f"{card['test_loss']:.3f}", "Mean cross-entropy on the test set: how sure it is when right, "
         "how wrong when wrong. 2.30 is guessing."),
        # The unit in the label, not the value: "0.131 ms per image" was cut off at the lab's default width.
        ("Time per image", f"{card['ms_per_image']:.3f} ms",
         f"One image at a time, on this server; in batches of 1,000 it decides "
         f"{card['images_per_second']:,.0f} images per second."),
        ("Consistency", f"{card['accuracy_gap']:+.1f} points",
         f"Train accuracy {card['train_accuracy']:.2f} % (the images it learned from, in eval mode) minus test "
         f"accuracy {card['test_accuracy']:.2f} %. A few points or more: it memorises instead of generalising."),
    ]


def use_lr_label(lr: float) -> str:
    """The finder's button: "Use 0.12"."""
    return f"Use {lr:g}"
