"""Named starting points for the hyperparameters: the lecture's exact setup, a quick one, the best MLP and a CNN.

Quick, the dashboard's default, reaches high accuracy in seconds on a small CPU server, so a class can
try ideas live; its measured accuracy and time are in docs/measured.md.
"""

from __future__ import annotations

from core.engine.config import TrainConfig

LECTURE = TrainConfig()  # SGD, lr 0.01, batch 64, 3 epochs, 784 → 128 → 64 → 10, pixels scaled to 0..1
QUICK = TrainConfig(lr=0.002, batch_size=256, epochs=4, hidden=(256, 128), optimizer="adam", normalize="standard")
# The highest test accuracy an MLP reached here in under 20 s of training: a wider network, Adam and a
# one-cycle schedule (benchmarks/best_preset.py measures it).
BEST = TrainConfig(lr=0.003, batch_size=128, epochs=6, hidden=(512, 256), optimizer="adam", normalize="standard",
                   schedule="onecycle")
# The next lecture: two convolutional layers (8 and 16 filters of 5×5, each with 2×2 max-pooling) in front of one
# hidden layer, trained as Best is; past 99 % test accuracy in 3 epochs (benchmarks/cnn_preset.py measures it).
CNN = TrainConfig(architecture="cnn", conv_channels=(8, 16), kernel_size=5, hidden=(128,), lr=0.003, batch_size=128,
                  epochs=3, optimizer="adam", normalize="standard", schedule="onecycle")

PRESETS: dict[str, TrainConfig] = {"Quick": QUICK, "Lecture": LECTURE, "Best": BEST, "CNN": CNN}
DEFAULT = QUICK

DESCRIPTIONS = {
    "Quick": "Adam, learning rate 0.002, batches of 256, a wider 256 → 128 network and standardised pixels: "
    "about 97.7 % test accuracy after 6-9 seconds of training on the lab's 2-core server (more when it is busy).",
    "Lecture": "The lecture's exact setup: plain SGD, learning rate 0.01, batches of 64, 3 epochs, "
    "784 → 128 → 64 → 10, pixels scaled to 0..1. Slower to learn: about 89-90 % after 3 epochs.",
    "Best": "Everything the lab knows at once: a wider 512 → 256 network, Adam, batches of 128, standardised "
    "pixels and a one-cycle schedule that warms the learning rate up to 0.003 and anneals it to almost 0 over "
    "6 epochs. Above 98 % test accuracy; it takes two to three times as long as Quick.",
    "CNN": "A convolutional network: 8 then 16 filters of 5×5 pixels, each layer followed by ReLU and 2×2 "
    "max-pooling, then one hidden layer of 128, trained like Best (Adam, one cycle up to 0.003) for 3 epochs. "
    "Above 99 % test accuracy, with about as many weights as the lecture's network; each epoch takes several "
    "times as long.",
}


def preset_name(config: TrainConfig) -> str | None:
    """The name of the preset this config equals, or None when it has been changed."""
    return next((name for name, preset in PRESETS.items() if preset == config), None)
