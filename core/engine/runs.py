"""RunStore: every run saved as a folder of small files, written atomically as the run goes.

runs/<id>/run.json        config, status, pid, summary (rewritten at each change)
runs/<id>/epochs.json     one entry per finished epoch
runs/<id>/steps.json      the loss of every step so far
runs/<id>/model.pt        trained weights (state_dict), at the end
runs/<id>/predictions.npz every test image's label, prediction and probabilities, at the end
runs/<id>/mnist-lab/      the TensorBoard (or other tracker's) files, when the run logs to one

run.json's "lr_changes" lists the learning rates changed by hand while training: [{"step", "lr"}], each
applied from step "step" + 1.

The folder name is the run's id. Files damaged by hand or by a full disk never break a listing: such a run
reads as "damaged", with what is wrong in plain words, beside the others (core.engine.run_record checks them).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import math
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import psutil
import torch

from core.engine.config import ConfigError, TrainConfig
from core.engine.display_name import clean_name, name_problem
from core.engine.doctor import Diagnosis, diagnose
from core.engine.fileio import atomic_write_bytes, atomic_write_json
from core.engine.folders import default_runs_dir
from core.engine.model import build_model
from core.engine.predictions import Predictions
from core.engine.report_card import ReportCardEvent
from core.engine.reproduce import reproduce_script
from core.engine.run_record import (
    EPOCH_COLUMNS,
    checked_record,
    finite_number,
    is_epoch,
    json_float,
    read_json_file,
    run_settings,
)
from core.engine.status import Status
from core.engine.trainer import EndEvent, EpochEvent, Event, LearningRateEvent, StartEvent, StepEvent

_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")


def owner_tag(owner: str) -> str:
    """What run.json keeps of the browser that started a run: a hash, so the board can mark a student's own
    runs without the files holding the owner id that controls live runs."""
    return hashlib.sha256(f"mnist-lab-owner:{owner}".encode()).hexdigest()[:16] if owner else ""


def _process_identity() -> dict:
    me = psutil.Process()
    return {"pid": me.pid, "pid_started": me.create_time(), "host": socket.gethostname()}


def _writer_alive(record: dict) -> bool:
    # The writer is alive if its process still exists on this host and is the same process (pids get reused).
    if record.get("host") != socket.gethostname():
        updated = finite_number(record.get("updated"))
        return updated is not None and time.time() - updated < 600
    pid, started = record.get("pid"), finite_number(record.get("pid_started"))
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0 or started is None:
        return False
    try:
        return abs(psutil.Process(pid).create_time() - started) < 1.0
    except (psutil.Error, OverflowError, ValueError):
        return False


class Run:
    """One saved run, read back: its record, config, metrics, and on demand its model and predictions.

    `problems` says what is damaged, in plain words. RunStore.load reads epochs.json; steps.json, which can be
    long, is checked when it is first read, and may add a problem then.
    """

    def __init__(self, path: Path, record: dict, problems: Sequence[str] = ()):
        self.path, self.record = path, record
        self.problems: list[str] = []
        for problem in problems:
            self._found(problem)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def status(self) -> Status:
        return self.record["status"]

    @property
    def problem(self) -> str:
        """What is damaged, for people ("" when nothing is)."""
        return "; ".join(self.problems)

    @property
    def config(self) -> TrainConfig:
        """The run's settings; ConfigError (a ValueError) when run.json's are damaged."""
        return run_settings(self.record.get("config"))

    @property
    def epochs(self) -> list[dict]:
        """One dict per finished epoch; entries that are not epochs are left out (and the run marked damaged)."""
        entries = self._read_list("epochs.json", "a list of epochs")
        good = [entry for entry in entries if is_epoch(entry)]
        if len(good) < len(entries):
            self._found("epochs.json has entries that are not epochs")
        return good

    @property
    def steps(self) -> list[float]:
        """The loss of every step; a value that is not a number reads as NaN, a gap in the curve."""
        values = self._read_list("steps.json", "a list of losses")
        losses = [json_float(value) for value in values]
        if any(loss is None for loss in losses):
            self._found("steps.json has losses that are not numbers")
        return [math.nan if loss is None else loss for loss in losses]

    @property
    def report_card(self) -> dict | None:
        """The report card measured when the run finished (None for older or unfinished runs)."""
        card = self.record.get("report_card")
        if card is None:
            return None
        names = ReportCardEvent.__dataclass_fields__
        if not isinstance(card, dict) or set(card) != set(names) or any(
                finite_number(card[name]) is None for name in names):
            self._found("run.json's report card is not a set of numbers")
            return None
        return {name: float(card[name]) for name in names}

    def diagnosis(self) -> list[Diagnosis]:
        """The run doctor's findings from the saved numbers ([] for runs it cannot judge, damaged ones too)."""
        card = self.report_card
        try:
            config = self.config
        except ConfigError:
            return []
        steps, epochs = self.steps, self.epochs
        if self.status == Status.DAMAGED:
            return []
        return diagnose(steps, epochs, config, self.status, card["train_accuracy"] if card else None)

    def _read_list(self, name: str, what: str) -> list:
        try:
            value, problem = read_json_file(self.path / name)
        except FileNotFoundError:
            return []  # not written yet: no epoch has finished
        if problem is None and not isinstance(value, list):
            problem = f"{name} is not {what}"
        if problem:
            self._found(problem)
            return []
        return value

    def _found(self, problem: str) -> None:
        # A live writer rewrites its files at the next epoch: its run stays "running" (and undeletable).
        if problem not in self.problems:
            self.problems.append(problem)
        if self.status != Status.RUNNING:
            self.record["status"] = Status.DAMAGED
            self.record["message"] = f"damaged: {self.problem}"

    @property
    def has_model(self) -> bool:
        return (self.path / "model.pt").exists()

    @property
    def has_predictions(self) -> bool:
        return (self.path / "predictions.npz").exists()

    def model(self) -> torch.nn.Module:
        """The trained network, in eval mode, ready to predict."""
        if not self.has_model:
            raise FileNotFoundError(f"run {self.id} has no saved weights (status: {self.status})")
        model = build_model(self.config)
        model.load_state_dict(torch.load(self.path / "model.pt", map_location="cpu", weights_only=True))
        return model.eval()

    def predictions(self) -> Predictions:
        """Every test image's label, predicted label and class probabilities."""
        if not self.has_predictions:
            raise FileNotFoundError(f"run {self.id} has no saved predictions (status: {self.status})")
        with np.load(self.path / "predictions.npz") as f:
            return Predictions(f["labels"].astype(np.int64), f["predicted"].astype(np.int64), f["probs"])

    @property
    def lr_changes(self) -> list[tuple[int, float]]:
        """The learning rates changed by hand while training, as (steps done, new rate); damaged entries left out."""
        changes = self.record.get("lr_changes")
        if not isinstance(changes, list):
            return []
        pairs = []
        for change in changes:
            if not isinstance(change, dict):
                continue
            step, lr = change.get("step"), finite_number(change.get("lr"))
            if isinstance(step, int) and not isinstance(step, bool) and step >= 0 and lr is not None and lr > 0:
                pairs.append((step, lr))
        return pairs

    def reproduce_script(self) -> str:
        """This run as one standalone Python file (core.engine.reproduce); ConfigError if its settings are damaged."""
        return reproduce_script(self.config, self.id, self.lr_changes)

    def metrics_csv(self) -> str:
        """The per-epoch metrics as CSV text."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=EPOCH_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.epochs)
        return out.getvalue()


class RunStore:
    """Creates, lists, loads and deletes runs under one folder."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root or default_runs_dir())

    def create(self, config: TrainConfig, label: str = "", student: str = "", owner: str = "") -> RunRecorder:
        """Start a new run folder with status running; returns the listener that fills it.

        `student` is the display name the run shows on the Class page ("" for none; ValueError if it is not a
        valid name); `owner` the id of the browser that started it (only its hash is saved).
        """
        if student:
            problem = name_problem(student)
            if problem:
                raise ValueError(problem)
            student = clean_name(student)
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
            path = self.root / run_id
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        now = time.time()
        record = {
            "id": run_id,
            "label": label,
            "student": student,
            "owner_tag": owner_tag(owner),
            "created": now,
            "updated": now,
            "status": Status.RUNNING,
            "message": "waiting to start",
            "config": config.to_dict(),
            "epochs_done": 0,
            "steps": 0,
            "test_accuracy": None,
            "train_seconds": 0.0,
            **_process_identity(),
        }
        atomic_write_json(path / "run.json", record)
        return RunRecorder(path, record)

    def ids(self) -> list[str]:
        """Run ids, newest first."""
        if not self.root.is_dir():
            return []
        return sorted((p.name for p in self.root.iterdir() if _ID.match(p.name) and (p / "run.json").exists()),
                      reverse=True)

    def list(self) -> list[Run]:
        """Every run, damaged ones included, newest first; runs whose writer died read as interrupted."""
        runs = []
        for run_id in self.ids():
            try:
                runs.append(self.load(run_id))
            except FileNotFoundError:
                continue  # a folder being deleted
        # Ids only tell the second; the creation time orders runs started within the same second.
        return sorted(runs, key=lambda run: (run.record["created"], run.id), reverse=True)

    def load(self, run_id: str) -> Run:
        """One run by id (its folder's name); a damaged run.json gives a run with status damaged."""
        if not _ID.match(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        path = self.root / run_id
        raw, unreadable = read_json_file(path / "run.json")
        record, problems = checked_record(raw, run_id)
        problems = [unreadable] if unreadable else problems
        # Judged on run.json as written: a damaged "updated" must not pass for a recent one.
        if record["status"] == Status.RUNNING and not _writer_alive(raw):
            if problems:  # not rewritten: what is left of a damaged file is evidence, not ours to overwrite
                record["status"] = Status.DAMAGED
            else:
                _mark_interrupted(path, raw, record)
        run = Run(path, record, problems)
        _ = run.epochs  # epochs.json is small: read now, so that a damaged one lists the run as damaged
        return run

    def delete(self, run_id: str) -> None:
        """Remove a run's folder; a run still training cannot be deleted."""
        run = self.load(run_id)
        if run.status == Status.RUNNING:
            raise ValueError(f"run {run_id} is still training: stop it first")
        # Rename first so that a reader never sees half a folder.
        doomed = run.path.with_name(f".deleting-{run_id}")
        os.replace(run.path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)


def _mark_interrupted(path: Path, raw: dict, record: dict) -> None:
    """Say that a run's writer died, and save it, so that the run no longer claims to be running."""
    done = record["epochs_done"]
    record["status"] = Status.INTERRUPTED
    record["message"] = (
        f"interrupted: the process training it ended after {done} finished epoch{'s' if done != 1 else ''}"
    )
    # A read-only runs folder only loses the saving: the verdict is made again at the next reading.
    with contextlib.suppress(OSError):
        atomic_write_json(path / "run.json", {**raw, "status": record["status"], "message": record["message"]})


class RunRecorder:
    """A Trainer listener that saves a run as it goes: metrics each epoch, weights and predictions at the end."""

    def __init__(self, path: Path, record: dict):
        self.path, self.record = path, record
        self.epochs: list[dict] = []
        self.step_losses: list[float] = []

    @property
    def id(self) -> str:
        return self.record["id"]

    def _save_record(self, **changes) -> None:
        self.record.update(changes, updated=time.time())
        atomic_write_json(self.path / "run.json", self.record)

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepEvent):
            self.step_losses.append(event.loss)
        elif isinstance(event, LearningRateEvent):
            changes = [*self.record.get("lr_changes", []), {"step": event.step, "lr": event.lr}]
            self._save_record(lr_changes=changes, message=f"learning rate set to {event.lr:g} at step {event.step}")
        elif isinstance(event, StartEvent):
            self._save_record(message="training", device=event.device, num_processes=event.num_processes,
                              n_train=event.n_train, total_steps=event.total_steps)
        elif isinstance(event, EpochEvent):
            self.epochs.append(event.to_dict())
            # Steps first: a reader (or a crash) between the two writes never sees an epoch without its steps.
            atomic_write_json(self.path / "steps.json", self.step_losses)
            atomic_write_json(self.path / "epochs.json", self.epochs)
            self._save_record(
                epochs_done=event.epoch,
                steps=len(self.step_losses),
                test_accuracy=event.test_accuracy,
                train_seconds=sum(e["seconds"] for e in self.epochs),
                message=f"epoch {event.epoch} done",
            )
        elif isinstance(event, ReportCardEvent):
            self._save_record(report_card=event.to_dict())
        elif isinstance(event, EndEvent):
            self.finish(event)

    def finish(self, event: EndEvent) -> None:
        """Save the weights and predictions (when there are any), then the final status."""
        result = event.result
        atomic_write_json(self.path / "steps.json", self.step_losses)
        if result.model is not None and event.status != Status.DIVERGED:
            buffer = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in result.model.state_dict().items()}, buffer)
            atomic_write_bytes(self.path / "model.pt", buffer.getvalue())
        if result.evaluation is not None and event.status != Status.DIVERGED:
            ev = result.evaluation
            buffer = io.BytesIO()
            np.savez(buffer, labels=ev.labels.numpy().astype(np.uint8),
                     predicted=ev.predicted.numpy().astype(np.uint8), probs=ev.probs.numpy().astype(np.float32))
            atomic_write_bytes(self.path / "predictions.npz", buffer.getvalue())
        self._save_record(
            status=event.status,
            message=event.message,
            steps=len(self.step_losses),
            test_accuracy=result.test_accuracy,
            ended=time.time(),
        )

    def discard(self) -> None:
        """Remove the folder of a run that never started (its worker refused it): no trace is left."""
        doomed = self.path.with_name(f".deleting-{self.id}")
        os.replace(self.path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def fail(self, message: str) -> None:
        """Mark the run failed before or outside training (e.g. bad data); the message is for the student."""
        self._save_record(status=Status.FAILED, message=message, ended=time.time())
