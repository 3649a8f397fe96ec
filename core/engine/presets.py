"""Named starting points for the hyperparameters: the lecture's exact setup and a quick one.

Quick, the dashboard's default, reaches high accuracy in seconds on a small CPU server, so a class can
try ideas live; its measured accuracy and time are in README.md ("Measured").
"""

from __future__ import annotations

from core.engine.config import TrainConfig

LECTURE = TrainConfig()  # SGD, lr 0.01, batch 64, 3 epochs, 784 → 128 → 64 → 10, pixels scaled to 0..1
QUICK = TrainConfig(lr=0.002, batch_size=256, epochs=4, hidden=(256, 128), optimizer="adam", normalize="standard")

PRESETS: dict[str, TrainConfig] = {"Quick": QUICK, "Lecture": LECTURE}
DEFAULT = QUICK

DESCRIPTIONS = {
    "Quick": "Adam, learning rate 0.002, batches of 256, a wider 256 → 128 network and standardised pixels: "
    "about 97.7 % test accuracy after 6-9 seconds of training on the lab's 2-core server (more when it is busy).",
    "Lecture": "The lecture's exact setup: plain SGD, learning rate 0.01, batches of 64, 3 epochs, "
    "784 → 128 → 64 → 10, pixels scaled to 0..1. Slower to learn: about 89-90 % after 3 epochs.",
}


def preset_name(config: TrainConfig) -> str | None:
    """The name of the preset this config equals, or None when it has been changed."""
    return next((name for name, preset in PRESETS.items() if preset == config), None)
