"""Where the Trainer goes around HuggingFace Accelerate, each workaround in one named function.

Measured on accelerate 1.15.0, the version requirements.txt pins (the timings are in docs/measured.md).
On an upgrade, re-read the Accelerate code each comment names, and time an epoch with and without the
workaround (benchmarks.data_pipeline times our Trainer): drop the ones the new version no longer needs.
"""

from __future__ import annotations

import functools

import accelerate.optimizer
import torch
from accelerate.state import AcceleratorState


def speed_up_accelerate_optimizer() -> None:
    """Let AcceleratedOptimizer.step ask only once per process whether lomo_optim is installed."""
    # accelerate/optimizer.py: step() calls is_lomo_available() twice, and each call asks importlib again.
    # The answer cannot change while the process runs. Safe to call again: the check is cached only once.
    check = accelerate.optimizer.is_lomo_available
    if not hasattr(check, "cache_info"):
        accelerate.optimizer.is_lomo_available = functools.cache(check)


def zero_grad(model: torch.nn.Module) -> None:
    """What the prepared optimizer's zero_grad() does when gradients are not accumulated, only cheaper."""
    # AcceleratedOptimizer.zero_grad calls inspect.signature on the wrapped optimizer at every step. Without
    # gradient accumulation it clears every gradient, and the model's parameters are the optimizer's.
    model.zero_grad(set_to_none=True)


def reset_accelerator_state() -> None:
    """Forget Accelerate's one-per-process state, so that the next Accelerator may use another device or precision."""
    # Accelerate has no public way to do this: AcceleratorState._reset_state is marked internal. A dashboard
    # that trains runs one after another, each with its own settings, needs it between runs.
    AcceleratorState._reset_state(reset_partial_state=True)
