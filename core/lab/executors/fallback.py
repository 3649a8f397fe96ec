"""An executor that trains elsewhere when the one asked for cannot start: Ray unreachable, local workers instead.

Chosen in make_executor for MNIST_LAB_EXECUTOR=ray: a Ray it cannot reach never stops the lab. The reason is said
once (logged, and shown on the Train page through Abilities.notice).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

from core.engine.config import TrainConfig
from core.lab.executors.base import Abilities, Capacity, Executor, ExecutorUnavailable, RunSink

log = logging.getLogger(__name__)


class FallbackExecutor(Executor):
    """`primary` when it starts; else `fallback()`, with a notice saying why."""

    def __init__(self, primary: Executor, fallback: Callable[[], Executor]):
        super().__init__()
        self.primary, self.fallback = primary, fallback
        self.active = primary
        self.notice = ""  # why the lab does not train where it was asked to

    @property
    def kind(self) -> str:
        return self.active.kind

    def start(self) -> None:
        try:
            self.primary.start()
        except ExecutorUnavailable as exc:
            self.notice = f"{exc}; this lab trains on this machine's own workers instead."
            log.error("%s", self.notice)
            self.active = self.fallback()
            self.active.start()

    def abilities(self) -> Abilities:
        return dataclasses.replace(self.active.abilities(), notice=self.notice)

    def capacity(self) -> Capacity:
        return self.active.capacity()

    def train(self, config: TrainConfig, sink: RunSink, run_folder=None) -> None:
        self.active.train(config, sink, run_folder)

    def find_lr(self, config: TrainConfig, stop: threading.Event | None = None):
        return self.active.find_lr(config, stop)

    def close(self) -> None:
        self.active.close()
        if self.active is not self.primary:
            self.primary.close()  # what it started before it failed (Ray's owner thread)
