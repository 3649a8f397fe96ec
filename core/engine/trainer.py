"""A small Trainer on HuggingFace Accelerate: events for every listener, stop and pause from any thread."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from torchmetrics.classification import MulticlassAccuracy

from core.engine.accelerate_fixes import reset_accelerator_state, speed_up_accelerate_optimizer, zero_grad
from core.engine.config import MOMENTUM, SETTINGS, TrainConfig
from core.engine.data import MNISTBatches, MNISTTensors, batch_loader, load_mnist, subset_indices, to_inputs
from core.engine.gradient_flow import GradientFlow
from core.engine.model import build_model
from core.engine.report_card import ReportCardEvent, measure_report_card
from core.engine.schema import plain_number
from core.engine.status import Status
from core.engine.tracking import TrackerLog, finish_trackers, start_trackers, tracker_arguments

# Cross-entropy over 10 classes starts near ln 10 = 2.3. A loss past this has exploded: with ReLU the
# network usually "dies" right after and the loss sinks back to 2.3, hiding the divergence, so stop here.
EXPLODED_LOSS = 1000.0

speed_up_accelerate_optimizer()  # for every Trainer, whoever made its Accelerator


# --- Events: every listener (UI, CLI, run store, tests) gets the same objects. -------------------------
@dataclass(frozen=True)
class StartEvent:
    """Training is about to start."""

    config: TrainConfig
    n_train: int
    steps_per_epoch: int
    total_steps: int
    device: str
    num_processes: int


@dataclass(frozen=True)
class StepEvent:
    """One optimizer step is done; `loss` is this process's batch loss."""

    epoch: int
    step: int
    batch: int
    steps_per_epoch: int
    loss: float
    samples: int
    seconds: float


@dataclass(frozen=True)
class EpochEvent:
    """One epoch is done and evaluated on the test set. `seconds` is its training time alone."""

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

    step: int
    epoch: int
    layers: list[dict]


@dataclass(frozen=True)
class PauseEvent:
    """Training paused (paused=True) or resumed."""

    paused: bool
    step: int


@dataclass(frozen=True)
class LearningRateEvent:
    """The learning rate was changed by hand while training; it applies from step `step` + 1."""

    step: int
    lr: float


@dataclass(frozen=True)
class EndEvent:
    """The run ended; status is finished, stopped, diverged or failed."""

    status: Status
    message: str
    result: TrainResult


Event = (StartEvent | StepEvent | EpochEvent | LayerStatsEvent | PauseEvent | LearningRateEvent | ReportCardEvent
         | EndEvent)
Listener = Callable[[Event], None]


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


class Diverged(Exception):
    """The loss became NaN or inf, or exploded past EXPLODED_LOSS."""


def make_accelerator(config: TrainConfig, log_dir: str | os.PathLike | None = None) -> Accelerator:
    """An Accelerator for this config's device, mixed precision and tracker (config.log_with, into `log_dir`,
    the runs folder: each run's tracker files go to its own folder there).

    Accelerate keeps one state per process; a dashboard that trains runs one after another with other
    settings resets it between runs (never inside a multi-process launch, where the state is the launch's).
    """
    kwargs = dict(cpu=config.device == "cpu", mixed_precision=config.mixed_precision,
                  **tracker_arguments(config.log_with, log_dir))
    try:
        return Accelerator(**kwargs)
    except ValueError as exc:
        if "already been initialized" not in str(exc) or AcceleratorState().num_processes > 1:
            raise
        reset_accelerator_state()
        return Accelerator(**kwargs)


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


