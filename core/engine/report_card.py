"""The lecture's report card, measured where the run trained, right after its last epoch.

Accuracy and loss on the test set; consistency (accuracy on the images it trained on, in eval mode, and the
gap to the test accuracy); speed (one image at a time, and batches of 1,000). Cheap on purpose:
benchmarks/doctor_cases.py times it (well under a second on the lab's 2-core machine).
"""

from __future__ import annotations

import statistics
import time

import torch

from core.engine.data import MNISTBatches
from core.engine.events import ReportCardEvent

SPEED_BATCH = 1000  # "images per second" is measured in batches of this size
ONE_IMAGE_REPEATS = 50  # single-image timings, of which the median is kept (a few are disturbed by others)
BATCH_REPEATS = 5
# Train accuracy is measured on at most this many of the training images, a fixed random pick: as many as
# the test set, so both accuracies are as precise (about ±0.1 points near 99 %), and five times cheaper on
# all 60,000 (Best's card: 0.8 s with every image, measured on one thread).
TRAIN_SAMPLE = 10_000


@torch.no_grad()
def measure_report_card(model: torch.nn.Module, train_set: MNISTBatches, test_set: MNISTBatches,
                        test_accuracy: float, test_loss: float, device) -> ReportCardEvent:
    """Accuracy on the images the model trained on, and its speed; the test figures are the last evaluation's."""
    was_training = model.training
    model.eval()
    try:
        pick = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(0))[:TRAIN_SAMPLE]
        x, y, _ = train_set.__getitems__(pick)
        train_accuracy = 100.0 * (model(x.to(device)).argmax(dim=1).cpu() == y).float().mean().item()
        test_inputs = test_set.__getitems__(range(min(SPEED_BATCH, len(test_set))))[0].to(device)
        ms_per_image = 1000 * _median_seconds(model, test_inputs[:1], ONE_IMAGE_REPEATS)
        images_per_second = len(test_inputs) / _median_seconds(model, test_inputs, BATCH_REPEATS)
    finally:
        model.train(was_training)
    return ReportCardEvent(test_accuracy, test_loss, train_accuracy, train_accuracy - test_accuracy, ms_per_image,
                           images_per_second)


def _median_seconds(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    model(x)  # the first call allocates; it is not what a user waits for
    times = []
    for _ in range(repeats):
        _wait_for(x)
        began = time.perf_counter()
        model(x)
        _wait_for(x)
        times.append(time.perf_counter() - began)
    return max(statistics.median(times), 1e-9)


def _wait_for(x: torch.Tensor) -> None:
    # A GPU computes asynchronously: time only what has really finished.
    if x.is_cuda:
        torch.cuda.synchronize(x.device)
