"""How many numbers a fully connected network learns, from its layer widths alone.

Without torch on purpose: Home and the estimates show these counts before torch has loaded.
"""

from __future__ import annotations

from collections.abc import Sequence


def parameter_counts(widths: Sequence[int]) -> list[int]:
    """Weights plus biases of each fully connected layer from one width to the next (784·128 + 128 = 100,480, …)."""
    return [(a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True)]


def count_parameters(hidden: Sequence[int], n_inputs: int = 784, n_classes: int = 10) -> int:
    """Numbers build_mlp(hidden) learns: 109,386 for the lecture's 128-64."""
    return sum(parameter_counts((n_inputs, *hidden, n_classes)))
