"""A small Trainer on HuggingFace Accelerate: it calls its callbacks' hooks (core.engine.events) at every event,
and takes stop, pause and a new learning rate from any thread."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from torchmetrics.classification import MulticlassAccuracy

from core.engine.accelerate_fixes import reset_accelerator_state, speed_up_accelerate_optimizer, zero_grad
from core.engine.config import TrainConfig
from core.engine.data import MNISTBatches, MNISTTensors, batch_loader, load_mnist, subset_indices, to_inputs
from core.engine.events import (
    Callback,
    EndEvent,
    EpochEvent,
    Evaluation,
    LearningRateEvent,
    LoopState,
    PauseEvent,
    StartEvent,
    StepEvent,
    TrainResult,
    as_callback,
    check_new_lr,
    failure_message,
)
from core.engine.model import build_model
from core.engine.optimizers import make_optimizer, make_schedule
from core.engine.status import Status
from core.engine.tracking import tracker_arguments
from core.engine.trainer_callbacks import GradientFlowCallback, ReportCardCallback, TrackerCallback

# Cross-entropy over 10 classes starts near ln 10 = 2.3. A loss past this has exploded: with ReLU the
# network usually "dies" right after and the loss sinks back to 2.3, hiding the divergence, so stop here.
EXPLODED_LOSS = 1000.0

speed_up_accelerate_optimizer()  # for every Trainer, whoever made its Accelerator


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


class Trainer:
    """Trains the lecture's network with Accelerate and reports to its callbacks, hook by hook.

    stop(), pause(), resume() and set_lr() may be called from any thread; the loop checks them every step.
    """

    def __init__(
        self,
        config: TrainConfig,
        data: MNISTTensors | None = None,
        callbacks: Iterable[Callback] = (),
        accelerator: Accelerator | None = None,
        gradient_flow: bool = True,
        run_folder: str | os.PathLike | None = None,
    ):
        """`callbacks` listen (a plain function of events is wrapped in a Relay). `gradient_flow` measures the
        layers every few steps (LayerStatsEvent). `run_folder` (runs/<id>) is where config.log_with's trackers
        write: a given Accelerator must log into its parent, the runs folder."""
        self.config = config
        self.run_folder = Path(run_folder) if run_folder is not None else None
        self.data = data if data is not None else load_mnist()
        self.callbacks = [as_callback(callback) for callback in callbacks]
        self.accelerator = accelerator
        self.state = LoopState(TrainResult(Status.FINISHED, ""))
        # The Trainer's own listeners come last: what they report reaches every callback, theirs included.
        self._flow = GradientFlowCallback() if gradient_flow else None
        self._own = [c for c in (self._flow, ReportCardCallback(), TrackerCallback()) if c is not None]
        self._schedule = None  # the learning-rate schedule, made by fit()

    # Controls, safe from other threads.
    def stop(self) -> None:
        """Ask the run to stop after the current step."""
        self.state.stop.set()
        self.state.running.set()

    def pause(self) -> None:
        """Hold the run before its next step."""
        self.state.running.clear()

    def resume(self) -> None:
        """Let a paused run go on."""
        self.state.running.set()

    def set_lr(self, lr: float) -> None:
        """Use learning rate `lr` from the next step on. Raises ValueError for a bad rate or a scheduled run."""
        check_new_lr(self.config, lr)
        self.state.new_lr = float(lr)  # one attribute write: safe from any thread

    @property
    def paused(self) -> bool:
        return not self.state.running.is_set()

    @property
    def optimizer(self):
        return self.state.optimizer

    def call(self, hook: str, *args) -> None:
        """Call hook `hook` on every callback, in order (the Trainer's own last)."""
        for callback in (*self.callbacks, *self._own):
            getattr(callback, hook)(*args)

    # Training.
    def fit(self) -> TrainResult:
        """Train for config.epochs, evaluating after each; returns how it ended."""
        cfg, state = self.config, self.state
        result = state.result
        runs = self.run_folder.parent if self.run_folder is not None else None
        acc = self.accelerator = self.accelerator or make_accelerator(cfg, runs)
        state.model, state.optimizer, train_batches, test_loader, n_train = self._prepare(acc)
        model, optimizer = state.model, state.optimizer
        result.model = model
        state.steps_per_epoch = steps_per_epoch = len(train_batches)
        state.lr = optimizer.param_groups[0]["lr"]
        self._schedule = make_schedule(cfg, optimizer, steps_per_epoch * cfg.epochs)
        self.call("setup", self)
        self.call("on_start", StartEvent(cfg, n_train, steps_per_epoch, steps_per_epoch * cfg.epochs,
                                         str(acc.device), acc.num_processes))
        # Dropout draws its masks from torch's global generator: seeded here, as the run's reproduce.py does.
        torch.manual_seed(cfg.seed)
        self._started = time.perf_counter()
        try:
            for epoch in range(1, cfg.epochs + 1):
                state.epoch = epoch
                epoch_start = time.perf_counter()
                loss_sum, count, paused_for, stopped = self._train_epoch(train_batches)
                if stopped:
                    result.status = Status.STOPPED
                    result.message = f"stopped at epoch {epoch} of {cfg.epochs}, step {result.steps}"
                    break
                seconds = time.perf_counter() - epoch_start - paused_for
                totals = acc.reduce(torch.tensor([loss_sum, float(count)], device=acc.device), reduction="sum")
                result.evaluation, eval_seconds = self._timed_evaluate(model, test_loader)
                state.evaluation = ev = result.evaluation
                result.epochs.append(EpochEvent(
                    epoch, (totals[0] / totals[1]).item(), ev.loss, ev.accuracy, seconds, eval_seconds,
                    layers=self._flow.epoch_means() if self._flow else [], lr=optimizer.param_groups[0]["lr"]))
                self.call("on_epoch", result.epochs[-1])
            if result.status == Status.FINISHED:
                epochs = f"{cfg.epochs} epoch{'s' * (cfg.epochs != 1)}"
                result.message = f"finished {epochs}: test accuracy {result.test_accuracy:.2f} %"
                self.call("on_finished", state)
            elif result.steps:
                # A stopped model is still worth browsing: evaluate what it learned so far.
                result.evaluation, _ = self._timed_evaluate(model, test_loader)
        except Diverged as exc:
            result.status, result.message = Status.DIVERGED, str(exc)
        except Exception as exc:
            result.status, result.message = Status.FAILED, failure_message(exc)
            self.call("on_end", EndEvent(result.status, result.message, result))
            raise
        finally:
            self.call("teardown", state)
        result.model = acc.unwrap_model(model)
        self.call("on_end", EndEvent(result.status, result.message, result))
        return result

    def _prepare(self, acc: Accelerator):
        """Model, optimizer and data, prepared by Accelerate (one fixed batch when overfitting)."""
        cfg = self.config
        model = build_model(cfg, seed=cfg.seed)
        optimizer = make_optimizer(cfg, model.parameters())
        train_set = self.train_images = self._train_set()
        test_set = self.test_images = MNISTBatches(self.data.test_images, self.data.test_labels, cfg.normalize)
        test_loader = batch_loader(test_set, 1000, shuffle=False)
        if cfg.overfit_one_batch:
            model, optimizer, test_loader = acc.prepare(model, optimizer, test_loader)
            batch = tuple(t.to(acc.device) for t in train_set.__getitems__(range(len(train_set))))
            return model, optimizer, [batch] * cfg.overfit_steps, test_loader, len(train_set)
        train_loader = batch_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed)
        model, optimizer, train_loader, test_loader = acc.prepare(model, optimizer, train_loader, test_loader)
        return model, optimizer, train_loader, test_loader, len(train_set)

    def _train_epoch(self, batches):
        """One pass over the batches; returns (loss sum, samples, seconds paused, stopped)."""
        acc, state = self.accelerator, self.state
        model, optimizer, result = state.model, state.optimizer, state.result
        # The rate named if the loss diverges: the one in use (the peak of a one-cycle schedule).
        lr = self.config.lr if self._schedule is not None else optimizer.param_groups[0]["lr"]
        loss_sum, count, paused_for = 0.0, 0, 0.0
        model.train()
        for batch_no, (x, y, _) in enumerate(batches, start=1):
            paused_for += self._wait_while_paused()
            if self._stop_everywhere(acc):
                return loss_sum, count, paused_for, True
            if state.new_lr is not None:
                lr, state.new_lr = state.new_lr, None
                for group in optimizer.param_groups:
                    group["lr"] = lr
                self.call("on_lr_change", LearningRateEvent(result.steps, lr))
            self.call("on_before_forward", state)
            loss = F.cross_entropy(model(x), y)
            zero_grad(model)  # the optimizer's zero_grad, without Accelerate's cost per step
            acc.backward(loss)
            self.call("on_before_update", state)
            optimizer.step()
            if self._schedule is not None:
                self._schedule.step()
            value = loss.item()
            result.steps += 1
            state.lr = optimizer.param_groups[0]["lr"]
            if self._diverged_anywhere(acc, value):
                what = ("became NaN" if math.isnan(value) else "became infinite" if math.isinf(value)
                        else f"exploded to {value:,.0f}")
                raise Diverged(f"the loss {what} at step {result.steps} with learning rate {lr:g}: "
                               "lower the learning rate")
            loss_sum += value * len(y)
            count += len(y)
            self.call("on_step", StepEvent(state.epoch, result.steps, batch_no, len(batches), value, count,
                                           time.perf_counter() - self._started))
        return loss_sum, count, paused_for, False

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

    def _wait_while_paused(self) -> float:
        running = self.state.running
        if running.is_set():
            return 0.0
        began = time.perf_counter()
        self.call("on_pause", PauseEvent(True, self.state.step))
        while not running.wait(timeout=0.1):
            pass
        self.call("on_pause", PauseEvent(False, self.state.step))
        return time.perf_counter() - began

    def _stop_everywhere(self, acc: Accelerator) -> bool:
        # With several processes all must leave the loop together, or the others hang in all-reduce.
        if acc.num_processes == 1:
            return self.state.stop.is_set()
        flag = torch.tensor(float(self.state.stop.is_set()), device=acc.device)
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