class Trainer:
    """Trains the lecture's network with Accelerate and reports through listeners.

    stop(), pause() and resume() may be called from any thread; the loop checks them every step.
    """

    def __init__(
        self,
        config: TrainConfig,
        data: MNISTTensors | None = None,
        listeners: Iterable[Listener] = (),
        accelerator: Accelerator | None = None,
        gradient_flow: bool = True,
        run_folder: str | os.PathLike | None = None,
    ):
        """`gradient_flow` measures the layers every few steps (LayerStatsEvent). `run_folder` (runs/<id>) is
        where config.log_with's trackers write: a given Accelerator must log into its parent, the runs folder."""
        self.config = config
        self.gradient_flow = gradient_flow
        self.run_folder = Path(run_folder) if run_folder is not None else None
        self.data = data if data is not None else load_mnist()
        self.listeners = list(listeners)
        self.accelerator = accelerator
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._schedule = None  # the learning-rate schedule, made by fit()
        self._new_lr: float | None = None  # set by set_lr(), applied before the next step

    # Controls, safe from other threads.
    def stop(self) -> None:
        """Ask the run to stop after the current step."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        """Hold the run before its next step."""
        self._running.clear()

    def resume(self) -> None:
        """Let a paused run go on."""
        self._running.set()

    def set_lr(self, lr: float) -> None:
        """Use learning rate `lr` from the next step on. Raises ValueError for a bad rate or a scheduled run."""
        check_new_lr(self.config, lr)
        self._new_lr = float(lr)  # one attribute write: safe from any thread

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)

    # Training.
    def fit(self) -> TrainResult:
        """Train for config.epochs, evaluating after each; returns how it ended."""
        cfg = self.config
        runs = self.run_folder.parent if self.run_folder is not None else None
        acc = self.accelerator = self.accelerator or make_accelerator(cfg, runs)
        model, optimizer, train_batches, test_loader, n_train = self._prepare(acc)
        self.optimizer = optimizer
        steps_per_epoch = len(train_batches)
        self._flow = GradientFlow(acc.unwrap_model(model), steps_per_epoch) if self.gradient_flow else None
        start_trackers(acc, cfg, self.run_folder.name if self.run_folder is not None else None)
        self._tracked = TrackerLog(acc)
        self._schedule = make_schedule(cfg, optimizer, steps_per_epoch * cfg.epochs)
        self._emit(StartEvent(cfg, n_train, steps_per_epoch, steps_per_epoch * cfg.epochs, str(acc.device),
                              acc.num_processes))
        # Dropout draws its masks from torch's global generator: seeded here, as the run's reproduce.py does.
        torch.manual_seed(cfg.seed)
        result = TrainResult(Status.FINISHED, "", model=model)
        self._started = time.perf_counter()
        try:
            for epoch in range(1, cfg.epochs + 1):
                epoch_start = time.perf_counter()
                loss_sum, count, paused_for, stopped = self._train_epoch(epoch, model, optimizer, train_batches,
                                                                          result)
                if stopped:
                    result.status = Status.STOPPED
                    result.message = f"stopped at epoch {epoch} of {cfg.epochs}, step {result.steps}"
                    break
                seconds = time.perf_counter() - epoch_start - paused_for
                totals = acc.reduce(torch.tensor([loss_sum, float(count)], device=acc.device), reduction="sum")
                result.evaluation, eval_seconds = self._timed_evaluate(model, test_loader)
                ev = result.evaluation
                result.epochs.append(EpochEvent(
                    epoch, (totals[0] / totals[1]).item(), ev.loss, ev.accuracy, seconds, eval_seconds,
                    layers=self._flow.epoch_means() if self._flow else [], lr=optimizer.param_groups[0]["lr"]))
                self._emit(result.epochs[-1])
                self._tracked.epoch(result.epochs[-1], result.steps)
            if result.status == Status.FINISHED:
                epochs = f"{cfg.epochs} epoch{'s' * (cfg.epochs != 1)}"
                result.message = f"finished {epochs}: test accuracy {result.test_accuracy:.2f} %"
                result.report_card = self._report_card(acc.unwrap_model(model), result.evaluation)
                self._emit(result.report_card)
            elif result.steps:
                # A stopped model is still worth browsing: evaluate what it learned so far.
                result.evaluation, _ = self._timed_evaluate(model, test_loader)
        except Diverged as exc:
            result.status, result.message = Status.DIVERGED, str(exc)
        except Exception as exc:
            result.status, result.message = Status.FAILED, failure_message(exc)
            self._emit(EndEvent(result.status, result.message, result))
            raise
        finally:
            if self._flow is not None:
                self._flow.close()
            self._tracked.write(result.steps)  # what the last steps gathered
            finish_trackers(acc)
        result.model = acc.unwrap_model(model)
        self._emit(EndEvent(result.status, result.message, result))
        return result

    def _prepare(self, acc: Accelerator):
        """Model, optimizer and data, prepared by Accelerate (one fixed batch when overfitting)."""
        cfg = self.config
        model = build_model(cfg, seed=cfg.seed)
        optimizer = make_optimizer(cfg, model.parameters())
        train_set = self._train_images = self._train_set()
        test_set = self._test_images = MNISTBatches(self.data.test_images, self.data.test_labels, cfg.normalize)
        test_loader = batch_loader(test_set, 1000, shuffle=False)
        if cfg.overfit_one_batch:
            model, optimizer, test_loader = acc.prepare(model, optimizer, test_loader)
            batch = tuple(t.to(acc.device) for t in train_set.__getitems__(range(len(train_set))))
            return model, optimizer, [batch] * cfg.overfit_steps, test_loader, len(train_set)
        train_loader = batch_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed)
        model, optimizer, train_loader, test_loader = acc.prepare(model, optimizer, train_loader, test_loader)
        return model, optimizer, train_loader, test_loader, len(train_set)

    def _train_epoch(self, epoch, model, optimizer, batches, result: TrainResult):
        """One pass over the batches; returns (loss sum, samples, seconds paused, stopped)."""
        # The rate named if the loss diverges: the one in use (the peak of a one-cycle schedule).
        acc, flow = self.accelerator, self._flow
        lr = self.config.lr if self._schedule is not None else optimizer.param_groups[0]["lr"]
        loss_sum, count, paused_for = 0.0, 0, 0.0
        model.train()
        for batch_no, (x, y, _) in enumerate(batches, start=1):
            paused_for += self._wait_while_paused(result.steps)
            if self._stop_everywhere(acc):
                return loss_sum, count, paused_for, True
            if self._new_lr is not None:
                lr, self._new_lr = self._new_lr, None
                for group in optimizer.param_groups:
                    group["lr"] = lr
                self._emit(LearningRateEvent(result.steps, lr))
            if flow is not None:
                flow.before_forward(result.steps + 1)
            loss = F.cross_entropy(model(x), y)
            zero_grad(model)  # the optimizer's zero_grad, without Accelerate's cost per step
            acc.backward(loss)
            if flow is not None:
                flow.before_update(result.steps + 1)
            optimizer.step()
            if self._schedule is not None:
                self._schedule.step()
            value = loss.item()
            result.steps += 1
            if self._diverged_anywhere(acc, value):
                what = ("became NaN" if math.isnan(value) else "became infinite" if math.isinf(value)
                        else f"exploded to {value:,.0f}")
                raise Diverged(f"the loss {what} at step {result.steps} with learning rate {lr:g}: "
                               "lower the learning rate")
            loss_sum += value * len(y)
            count += len(y)
            self._emit(StepEvent(epoch, result.steps, batch_no, len(batches), value, count,
                                 time.perf_counter() - self._started))
            layers = flow.after_update(result.steps) if flow is not None else None
            if layers is not None:
                self._emit(LayerStatsEvent(result.steps, epoch, layers))
            self._tracked.step(result.steps, value, optimizer.param_groups[0]["lr"], layers)
        return loss_sum, count, paused_for, False

    def _report_card(self, model, evaluation: Evaluation) -> ReportCardEvent:
        """The report card of the trained model, measured in this process (every process measures its own)."""
        return measure_report_card(model, self._train_images, self._test_images, evaluation.accuracy,
                                   evaluation.loss, self.accelerator.device)

    def _train_set(self) -> MNISTBatches:
        images, labels = self.data.train_images, self.data.train_labels
        keep = subset_indices(len(labels), self.config.train_subset, self.config.seed)
        if self.config.overfit_one_batch:
            # One fixed random batch (from the subset, if any) to learn by heart.
            keep = keep[: self.config.batch_size] if keep is not None else subset_indices(
                len(labels), self.config.batch_size, self.config.seed)
        if keep is not None:
            images, labels = images[keep], labels[keep]
        return MNISTBatches(images, labels, self.config.normalize)

    def _wait_while_paused(self, step: int) -> float:
        if self._running.is_set():
            return 0.0
        began = time.perf_counter()
        self._emit(PauseEvent(True, step))
        while not self._running.wait(timeout=0.1):
            pass
        self._emit(PauseEvent(False, step))
        return time.perf_counter() - began

    def _stop_everywhere(self, acc: Accelerator) -> bool:
        # With several processes all must leave the loop together, or the others hang in all-reduce.
        if acc.num_processes == 1:
            return self._stop.is_set()
        flag = torch.tensor(float(self._stop.is_set()), device=acc.device)
        return acc.reduce(flag, reduction="sum").item() > 0

    def _diverged_anywhere(self, acc: Accelerator, value: float) -> bool:
        bad = not math.isfinite(value) or value > EXPLODED_LOSS
        if acc.num_processes == 1:
            return bad
        flag = torch.tensor(float(bad), device=acc.device)
        return acc.reduce(flag, reduction="sum").item() > 0

    def _timed_evaluate(self, model, test_loader) -> tuple[Evaluation, float]:
        began = time.perf_counter()
        evaluation = evaluate(model, test_loader, self.accelerator)
        return evaluation, time.perf_counter() - began


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader, accelerator: Accelerator) -> Evaluation:
    """Every test image's prediction and probabilities, gathered from all processes into test order."""
    was_training = model.training
    model.eval()
    parts = []
    for x, y, idx in loader:
        logits = model(x).float()
        losses = F.cross_entropy(logits, y, reduction="none")
        parts.append(accelerator.gather_for_metrics((idx, y, logits.softmax(dim=1), losses)))
    model.train(was_training)
    idx, labels, probs, losses = (torch.cat([p[i] for p in parts]).cpu() for i in range(4))
    order = torch.argsort(idx)
    labels, probs = labels[order], probs[order]
    predicted = probs.argmax(dim=1)
    accuracy = MulticlassAccuracy(num_classes=10, average="micro")(predicted, labels).item() * 100
    return Evaluation(losses.mean().item(), accuracy, labels, predicted, probs)


def predict(model: torch.nn.Module, images: torch.Tensor, normalize: str = "plain") -> torch.Tensor:
    """Class probabilities [N, 10] for uint8 images [N, 28, 28] (or [28, 28])."""
    if images.dim() == 2:
        images = images.unsqueeze(0)
    model.eval()
    with torch.no_grad():
        return model(to_inputs(images, normalize)).softmax(dim=1)
