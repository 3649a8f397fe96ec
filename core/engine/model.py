"""The lecture's network: Flatten, then Linear+activation (+dropout) blocks, then 10 logits; or a CNN: convolutional
blocks (Conv2d, activation, 2×2 max-pooling) in front of those same fully connected layers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from core.engine.network_size import POOL, SIDE

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
        init_weights(model, seed)
    return model


def build_cnn(
    channels: tuple[int, ...] | list[int] = (8, 16),
    kernel_size: int = 5,
    hidden: tuple[int, ...] | list[int] = LECTURE_HIDDEN,
    seed: int | None = None,
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Sequential:
    """The 784 inputs as a 1×28×28 picture, then per channel count a Conv2d (kernel_size², the picture keeps its
    size), `activation` and 2×2 max-pooling (the size halves), then build_mlp's layers on the flattened maps."""
    layers: list[nn.Module] = [nn.Unflatten(1, (1, SIDE, SIDE))]
    depth, side = 1, SIDE
    for out in channels:
        layers += [nn.Conv2d(depth, out, kernel_size, padding="same"), ACTIVATION_MODULES[activation](),
                   nn.MaxPool2d(POOL)]
        depth, side = out, side // POOL
    head = build_mlp(hidden, n_inputs=depth * side * side, activation=activation, dropout=dropout)
    model = nn.Sequential(*layers, *head)
    if seed is not None:
        init_weights(model, seed)
    return model


def build_model(config: TrainConfig, seed: int | None = None) -> nn.Sequential:
    """The network a TrainConfig describes: an MLP or a CNN, its hidden layers, activation and dropout."""
    if config.architecture == "cnn":
        return build_cnn(config.conv_channels, config.kernel_size, config.hidden, seed=seed,
                         activation=config.activation, dropout=config.dropout)
    return build_mlp(config.hidden, seed=seed, activation=config.activation, dropout=config.dropout)


def weighted_layers(model: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    """The layers that learn, input side first: the convolutional ones, then the fully connected ones."""
    return [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


@torch.no_grad()
def init_weights(model: nn.Module, seed: int) -> None:
    """PyTorch's own default (uniform in ±1/sqrt(fan_in)), drawn from one generator seeded with `seed`, layer by
    layer, weight then bias: parallel runs stay reproducible, and reproduce.py draws the same numbers."""
    generator = torch.Generator().manual_seed(seed)
    for layer in weighted_layers(model):
        bound = 1 / math.sqrt(layer.weight[0].numel())  # fan_in: in_features, or in_channels × kernel²
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)


@dataclass(frozen=True)
class LayerInfo:
    """One row of a model summary."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int


@torch.no_grad()
def describe_layers(model: nn.Module, n_inputs: int = 784) -> list[LayerInfo]:
    """Each layer's kind, output shape (per image: 8 × 28 × 28 for a conv layer, 128 for a Linear one) and
    parameter count, from one blank image passed through the network."""
    rows, x = [], torch.zeros(1, n_inputs)
    for name, layer in model.named_children():
        x = layer(x)
        parameters = sum(p.numel() for p in layer.parameters())
        rows.append(LayerInfo(name, type(layer).__name__, tuple(x.shape[1:]), parameters))
    return rows
