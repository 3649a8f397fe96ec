"""One training step of the network on one digit, worked out by hand: guess, check, adjust.

Forward through each Linear layer and its activation, softmax and cross-entropy, then the chain rule backwards
layer by layer, one SGD update, and the forward pass again. Plain torch arithmetic without autograd, because
the chain rule is the lesson; tests/test_one_step.py checks every number against torch.autograd, the oracle.
Dropout is left out: a single step shows the network as it predicts, with every unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.engine.data import to_inputs
from core.engine.gradient_flow import layer_names
from core.engine.model import LECTURE_HIDDEN, build_mlp

DTYPE = torch.float64  # the lesson's arithmetic: exact enough to agree with autograd to far below 1e-6
LEAKY_SLOPE = 0.01  # nn.LeakyReLU's default, as core.engine.model builds it

Weights = Sequence[tuple[torch.Tensor, torch.Tensor]]  # each Linear layer's (weight [out, in], bias [out])


@dataclass(frozen=True)
class LayerStep:
    """One Linear layer in the step: what it read, what it computed, and its gradients."""

    name: str  # "hidden 1", …, "output"
    weight: torch.Tensor  # [out, in], before the update
    bias: torch.Tensor  # [out]
    inputs: torch.Tensor  # [in]: the pixels, or the previous layer's activations
    sums: torch.Tensor  # [out]: weight @ inputs + bias
    outputs: torch.Tensor  # [out]: the activation of the sums (the output layer's are the logits themselves)
    grad_sums: torch.Tensor  # [out]: d loss / d sums, from the chain rule
    grad_weight: torch.Tensor  # [out, in]: outer(grad_sums, inputs)
    grad_bias: torch.Tensor  # [out]: grad_sums


@dataclass(frozen=True)
class OneStep:
    """Guess (forward), check (loss), adjust (backward and the update), and the guess after the step."""

    label: int
    activation: str
    lr: float
    layers: tuple[LayerStep, ...]
    probabilities: torch.Tensor  # [10]: softmax of the logits
    loss: float  # cross-entropy: -log(probability of the right digit)
    new_weights: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # each layer's (weight, bias) after the update
    logits_after: torch.Tensor
    probabilities_after: torch.Tensor
    loss_after: float

    @property
    def logits(self) -> torch.Tensor:
        return self.layers[-1].outputs

    @property
    def predicted(self) -> int:
        return int(self.probabilities.argmax())

    @property
    def predicted_after(self) -> int:
        return int(self.probabilities_after.argmax())


def activate(sums: torch.Tensor, activation: str) -> torch.Tensor:
    """The activation function, as the network's modules compute it."""
    if activation == "relu":
        return sums.clamp_min(0.0)
    if activation == "leaky_relu":
        return torch.where(sums > 0, sums, LEAKY_SLOPE * sums)
    if activation == "tanh":
        return torch.tanh(sums)
    if activation == "sigmoid":
        return torch.sigmoid(sums)
    if activation == "gelu":  # exact GELU: z · Φ(z), Φ the standard normal's distribution function
        return sums * normal_cdf(sums)
    raise ValueError(f"unknown activation {activation!r}")


def slope(sums: torch.Tensor, activation: str) -> torch.Tensor:
    """The activation's derivative at each sum: how much of the gradient passes back through it."""
    if activation == "relu":
        return (sums > 0).to(sums.dtype)
    if activation == "leaky_relu":
        return torch.where(sums > 0, 1.0, LEAKY_SLOPE).to(sums.dtype)
    if activation == "tanh":
        return 1.0 - torch.tanh(sums) ** 2
    if activation == "sigmoid":
        s = torch.sigmoid(sums)
        return s * (1.0 - s)
    if activation == "gelu":  # d/dz z·Φ(z) = Φ(z) + z·φ(z)
        return normal_cdf(sums) + sums * torch.exp(-0.5 * sums**2) / math.sqrt(2 * math.pi)
    raise ValueError(f"unknown activation {activation!r}")


