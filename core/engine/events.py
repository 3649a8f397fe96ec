"""The one seam for what training says: the Trainer's events, its result, and the Callback that listens.

Light on purpose (no torch, no Accelerate): the run store, the job, the console report and the worker relay
import it without paying for Accelerate. Every event names its Callback hook (`event.hook`); the Trainer calls
that hook on each of its callbacks, in order (as Lightning Fabric's `fabric.call`), so no listener sorts events.
Events are plain data: they cross process boundaries pickled.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from core.engine.config import SETTINGS
from core.engine.schema import plain_number
from core.engine.status import Status

if TYPE_CHECKING:
    import torch

    from core.engine.config import TrainConfig


@dataclass(frozen=True)
class StartEvent:
    """Training is about to start."""

    hook: ClassVar[str] = "on_start"
    config: TrainConfig
    n_train: int
    steps_per_epoch: int
    total_steps: int
    device: str
    num_processes: int


@dataclass(frozen=True)
class StepEvent:
    """One optimizer step is done; `loss` is this process's batch loss."""

    hook: ClassVar[str] = "on_step"
    epoch: int
    step: int
    batch: int
    steps_per_epoch: int
    loss: float
    samples: int  # this epoch's samples so far
    # When the step ended: seconds since fit() began, on the clock of the process that trains. Only ever compared
    # with another step of the same run, so a monotonic clock of that one process is the right one.
    seconds: float


@dataclass(frozen=True)
class EpochEvent:
    """One epoch is done and evaluated on the test set. `seconds` is its training time alone."""

    hook: ClassVar[str] = "on_epoch"
    epoch: int
    train_loss: float
    test_loss: float
    test_accuracy: float
    seconds: float
    eval_seconds: float
    # Each Linear layer's means over the epoch: {"name", "grad_norm", "update_ratio", "dead_fraction"}
    # (core.engine.gradient_flow; dead_fraction is None for the output layer).
    layers: list[dict] = field(default_factory=list)
    lr: float | None = None  # the learning rate at the end of the epoch

    def to_dict(self) -> dict:
        """JSON-ready values."""
        return {**self.__dict__, "layers": [dict(layer) for layer in self.layers]}


@dataclass(frozen=True)
class LayerStatsEvent:
    """Gradient flow measured at step `step`: one dict per Linear layer, as in EpochEvent.layers."""

    hook: ClassVar[str] = "on_layer_stats"
    step: int
    epoch: int
    layers: list[dict]


@dataclass(frozen=True)
class PauseEvent:
    """Training paused (paused=True) or resumed."""

    hook: ClassVar[str] = "on_pause"
    paused: bool
    step: int


@dataclass(frozen=True)
class LearningRateEvent:
    """The learning rate was changed by hand while training; it applies from step `step` + 1."""

    hook: ClassVar[str] = "on_lr_change"
    step: int
    lr: float


@dataclass(frozen=True)
class ReportCardEvent:
    """The report card of a finished run, emitted before its EndEvent. Accuracies in percent."""

    hook: ClassVar[str] = "on_report_card"
    test_accuracy: float
    test_loss: float
    train_accuracy: float
    accuracy_gap: float  # train minus test accuracy, in points
    ms_per_image: float  # one image at a time
    images_per_second: float  # in batches of SPEED_BATCH

    def to_dict(self) -> dict:
        """JSON-ready values."""
        return asdict(self)


@dataclass
class Evaluation:
    """A model's answers on the whole test set, in test order."""

    loss: float
    accuracy: float  # percent
    labels: torch.Tensor  # int64 [N]
    predicted: torch.Tensor  # int64 [N]
    probs: torch.Tensor  # float32 [N, 10]

    @property
    def n_samples(self) -> int:
        return len(self.labels)


@dataclass
class TrainResult:
    """What fit() returns: the status, per-epoch metrics, the trained model and its last evaluation."""

    status: Status
    message: str
    epochs: list[EpochEvent] = field(default_factory=list)
    model: torch.nn.Module | None = None
    evaluation: Evaluation | None = None
    steps: int = 0
    report_card: ReportCardEvent | None = None  # measured when the run finished

    @property
    def test_accuracy(self) -> float | None:
        return self.evaluation.accuracy if self.evaluation else None


