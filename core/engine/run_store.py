"""RunStore: the saved runs, one folder each under the runs folder, created, listed, loaded and deleted; Run: one
run read back.

The folder name is the run's id; core.engine.run_files says what each file holds and reads them without trusting
them, and core.engine.run_recorder writes them as the run trains. Files damaged by hand or by a full disk never
break a listing: such a run reads as "damaged", with what is wrong in plain words, beside the others. Reading never
writes: a run whose writer died reads as interrupted, and RunStore.mark_interrupted() saves that verdict (the
server calls it when it starts).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import secrets
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import torch

from core.engine.config import ConfigError, TrainConfig
from core.engine.csv_safe import csv_text
from core.engine.display_name import clean_name, name_problem
from core.engine.doctor import Diagnosis, diagnose
from core.engine.fileio import atomic_write_json
from core.engine.folders import default_runs_dir
from core.engine.model import build_model
from core.engine.predictions import Predictions
from core.engine.reproduce import reproduce_notebook, reproduce_script
from core.engine.run_files import (
    EPOCH_COLUMNS,
    checked_record,
    finite_number,
    read_epochs,
    read_json_file,
    read_report_card,
    read_steps,
    run_settings,
)
from core.engine.run_recorder import RunRecorder
from core.engine.status import Status

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


@dataclass(frozen=True)
class Run:
    """One saved run, read back once and checked: its record, metrics, and on demand its model and predictions.

    `problems` says what is damaged, in plain words; a damaged run's status is damaged (unless its writer is
    still training it: a live writer rewrites its files at the next epoch).
    """

    path: Path
    record: dict
    epochs: list[dict]  # one dict per finished epoch; entries that are not epochs are left out
    steps: list[float]  # the loss of every step; a value that is not a number reads as NaN, a gap in the curve
    report_card: dict | None  # measured when the run finished (None for older or unfinished runs)
    problems: list[str] = dataclasses.field(default_factory=list)

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

    def diagnosis(self) -> list[Diagnosis]:
        """The run doctor's findings from the saved numbers ([] for runs it cannot judge, damaged ones too)."""
        if self.status == Status.DAMAGED:
            return []
        try:
            config = self.config
        except ConfigError:
            return []
        card = self.report_card
        return diagnose(self.steps, self.epochs, config, self.status, card["train_accuracy"] if card else None)

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

    def reproduce_notebook(self) -> str:
        """The same as a Jupyter notebook (core.engine.reproduce); ConfigError if its settings are damaged."""
        return reproduce_notebook(self.config, self.id, self.lr_changes)

    def metrics_csv(self) -> str:
        """The per-epoch metrics as CSV text."""
        return csv_text(EPOCH_COLUMNS, ([entry.get(name) for name in EPOCH_COLUMNS] for entry in self.epochs))


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
        """One run by id (its folder's name), every file checked once; never writes. A damaged file gives a run
        with status damaged; one whose writer died reads as interrupted (see mark_interrupted)."""
        if not _ID.match(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        path = self.root / run_id
        raw, unreadable = read_json_file(path / "run.json")
        record, problems = checked_record(raw, run_id)
        problems = [unreadable] if unreadable else problems
        epochs, steps = read_epochs(path, problems), read_steps(path, problems)
        card = read_report_card(record, problems)
        # Judged on run.json as written: a damaged "updated" must not pass for a recent one.
        if record["status"] == Status.RUNNING and not _writer_alive(raw):
            record["status"] = Status.DAMAGED if problems else Status.INTERRUPTED
            if not problems:
                record["message"] = _interrupted_message(record["epochs_done"])
        problems = list(dict.fromkeys(problems))
        if problems and record["status"] != Status.RUNNING:
            record["status"], record["message"] = Status.DAMAGED, f"damaged: {'; '.join(problems)}"
        return Run(path, record, epochs, steps, card, problems)

    def mark_interrupted(self) -> list[str]:
        """Save "interrupted" into each run whose writer died while it was running; their ids. Damaged ones are
        left as they are: what is left of a damaged file is evidence, not ours to overwrite."""
        marked = []
        for run in self.list():
            if run.status != Status.INTERRUPTED:
                continue
            raw, unreadable = read_json_file(run.path / "run.json")
            if unreadable or not isinstance(raw, dict) or raw.get("status") != Status.RUNNING:
                continue  # saved before, or changed since it was read
            # A read-only runs folder only loses the saving: the verdict is made again at the next reading.
            with contextlib.suppress(OSError):
                atomic_write_json(run.path / "run.json",
                                  {**raw, "status": Status.INTERRUPTED, "message": run.record["message"]})
                marked.append(run.id)
        return marked

    def delete(self, run_id: str) -> None:
        """Remove a run's folder; a run still training cannot be deleted."""
        run = self.load(run_id)
        if run.status == Status.RUNNING:
            raise ValueError(f"run {run_id} is still training: stop it first")
        # Rename first so that a reader never sees half a folder.
        doomed = run.path.with_name(f".deleting-{run_id}")
        os.replace(run.path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)


def _interrupted_message(done: int) -> str:
    return f"interrupted: the process training it ended after {done} finished epoch{'s' if done != 1 else ''}"
