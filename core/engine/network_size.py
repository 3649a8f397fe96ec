"""How many numbers a network learns, and the shapes its convolutional layers make, from its settings alone.

Without torch on purpose: Home and the estimates show these counts before torch has loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

SIDE = 28  # MNIST's images are SIDE × SIDE pixels
POOL = 2  # each convolutional layer is followed by POOL × POOL max-pooling: the picture's side halves


def parameter_counts(widths: Sequence[int]) -> list[int]:
    """Weights plus biases of each fully connected layer from one width to the next (784·128 + 128 = 100,480, …)."""
    return [(a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True)]


def count_parameters(hidden: Sequence[int], n_inputs: int = 784, n_classes: int = 10) -> int:
    """Numbers build_mlp(hidden) learns: 109,386 for the lecture's 128-64."""
    return sum(parameter_counts((n_inputs, *hidden, n_classes)))


def conv_sides(n_conv: int) -> list[int]:
    """The picture's side at each convolutional layer, then after the last pooling: 2 layers → [28, 14, 7]."""
    sides = [SIDE]
    for _ in range(n_conv):
        sides.append(sides[-1] // POOL)
    return sides


def conv_parameter_counts(channels: Sequence[int], kernel_size: int) -> list[int]:
    """Weights plus biases of each convolutional layer: one kernel_size² filter per input and output channel."""
    depths = (1, *channels)
    return [(a * kernel_size**2 + 1) * b for a, b in zip(depths[:-1], depths[1:], strict=True)]


def flat_features(channels: Sequence[int]) -> int:
    """The numbers the last convolutional layer hands the fully connected ones: 16 channels of 7 × 7 → 784."""
    return channels[-1] * conv_sides(len(channels))[-1] ** 2


def conv_multiplies(channels: Sequence[int], kernel_size: int) -> int:
    """Multiply-adds of the convolutional layers for one image (each output pixel of each filter, every input)."""
    depths, sides = (1, *channels), conv_sides(len(channels))
    return sum(a * b * kernel_size**2 * side**2
               for a, b, side in zip(depths[:-1], depths[1:], sides[:-1], strict=True))


def conv_values(channels: Sequence[int]) -> int:
    """Numbers the convolutional layers compute for one image (each filter's picture, before pooling)."""
    return sum(c * side**2 for c, side in zip(channels, conv_sides(len(channels))[:-1], strict=True))


def count_cnn_parameters(channels: Sequence[int], kernel_size: int, hidden: Sequence[int]) -> int:
    """Numbers build_cnn learns: its filters, then the fully connected layers from its flat features."""
    return sum(conv_parameter_counts(channels, kernel_size)) + count_parameters(hidden, flat_features(channels))
