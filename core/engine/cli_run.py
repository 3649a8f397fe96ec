"""What `python -m core.train` does once its flags and folders are good: load MNIST, train with a console report
(Ctrl+C and SIGTERM stop it), save the run, and print its JSON summary (or run the learning-rate finder).
core.engine.cli imports this module only then: torch and Accelerate take seconds to import, and a typo is answered
at once."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from core.engine.calibration import expected_calibration_error
from core.engine.cli_args import data_dir, runs_dir
from core.engine.config import TrainConfig
from core.engine.data import MNISTUnavailable, load_mnist
from core.engine.events import Callback, EndEvent, EpochEvent, StartEvent, StepEvent, TrainResult
from core.engine.fileio import atomic_write_bytes
from core.engine.lr_finder import find_lr
from core.engine.predictions import Predictions
from core.engine.run_store import Run, RunStore
from core.engine.status import Status
from core.engine.trainer import Trainer, make_accelerator


class StopNow(BaseException):
    """A second Ctrl+C or SIGTERM: leave training at once, wherever it is (a BaseException, as Ctrl+C is)."""


class StopSignals:
    """Ctrl+C and SIGTERM: the first stops the run after the current step, a second one at once."""

    def __init__(self):
        self.trainer = None  # set once training is about to start; until then any signal stops at once
        self.recorder = None  # the run being saved, to mark stopped when stopping at once
        self.exit_code: int | None = None  # 128 + the first signal's number, the shell's convention

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._received)

    def _received(self, signum, frame) -> None:
        if self.exit_code is None:
            self.exit_code = 128 + signum
            if self.trainer is not None:
                self.trainer.stop()
                return
        # Stopping at once; a third signal ends the process outright, whatever it is doing.
        for each in (signal.SIGINT, signal.SIGTERM):
            signal.signal(each, signal.SIG_DFL)
        raise StopNow


def mark_stopped(recorder) -> None:
    """Save a run cut short at once as stopped, not leave it "running" (weights are not saved then)."""
    if recorder is None or recorder.record.get("status") != Status.RUNNING:
        return  # no run yet, or it was already saved with its final status
    steps = len(recorder.step_losses)
    message = f"stopped at once after {steps} step{'s' * (steps != 1)}; the weights were not saved"
    recorder.on_end(EndEvent(Status.STOPPED, message, TrainResult(Status.STOPPED, message, steps=steps)))


class ConsoleReport(Callback):
    """Progress for people: a redrawn bar on a terminal, plain lines otherwise."""

    def __init__(self, stream, bar: bool):
        self.stream, self.bar, self.total, self.last_draw = stream, bar, 0, 0.0

    def on_start(self, event: StartEvent) -> None:
        cfg = event.config
        self._line(f"training {cfg.layers_text()} with {cfg.optimizer} lr {cfg.lr:g}, batch {cfg.batch_size}, "
                   f"{cfg.epochs} epoch{'s' * (cfg.epochs != 1)} on {event.n_train:,} images ({event.device}, "
                   f"{event.num_processes} process{'es' if event.num_processes > 1 else ''})")
        self.total = event.total_steps

    def on_step(self, event: StepEvent) -> None:
        if not self.bar:
            return
        now = time.monotonic()
        if now - self.last_draw > 0.1 or event.batch == event.steps_per_epoch:
            self.last_draw = now
            filled = int(30 * event.step / max(self.total, 1))
            self.stream.write(f"\repoch {event.epoch} "
                              f"[{'#' * filled}{'.' * (30 - filled)}] step {event.step}/{self.total} "
                              f"loss {event.loss:.4f}")
            self.stream.flush()

    def on_epoch(self, event: EpochEvent) -> None:
        self._line(f"epoch {event.epoch}: train loss {event.train_loss:.4f}, test loss {event.test_loss:.4f}, "
                   f"test accuracy {event.test_accuracy:.2f} %, {event.seconds:.2f} s")

    def on_end(self, event: EndEvent) -> None:
        self._line(event.message)

    def _line(self, text: str) -> None:
        if self.bar:
            self.stream.write("\r\033[K")
        print(text, file=self.stream, flush=True)


def load_data(args: argparse.Namespace):
    """MNIST from --data-dir, or None after an error message."""
    try:
        return load_mnist(data_dir(args))
    except MNISTUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
    except OSError as exc:  # e.g. MNIST half there in a read-only folder
        print(f"error: cannot read or build MNIST in {data_dir(args)}: {exc.strerror or exc}", file=sys.stderr)
    return None


def find_learning_rate(args: argparse.Namespace, config: TrainConfig) -> int:
    """--find-lr: the range test for these settings; its suggestion in words, or as JSON on the last line."""
    data = load_data(args)
    if data is None:
        return 1
    result = find_lr(config, data)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"suggested learning rate: {result.suggested_lr:g} ({result.seconds:.1f} s)\n{result.reason}")
    return 0


def train(args: argparse.Namespace, config: TrainConfig, signals: StopSignals) -> int:
    """Load MNIST, train and save the run, telling `signals` what to stop; returns the exit code."""
    # Trackers log into the runs folder, each run under its own id: runs/<id>/ (main process only).
    accelerator = make_accelerator(config, runs_dir(args))
    main_process = accelerator.is_main_process
    # The main process builds the IDX files if needed; the others then just read them.
    with accelerator.main_process_first():
        data = load_data(args)
    if data is None:
        return 1
    callbacks = []
    recorder = None
    store = RunStore(runs_dir(args))
    if main_process:
        recorder = signals.recorder = store.create(config, label=args.label)
        callbacks += [recorder, ConsoleReport(sys.stderr if args.json else sys.stdout,
                                              bar=not args.no_progress and sys.stdout.isatty() and not args.json)]
    trainer = signals.trainer = Trainer(config, data, callbacks=callbacks, accelerator=accelerator,
                                        run_folder=recorder.path if recorder else None)
    result = trainer.fit()
    if args.json and main_process:
        print(json.dumps(json_summary(result, store.load(recorder.id))))
    return {Status.FINISHED: 0, Status.STOPPED: signals.exit_code or 130}.get(result.status, 1)


def json_summary(result: TrainResult, run: Run) -> dict:
    """The --json summary of a run, from the run as saved (`run`) and the evaluation in memory (`result`): how it
    ended, each epoch, the report card, the doctor's diagnosis and the calibration; also writes the run's
    standalone reproduce.py and reproduce.ipynb into its folder."""
    script = run.path / "reproduce.py"
    atomic_write_bytes(script, run.reproduce_script().encode())
    atomic_write_bytes(run.path / "reproduce.ipynb", run.reproduce_notebook().encode())
    ev = result.evaluation
    ece = None
    if ev is not None:
        ece = round(expected_calibration_error(Predictions(ev.labels.numpy(), ev.predicted.numpy(),
                                                           ev.probs.numpy())), 6)
    return {
        "status": result.status,
        "message": result.message,
        "run_dir": str(run.path),
        "reproduce": str(script),
        "notebook": str(run.path / "reproduce.ipynb"),
        "test_accuracy": round(result.test_accuracy, 4) if result.test_accuracy is not None else None,
        "test_samples": ev.n_samples if ev is not None else 0,
        "ece": ece,
        "epochs": [{k: epoch[k] for k in ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds", "layers")}
                   for epoch in run.epochs],
        "report_card": run.report_card,
        "diagnosis": [d.to_dict() for d in run.diagnosis()],
    }
