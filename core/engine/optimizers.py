"""The optimizer and learning-rate schedule a config asks for: torch only, so the estimate and the finder can use
them without importing Accelerate."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from core.engine.config import MOMENTUM, TrainConfig


def make_optimizer(config: TrainConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """SGD, SGD with momentum or Adam, as the config says."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    momentum = MOMENTUM if config.optimizer == "momentum" else 0.0
    return torch.optim.SGD(params, lr=config.lr, momentum=momentum, weight_decay=config.weight_decay)


def make_schedule(config: TrainConfig, optimizer, total_steps: int):
    """The learning-rate schedule the config asks for, stepped once per optimizer step; None for constant."""
    if config.schedule != "onecycle":
        return None
    # Built on the optimizer Accelerate wraps, from each process's own step count: not prepared by Accelerate,
    # whose scheduler wrapper steps once per process and would run a sharded cycle too fast.
    inner = getattr(optimizer, "optimizer", optimizer)
    return torch.optim.lr_scheduler.OneCycleLR(inner, max_lr=config.lr, total_steps=max(1, total_steps))
