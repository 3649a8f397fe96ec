"""A running job's recent training speed and time left, from when its steps happened on the worker."""

from __future__ import annotations

from collections import deque

from core.engine.events import StepEvent
from core.engine.run_recorder import RunLog

# The speed is of the last seconds of the worker's time, not of its last 200 steps: those were a quarter of a second
# at batch 16, shorter than the worker's hand-overs (every 0.25-0.5 s) and a busy machine's hitches, so the speed
# shown jumped (2,044 to 12,372 samples/s within ten seconds of one run) and, seen through Ray beside a browser,
# read 12-19 % above the truth.
WINDOW_SECONDS = 3.0


class SpeedWindow:
    """The recent training speed, from when the last steps happened on the worker (StepEvent.seconds), never from
    when they reached the server: a worker sends its steps in batches, and through the coordinator they arrive in
    bursts. Forgets gaps that are not training (an evaluation, a pause)."""

    def __init__(self):
        self._epoch = self._epoch_samples = self._samples = 0
        self._window: deque[tuple[float, int, int]] = deque()  # (seconds, step, samples)

    def add_step(self, event: StepEvent) -> None:
        """Count one optimizer step, at the time it happened."""
        if event.epoch != self._epoch:
            self._epoch, self._epoch_samples = event.epoch, 0
        self._samples += event.samples - self._epoch_samples
        self._epoch_samples = event.samples
        self._window.append((event.seconds, event.step, self._samples))
        while len(self._window) > 2 and event.seconds - self._window[1][0] >= WINDOW_SECONDS:
            self._window.popleft()

    def forget(self) -> None:
        """Start the window again, after a gap that is not training (an evaluation, a pause)."""
        self._window.clear()

    def speed(self, log: RunLog, epochs: int) -> tuple[float | None, float | None]:
        """Samples per second and seconds left, from the last WINDOW_SECONDS of steps; None while there are too few."""
        if len(self._window) < 2:
            return None, None
        (t0, step0, samples0), (t1, step1, samples1) = self._window[0], self._window[-1]
        if t1 <= t0 or step1 <= step0:
            return None, None
        rate = (samples1 - samples0) / (t1 - t0)
        per_step = (t1 - t0) / (step1 - step0)
        eval_seconds = log.epochs[-1]["eval_seconds"] if log.epochs else 0.0
        remaining_epochs = epochs - len(log.epochs)
        return rate, max(0.0, (log.total_steps - log.step) * per_step + remaining_epochs * eval_seconds)
