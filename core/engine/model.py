"""The lecture's network: Flatten, then Linear+ReLU blocks, then 10 logits."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

LECTURE_HIDDEN = (128, 64)


def build_mlp(
    hidden: tuple[int, ...] | list[int] = LECTURE_HIDDEN,
    seed: int | None = None,
    n_inputs: int = 784,
    n_classes: int = 10,
) -> nn.Sequential:
    """784 → hidden… → 10 with ReLU between layers; the lecture's default is 784 → 128 → 64 → 10.

    With a seed, the weights come from a private generator, so runs in parallel threads stay reproducible.
    """
    layers: list[nn.Module] = [nn.Flatten()]
    width = n_inputs
    for units in hidden:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    layers.append(nn.Linear(width, n_classes))
    model = nn.Sequential(*layers)
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
        for layer in model:
            if isinstance(layer, nn.Linear):
                _init_linear(layer, generator)
    return model


@torch.no_grad()
def _init_linear(layer: nn.Linear, generator: torch.Generator) -> None:
    # PyTorch's own default for Linear (uniform in ±1/sqrt(fan_in)), drawn from our generator.
    bound = 1 / math.sqrt(layer.in_features)
    layer.weight.uniform_(-bound, bound, generator=generator)
    layer.bias.uniform_(-bound, bound, generator=generator)


@dataclass(frozen=True)
class LayerInfo:
    """One row of a model summary."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int


def describe_layers(model: nn.Module, n_inputs: int = 784) -> list[LayerInfo]:
    """Each layer's kind, output shape (per image) and parameter count."""
    rows, width = [], n_inputs
    for name, layer in model.named_children():
        if isinstance(layer, nn.Linear):
            width = layer.out_features
        rows.append(LayerInfo(name, type(layer).__name__, (width,), sum(p.numel() for p in layer.parameters())))
    return rows
