"""Gradient flow: per layer that learns (Conv2d and Linear), how large its gradient is, how far a step moves it,
and how many of its ReLU units are dead.

Dead units are counted only after ReLU, whose units output exactly 0 (and pass no gradient) for every negative
input; a convolutional layer's unit is a filter, dead when it is 0 at every position of every image. A leaky
ReLU's unit still passes 1 % of the gradient, and tanh, sigmoid and GELU units never stop passing some: for those
layers dead_fraction is None.

Measured every few steps, cheaply: the ReLUs are watched (forward hooks) only on the few batches before a
measured step, and the weights are copied only just before that step's update. The Trainer emits the numbers
as plain dicts ({"name", "grad_norm", "update_ratio", "dead_fraction"}), so they travel between processes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

EVERY = 50  # steps between two measurements: about 20 a second on a CPU, plenty for a live chart
WINDOW = 5  # a unit is dead when it was active on none of the last WINDOW batches before a measurement
FIELDS = ("grad_norm", "update_ratio", "dead_fraction")


def layer_names(n_linear: int, n_conv: int = 0) -> list[str]:
    """How people call the layers that learn: conv 1, conv 2, …, then hidden 1, hidden 2, …, output."""
    return [f"conv {i}" for i in range(1, n_conv + 1)] + [f"hidden {i}" for i in range(1, n_linear)] + ["output"]


def relus_after_hidden_layers(model: nn.Module, layers: list[nn.Module]) -> list[nn.ReLU | None]:
    """For each layer but the output one, the ReLU right after it (ignoring dropout), or None for another
    activation."""
    modules = [m for m in model.modules() if not isinstance(m, nn.Sequential | nn.Flatten | nn.Dropout)]
    following = {id(m): after for m, after in zip(modules, modules[1:] + [None], strict=True)}
    relus = []
    for layer in layers[:-1]:
        after = following[id(layer)]
        relus.append(after if type(after) is nn.ReLU else None)
    return relus


class GradientFlow:
    """Watches one model's Conv2d and Linear layers (and the ReLU after each but the output) while it trains.

    The Trainer calls before_forward(step) before each step's forward pass, before_update(step) between
    backward and optimizer.step(), and after_update(step) after it; the last returns the layers' numbers on a
    measured step, else None. epoch_means() gives the means of an epoch's measurements and starts afresh.
    """

    def __init__(self, model: nn.Module, steps_per_epoch: int, every: int = EVERY, window: int = WINDOW):
        self.convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        self.linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        self.layers = [*self.convs, *self.linears]  # build_cnn's order: every conv layer before the first Linear
        self.relus = relus_after_hidden_layers(model, self.layers)
        self.names = layer_names(len(self.linears), len(self.convs))
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
        """Whether step `step` (1-based) is measured: every `every` steps, and once early, at step `window`,
        so that a chart starts from the network as it began."""
        return step % self.every == 0 or step == self.window

    def before_forward(self, step: int) -> None:
        """Watch the ReLUs during the last `window` steps before a measured one."""
        if self._hooks or (self.every - (step - 1) % self.every > self.window and step > self.window):
            return
        self._active = [None] * len(self.relus)
        self._hooks = [relu.register_forward_hook(self._watch(i)) for i, relu in enumerate(self.relus)
                       if relu is not None]

    def before_update(self, step: int) -> None:
        """Keep a copy of the weights before a measured step moves them."""
        if self.measured(step):
            self._before = [layer.weight.detach().clone() for layer in self.layers]

    def after_update(self, step: int) -> list[dict] | None:
        """The layers' numbers on a measured step (and stop watching the ReLUs), else None."""
        if not self.measured(step):
            return None
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        with torch.no_grad():
            # A few foreach kernels for all layers at once, and one copy to Python: this runs every EVERY steps.
            weights = [layer.weight.detach() for layer in self.layers]
            grads = [w.grad if w.grad is not None else torch.full_like(w, math.nan)
                     for w in (layer.weight for layer in self.layers)]
            grad_norms = torch.stack(torch._foreach_norm(grads))
            moved = torch.stack(torch._foreach_norm(torch._foreach_sub(weights, self._before)))
            sizes = torch.stack(torch._foreach_norm(self._before)).clamp_min(1e-12)
            dead = [(active <= 0).float().mean() for active in self._active if active is not None]
            values = torch.stack([grad_norms.float(), (moved / sizes).float()]).cpu().tolist()
            dead_values = torch.stack(dead).cpu().tolist() if dead else []
        watched = iter(dead_values)
        dead_fractions = [next(watched) if active is not None else None for active in self._active]
        dead_fractions.append(None)  # the output layer has no activation
        layers = [{"name": name, "grad_norm": g, "update_ratio": u, "dead_fraction": d}
                  for name, g, u, d in zip(self.names, values[0], values[1], dead_fractions, strict=True)]
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
            # Each unit's largest output on this batch, kept over the window: 0 means it never fired. A conv
            # layer's unit is its filter, over every position: [batch, filters, height, width] → [filters].
            largest = output.detach().amax(dim=(0, 2, 3) if output.dim() == 4 else 0)
            self._active[i] = largest if self._active[i] is None else torch.maximum(self._active[i], largest)
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
