"""The cost model's convolutional terms (core/lab/estimate.py): CNN steps and test passes timed here, scaled to the
lab machine by the MLP calibration timed in the same run, and fitted by least squares on the relative error.

    python -m benchmarks.cnn_step_cost            # about a minute; one torch thread, as the lab trains

Prints each config's measured and predicted seconds per step and per test pass (on the lab machine's scale),
then the fitted convolutional terms of StepCost.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from core.engine.config import TrainConfig
from core.engine.model import build_model
from core.lab.estimate import (
    LAB_MACHINE,
    N_TEST,
    conv_sizes,
    estimate_epoch,
    measure_speed,
    measure_step_seconds,
    model_step_seconds,
)

CONFIGS = [
    TrainConfig(architecture="cnn", conv_channels=channels, kernel_size=kernel, batch_size=batch, hidden=hidden,
                optimizer=optimizer)
    for channels, kernel, batch, hidden, optimizer in [
        ((8, 16), 5, 128, (128,), "adam"), ((8, 16), 5, 32, (128, 64), "sgd"), ((8, 16), 3, 256, (64,), "adam"),
        ((4,), 5, 128, (), "sgd"), ((16, 32), 5, 64, (128,), "adam"), ((16, 32), 3, 128, (256,), "adam"),
        ((32, 64), 3, 64, (128,), "adam"), ((8, 16, 32), 3, 128, (64,), "sgd"), ((4, 8), 7, 64, (32,), "adam"),
        ((8, 16), 9, 64, (128,), "adam"), ((32,), 5, 32, (64,), "sgd"), ((8, 16, 32, 64), 3, 256, (), "adam"),
    ]
]


@torch.no_grad()
def eval_seconds(config: TrainConfig) -> float:
    """One pass over N_TEST random images in batches of 1,000, as the Trainer tests (the fastest of two)."""
    model = build_model(config, seed=0).eval()
    x = torch.rand(1000, 784)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        for _ in range(N_TEST // 1000):
            model(x).argmax(dim=1)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    torch.set_num_threads(1)
    dense_only = replace(LAB_MACHINE, per_image_conv_multiply=0.0, per_image_conv_value=0.0,
                         eval_per_image_conv_multiply=0.0, eval_per_image_conv_value=0.0)
    rows = []
    for config in CONFIGS:
        speed = measure_speed()  # timed beside each config: a busy machine slows both alike
        rows.append((config, measure_step_seconds(config, budget_s=0.5) / speed, eval_seconds(config) / speed))
    b = np.array([c.batch_size for c, *_ in rows], dtype=float)
    multiplies, values = (np.array(column, dtype=float) for column in zip(*(conv_sizes(c) for c, *_ in rows),
                                                                          strict=True))
    step, evals = np.array([s for _, s, _ in rows]), np.array([e for *_, e in rows])
    dense = np.array([model_step_seconds(c, dense_only) for c, *_ in rows])
    eval_dense = np.array([estimate_epoch(c, cost=dense_only).eval_seconds for c, *_ in rows])
    # Relative errors: each row divided by its measured time, so that small configs weigh as much as big ones.
    a = np.stack([b * multiplies, b * values], axis=1) / step[:, None]
    (per_multiply, per_value), *_ = np.linalg.lstsq(a, (step - dense) / step, rcond=None)
    a = np.stack([N_TEST * multiplies, N_TEST * values], axis=1) / evals[:, None]
    (eval_per_multiply, eval_per_value), *_ = np.linalg.lstsq(a, (evals - eval_dense) / evals, rcond=None)
    fitted = replace(LAB_MACHINE, per_image_conv_multiply=per_multiply, per_image_conv_value=per_value,
                     eval_per_image_conv_multiply=eval_per_multiply, eval_per_image_conv_value=eval_per_value)
    for config, measured, measured_eval in rows:
        print(f"{config.layers_text():<48} batch {config.batch_size:>4} {config.optimizer:<4}: step "
              f"{measured * 1000:6.1f} ms, predicted {model_step_seconds(config, fitted) * 1000:6.1f} ms; test pass "
              f"{measured_eval:5.2f} s, predicted {estimate_epoch(config, cost=fitted).eval_seconds:5.2f} s")
    print(f"per_image_conv_multiply={per_multiply:.3g}, per_image_conv_value={per_value:.3g}, "
          f"eval_per_image_conv_multiply={eval_per_multiply:.3g}, eval_per_image_conv_value={eval_per_value:.3g}")


if __name__ == "__main__":
    main()
