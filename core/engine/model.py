"""The lecture's network: Flatten, then Linear+activation (+dropout) blocks, then 10 logits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from core.engine.config import TrainConfig

LECTURE_HIDDEN = (128, 64)
# The modules of core.engine.config.ACTIVATIONS; leaky ReLU with PyTorch's default slope of 0.01.
ACTIVATION_MODULES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU}


def build_mlp(
    hidden: tuple[int, ...] | list[int] = LECTURE_HIDDEN,
    seed: int | None = None,
    n_inputs: int = 784,
    n_classes: int = 10,
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Sequential:
    """784 → hidden… → 10 with `activation` (then dropout, if any) after each hidden layer; the lecture's is
    784 → 128 → 64 → 10 with ReLU. With a seed, the weights come from a private generator (parallel runs stay
    reproducible)."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = n_inputs
    for units in hidden:
        layers += [nn.Linear(width, units), ACTIVATION_MODULES[activation]()]
        if dropout > 0:  # only then: a Dropout module shifts the layers' state_dict keys of every saved run
            layers.append(nn.Dropout(dropout))
        width = units
    layers.append(nn.Linear(width, n_classes))
    model = nn.Sequential(*layers)
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
        for layer in model:
            if isinstance(layer, nn.Linear):
                _init_linear(layer, generator)
    return model


def build_model(config: TrainConfig, seed: int | None = None) -> nn.Sequential:
    """The network a TrainConfig describes: its hidden layers, activation and dropout."""
    return build_mlp(config.hidden, seed=seed, activation=config.activation, dropout=config.dropout)


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
