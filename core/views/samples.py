"""Pick example images to show: the first image of each digit."""

from __future__ import annotations

import torch

from core.lessons.inside import image_grid
from core.views.chart_words import ChartWords, joined


def one_per_class(labels: torch.Tensor, classes: int = 10) -> list[int]:
    """Index of the first image of each class 0..classes-1 (classes with no image are left out)."""
    indices = []
    for digit in range(classes):
        hits = (labels == digit).nonzero()
        if len(hits):
            indices.append(int(hits[0]))
    return indices


def strip(images: torch.Tensor, indices: list[int], gap: int = 2, scale: int = 3) -> torch.Tensor:
    """The chosen uint8 images side by side in one row, one picture to send, enlarged ``scale`` times.

    Enlarged here, pixel by pixel, because a browser that enlarges a 28-pixel image blurs it.
    """
    if not indices:
        return torch.zeros(images.shape[-2] * scale, 0, dtype=torch.uint8)
    inked = 255 - images[indices]  # dark ink on white reads like the paper the digits were written on
    row = torch.from_numpy(image_grid(inked.numpy(), cols=len(indices), gap=gap, fill=255))
    return row.repeat_interleave(scale, dim=0).repeat_interleave(scale, dim=1)


def strip_words(digits: list[int], classes: int = 10) -> ChartWords:
    """strip's picture in words: which digits it shows, one of each, dark on white (its caption: summary)."""
    if not digits:
        return ChartWords("No test digit to show.", "No test digit to show.")
    every = digits == list(range(classes))
    shown = f"{'Ten' if classes == 10 else classes} test digits, 0 to {classes - 1}" if every \
        else f"Test digits {joined([str(d) for d in digits])}"
    alt = f"{shown}, one of each, handwritten, dark on white, side by side."
    summary = f"The first test image of each digit, 0 to {classes - 1}" if every \
        else f"The first test image of each digit there is: {joined([str(d) for d in digits])}"
    return ChartWords(alt=alt, summary=summary)