@dataclass(frozen=True)
class EndEvent:
    """The run ended; status is finished, stopped, diverged or failed."""

    hook: ClassVar[str] = "on_end"
    status: Status
    message: str
    result: TrainResult


Event = (StartEvent | StepEvent | EpochEvent | LayerStatsEvent | PauseEvent | LearningRateEvent | ReportCardEvent
         | EndEvent)


class Callback:
    """A Trainer listener: override the hooks you need. A hook not overridden passes its event to on_event.
    Calling a callback with an event calls the hook that event names (how a relay's receiving end delivers).

    setup/teardown and the on_before_* hooks are for callbacks in the training process (gradient flow, trackers):
    they receive the Trainer or its LoopState, never cross a process, and do nothing by default.
    """

    def __call__(self, event: Event) -> None:
        getattr(self, event.hook)(event)

    def on_start(self, event: StartEvent) -> None:
        self.on_event(event)

    def on_step(self, event: StepEvent) -> None:
        self.on_event(event)

    def on_layer_stats(self, event: LayerStatsEvent) -> None:
        self.on_event(event)

    def on_lr_change(self, event: LearningRateEvent) -> None:
        self.on_event(event)

    def on_pause(self, event: PauseEvent) -> None:
        self.on_event(event)

    def on_epoch(self, event: EpochEvent) -> None:
        self.on_event(event)

    def on_report_card(self, event: ReportCardEvent) -> None:
        self.on_event(event)

    def on_end(self, event: EndEvent) -> None:
        self.on_event(event)

    def on_event(self, event: Event) -> None:
        """Every event whose own hook this callback does not override; nothing by default."""

    # In the training process only.
    def setup(self, trainer) -> None:
        """The Trainer has prepared its model and data (trainer.state), before its StartEvent."""

    def on_before_forward(self, state: LoopState) -> None:
        """Step state.step + 1 is about to run its forward pass."""

    def on_before_update(self, state: LoopState) -> None:
        """Gradients of step state.step + 1 are ready; the optimizer has not used them yet."""

    def on_finished(self, state: LoopState) -> None:
        """The last epoch was trained and evaluated, before the EndEvent (only for a finished run)."""

    def teardown(self, state: LoopState) -> None:
        """fit() is leaving, however it ended."""


class Relay(Callback):
    """Passes every event to one function: `Relay(events.append)`, or a sender to another process."""

    def __init__(self, send):
        self.send = send

    def on_event(self, event: Event) -> None:
        self.send(event)


def as_callback(listener) -> Callback:
    """A Callback as it is; a plain function of events wrapped in a Relay."""
    return listener if isinstance(listener, Callback) else Relay(listener)


@dataclass
class LoopState:
    """What the training loop knows between steps; the controls (stop, pause, a new rate) are safe from any thread."""

    result: TrainResult
    epoch: int = 0
    lr: float = 0.0  # the rate the optimizer used last
    model: Any = None  # the prepared model (Accelerate's wrapper, if any)
    optimizer: Any = None
    steps_per_epoch: int = 0
    evaluation: Evaluation | None = None
    new_lr: float | None = None  # set by Trainer.set_lr, applied before the next step
    stop: threading.Event = field(default_factory=threading.Event)
    running: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.running.set()

    @property
    def step(self) -> int:
        """Optimizer steps done so far."""
        return self.result.steps


def failure_message(exc: BaseException) -> str:
    """How a run that failed with `exc` is described to the student, wherever the failure was caught."""
    return f"training failed: {type(exc).__name__}: {exc}"


def check_new_lr(config: TrainConfig, lr) -> None:
    """Raise ValueError, in words for the student, when a run may not switch to learning rate `lr`."""
    # The setting's own range (one description in core.engine.config). Compared, never converted: math.isfinite
    # of 10**400 raises OverflowError, and rates past the range overflow the float32 weights (a failed run).
    allowed = SETTINGS["lr"]
    if isinstance(lr, bool) or not (isinstance(lr, int | float) and allowed.low <= lr <= allowed.high):
        shown = repr(lr) if not isinstance(lr, int) or abs(lr) < 10**20 else "a number that large"
        raise ValueError(f"a learning rate must be a number above 0, from {plain_number(allowed.low)} to "
                         f"{plain_number(allowed.high)}, not {shown}")
    if config.schedule != "constant":
        raise ValueError("this run follows a one-cycle schedule, which sets the learning rate at every step")
