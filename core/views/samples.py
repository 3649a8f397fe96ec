"""Pick example images to show: the first image of each digit."""

from __future__ import annotations

import torch


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
    height = images.shape[-2]
    spacer = torch.full((height, gap), 255, dtype=torch.uint8)
    parts = []
    for k, i in enumerate(indices):
        if k:
            parts.append(spacer)
        parts.append(255 - images[i])  # dark ink on white reads like the paper the digits were written on
    row = torch.cat(parts, dim=1)
    return row.repeat_interleave(scale, dim=0).repeat_interleave(scale, dim=1)
