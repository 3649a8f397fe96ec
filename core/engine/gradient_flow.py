"""Gradient flow: per Linear layer, how large its gradient is, how far a step moves it, and how many ReLUs are dead.

Measured every few steps, cheaply: the ReLUs are watched (forward hooks) only on the few batches before a
measured step, and the weights are copied only just before that step's update. The Trainer emits the numbers
as plain dicts ({"name", "grad_norm", "update_ratio", "dead_fraction"}), so they travel between processes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

EVERY = 20  # steps between two measurements
WINDOW = 5  # a unit is dead when it was active on none of the last WINDOW batches before a measurement
FIELDS = ("grad_norm", "update_ratio", "dead_fraction")


def layer_names(n_linear: int) -> list[str]:
    """How people call the Linear layers of the lecture's network: hidden 1, hidden 2, …, output."""
    return [f"hidden {i}" for i in range(1, n_linear)] + ["output"]


class GradientFlow:
    """Watches one model's Linear layers (and the ReLU after each hidden one) while it trains.

    The Trainer calls before_forward(step) before each step's forward pass, before_update(step) between
    backward and optimizer.step(), and after_update(step) after it; the last returns the layers' numbers on a
    measured step, else None. epoch_means() gives the means of an epoch's measurements and starts afresh.
    """

    def __init__(self, model: nn.Module, steps_per_epoch: int, every: int = EVERY, window: int = WINDOW):
        self.linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        self.relus = [m for m in model.modules() if isinstance(m, nn.ReLU)][: len(self.linears) - 1]
        self.names = layer_names(len(self.linears))
        # A short epoch (overfitting one batch, a tiny subset) is still measured at least once.
        self.every = max(1, min(every, steps_per_epoch))
        self.window = max(1, min(window, self.every))
        self._active: list[torch.Tensor | None] = [None] * len(self.relus)
        self._hooks: list = []
        self._before: list[torch.Tensor] = []
        self._sums: list[dict[str, float]] = []
        self._counts: list[dict[str, int]] = []
        self._reset_sums()

    def measured(self, step: int) -> bool:
        """Whether step `step` (1-based) is measured."""
        return step % self.every == 0

    def before_forward(self, step: int) -> None:
        """Watch the ReLUs during the last `window` steps before a measured one."""
        if self._hooks or self.every - (step - 1) % self.every > self.window:
            return
        self._active = [None] * len(self.relus)
        self._hooks = [relu.register_forward_hook(self._watch(i)) for i, relu in enumerate(self.relus)]

    def before_update(self, step: int) -> None:
        """Keep a copy of the weights before a measured step moves them."""
        if self.measured(step):
            self._before = [layer.weight.detach().clone() for layer in self.linears]

    def after_update(self, step: int) -> list[dict] | None:
        """The layers' numbers on a measured step (and stop watching the ReLUs), else None."""
        if not self.measured(step):
            return None
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        with torch.no_grad():
            grad_norms = [layer.weight.grad.norm() if layer.weight.grad is not None
                          else torch.tensor(math.nan) for layer in self.linears]
            moved = [(layer.weight - before).norm() / before.norm().clamp_min(1e-12)
                     for layer, before in zip(self.linears, self._before, strict=True)]
            values = torch.stack([torch.stack(grad_norms).float().cpu(), torch.stack(moved).float().cpu()]).tolist()
        dead = [1.0 - active.float().mean().item() if active is not None else None for active in self._active]
        dead.append(None)  # the output layer has no ReLU
        layers = [{"name": name, "grad_norm": g, "update_ratio": u, "dead_fraction": d}
                  for name, g, u, d in zip(self.names, values[0], values[1], dead, strict=True)]
        self._before = []
        self._add(layers)
        return layers

    def epoch_means(self) -> list[dict]:
        """Each layer's mean numbers over this epoch's measurements (None where none was made); starts afresh."""
        means = [{"name": name, **{f: (s[f] / c[f] if c[f] else None) for f in FIELDS}}
                 for name, s, c in zip(self.names, self._sums, self._counts, strict=True)]
        self._reset_sums()
        return means

    def close(self) -> None:
        """Remove any hook left on the model."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def _watch(self, i: int):
        def hook(module, inputs, output):
            # Which units fired for at least one image of this batch, added to what the window saw so far.
            fired = (output.detach() > 0).any(dim=0)
            self._active[i] = fired if self._active[i] is None else self._active[i] | fired
        return hook

    def _add(self, layers: list[dict]) -> None:
        for layer, sums, counts in zip(layers, self._sums, self._counts, strict=True):
            for f in FIELDS:
                if layer[f] is not None and math.isfinite(layer[f]):
                    sums[f] += layer[f]
                    counts[f] += 1

    def _reset_sums(self) -> None:
        self._sums = [dict.fromkeys(FIELDS, 0.0) for _ in self.names]
        self._counts = [dict.fromkeys(FIELDS, 0) for _ in self.names]