def normal_cdf(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))


def forward(weights: Weights, x: torch.Tensor, activation: str) -> list[tuple[torch.Tensor, ...]]:
    """Each layer's (inputs, sums, outputs) for one input vector; the last layer's outputs are the logits."""
    steps, last = [], len(weights) - 1
    for i, (weight, bias) in enumerate(weights):
        sums = weight @ x + bias
        outputs = sums if i == last else activate(sums, activation)
        steps.append((x, sums, outputs))
        x = outputs
    return steps


def softmax_and_loss(logits: torch.Tensor, label: int) -> tuple[torch.Tensor, float]:
    """Probabilities and cross-entropy, computed stably: loss = logsumexp(logits) - logits[label]."""
    shifted = logits - logits.max()
    log_total = torch.log(torch.exp(shifted).sum())
    return torch.exp(shifted - log_total), float(log_total - shifted[label])


def train_step(weights: Weights, x: torch.Tensor, label: int, activation: str = "relu", lr: float = 0.1) -> OneStep:
    """One SGD step on one digit (x: [784] inputs, label 0-9) for a network given by its layers' weights."""
    if not 0 <= label <= 9:
        raise ValueError(f"label must be a digit 0-9, not {label}")
    weights = [(w.detach().to(DTYPE), b.detach().to(DTYPE)) for w, b in weights]
    x = x.detach().to(DTYPE).reshape(-1)
    passes = forward(weights, x, activation)
    probabilities, loss = softmax_and_loss(passes[-1][2], label)

    # Backward: d loss / d logits = probabilities - one-hot(label); then, layer by layer, the chain rule.
    grad_sums = probabilities.clone()
    grad_sums[label] -= 1.0
    layers: list[LayerStep] = []
    names = layer_names(len(weights))
    for i in range(len(weights) - 1, -1, -1):
        (weight, bias), (inputs, sums, outputs) = weights[i], passes[i]
        layers.append(LayerStep(names[i], weight, bias, inputs, sums, outputs, grad_sums,
                                torch.outer(grad_sums, inputs), grad_sums))
        if i:  # back through this layer's weights, then through the previous layer's activation
            grad_sums = (weight.T @ grad_sums) * slope(passes[i - 1][1], activation)
    layers.reverse()

    new_weights = tuple((layer.weight - lr * layer.grad_weight, layer.bias - lr * layer.grad_bias) for layer in layers)
    logits_after = forward(new_weights, x, activation)[-1][2]
    probabilities_after, loss_after = softmax_and_loss(logits_after, label)
    return OneStep(label, activation, lr, tuple(layers), probabilities, loss, new_weights, logits_after,
                   probabilities_after, loss_after)


def network_weights(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each Linear layer's (weight, bias), copied out of a network such as build_mlp makes."""
    return [(m.weight.detach().clone(), m.bias.detach().clone()) for m in model.modules() if isinstance(m, nn.Linear)]


def fresh_weights(seed: int, hidden: tuple[int, ...] = LECTURE_HIDDEN) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A freshly initialised network's weights, exactly as a run with this seed starts (core.engine.model)."""
    return network_weights(build_mlp(hidden, seed=seed))


def digit_inputs(image: np.ndarray | torch.Tensor, normalize: str = "plain") -> torch.Tensor:
    """A 28×28 uint8 digit as the network reads it: [784] values, scaled as the run was trained."""
    image = torch.as_tensor(np.asarray(image))
    if tuple(image.shape) != (28, 28):
        raise ValueError(f"a digit must be 28×28 pixels, not {tuple(image.shape)}")
    return to_inputs(image.to(torch.uint8), normalize)


def top_units(grad_weight: torch.Tensor, count: int) -> list[int]:
    """The units whose incoming weights the step changes most (largest gradient norm), largest first."""
    norms = grad_weight.norm(dim=1)
    return norms.argsort(descending=True)[:count].tolist()
