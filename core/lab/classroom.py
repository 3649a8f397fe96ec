"""The class's shared state: the instructor's challenge, the locked settings, the board's fresh start, the
spotlighted run and the class experiment (with the values handed to its students, and the ended ones). The
instructor token that unlocks the controls is core.lab.instructor_token's.

One JSON file in the runs folder (class.json), written atomically under a file lock, so two instructors, even
on two server processes, never lose each other's change or leave half a file; it survives restarts.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.engine.config import TrainConfig
from core.engine.fileio import atomic_write_json
from core.engine.run_files import read_json_file
from core.lessons.challenge import Challenge, checked_settings, setting_words, value_words
from core.lessons.experiment import Experiment

CLASS_FILE, LOCK_FILE = "class.json", ".class.lock"
MAX_PAST_EXPERIMENTS = 30  # ended experiments kept in class.json, newest last
_RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")


# --- the class's state ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassState:
    """Everything the instructor has set for the class. `problem` says what of class.json could not be read."""

    challenge: Challenge | None = None
    locked: tuple[tuple[str, Any], ...] = ()  # setting name and value, in run.json's form
    board_since: float = 0.0  # runs made before this time are hidden from the board
    spotlight: str | None = None  # the id of the run every Class page shows
    version: int = 0  # one more at each change
    problem: str = ""
    experiment: Experiment | None = None  # the class experiment under way
    past_experiments: tuple[Experiment, ...] = ()  # ended ones, oldest first

    @property
    def locked_settings(self) -> dict[str, Any]:
        """The instructor's locks, and every setting the experiment under way fixes."""
        if self.experiment is None:
            return dict(self.locked)
        varied = self.experiment.setting  # each student's own value, never one lock for all
        return {**self.experiment.fixed_settings, **{n: v for n, v in self.locked if n != varied}}

    def lock_problem(self, config: TrainConfig) -> str | None:
        """Why the class refuses a run with these settings (a locked one differs), for the student; else None."""
        saved = config.to_dict()
        wrong = [f"{setting_words(name, value)} (yours: {value_words(name, saved[name])})"
                 for name, value in self.locked_settings.items() if saved[name] != value]
        if not wrong:
            return None
        them = "it" if len(wrong) == 1 else "them"
        return (f"Your instructor has locked settings for the class, and this run changes {them}: "
                + "; ".join(wrong) + f". Set {them} back on the Hyperparameters page (it shows the locked values).")

    def locked_config(self, config: TrainConfig) -> TrainConfig:
        """`config` with the locked settings set to their locked values."""
        locked = self.locked_settings
        return TrainConfig.from_dict({**config.to_dict(), **locked}) if locked else config

    def to_dict(self) -> dict:
        return {
            "challenge": self.challenge.to_dict() if self.challenge else None,
            "locked": dict(self.locked),  # the instructor's own locks (the experiment keeps its fixed settings)
            "board_since": self.board_since,
            "spotlight": self.spotlight,
            "version": self.version,
            "experiment": self.experiment.to_dict() if self.experiment else None,
            "past_experiments": [experiment.to_dict() for experiment in self.past_experiments],
            "updated": time.time(),
        }

    @classmethod
    def from_dict(cls, raw: Any) -> ClassState:
        """Read class.json's content, part by part: a damaged part is left out and named in `problem`."""
        if not isinstance(raw, dict):
            return cls(problem="class.json is not a JSON object")
        problems = []
        challenge = None
        if raw.get("challenge") is not None:
            try:
                challenge = Challenge.from_dict(raw["challenge"])
            except (ValueError, TypeError):
                problems.append("its challenge")
        try:
            locked = tuple(checked_settings(raw.get("locked") or {}).items())
        except (ValueError, TypeError, AttributeError):
            locked = ()
            problems.append("its locked settings")
        since = raw.get("board_since", 0.0)
        if isinstance(since, bool) or not isinstance(since, int | float) or not math.isfinite(since) or since < 0:
            since = 0.0
            problems.append("the board's start")
        spotlight = raw.get("spotlight")
        if spotlight is not None and not (isinstance(spotlight, str) and _RUN_ID.match(spotlight)):
            spotlight = None
            problems.append("the spotlight")
        version = raw.get("version")
        version = version if isinstance(version, int) and not isinstance(version, bool) and version >= 0 else 0
        experiment = None
        if raw.get("experiment") is not None:
            try:
                experiment = Experiment.from_dict(raw["experiment"])
            except (ValueError, TypeError, KeyError):
                problems.append("the class experiment")
        past, saved_past = [], raw.get("past_experiments")
        for item in saved_past if isinstance(saved_past, list) else ():
            try:
                past.append(Experiment.from_dict(item))
            except (ValueError, TypeError, KeyError):
                problems.append("an ended experiment")
        problem = "class.json was damaged; left out: " + ", ".join(problems) if problems else ""
        return cls(challenge, locked, float(since), spotlight, version, problem, experiment, tuple(past))


class ClassRoom:
    """class.json in a runs folder: read (cached until the file changes) and changed under a file lock."""

    def __init__(self, runs_dir: str | os.PathLike):
        self.root = Path(runs_dir)
        self.path = self.root / CLASS_FILE
        self._cached: tuple[tuple, ClassState] | None = None
        self._lock = threading.Lock()

    def state(self) -> ClassState:
        """The class's state now (an empty one before the instructor has set anything)."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return ClassState()
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        with self._lock:
            if self._cached is not None and self._cached[0] == stamp:
                return self._cached[1]
        state = self._read()
        with self._lock:
            self._cached = (stamp, state)
        return state

    def _read(self) -> ClassState:
        try:
            raw, unreadable = read_json_file(self.path)
        except FileNotFoundError:
            return ClassState()
        return ClassState(problem=f"{unreadable}; it is read as empty") if unreadable else ClassState.from_dict(raw)

    def update(self, change: Callable[[ClassState], ClassState]) -> ClassState:
        """Apply `change` to the state as saved now, and save the result; one writer at a time, on any process."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file is closed, even by a crash
            try:
                old = self._read()  # under the lock: another instructor's change is never overwritten
                new = replace(change(old), version=old.version + 1, problem="")
                atomic_write_json(self.path, new.to_dict())
            finally:
                with contextlib.suppress(OSError):
                    fcntl.flock(lock_file, fcntl.LOCK_UN)
        return new

    # The instructor's controls.
    def set_challenge(self, challenge: Challenge | None) -> ClassState:
        """Set (or, with None, clear) the class's challenge."""
        return self.update(lambda state: replace(state, challenge=challenge))

    def lock(self, settings: Mapping[str, Any]) -> ClassState:
        """Lock these settings at these values for the class (replacing the locks before); {} unlocks all."""
        locked = tuple(checked_settings(settings).items())
        return self.update(lambda state: replace(state, locked=locked))

    def fresh_board(self, now: float | None = None) -> ClassState:
        """Hide every run made so far from the board (the runs themselves are kept)."""
        since = time.time() if now is None else now
        return self.update(lambda state: replace(state, board_since=since))

    def set_spotlight(self, run_id: str | None) -> ClassState:
        """Show this run on every student's Class page (None: no spotlight)."""
        if run_id is not None and not _RUN_ID.match(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        return self.update(lambda state: replace(state, spotlight=run_id))

    def lock_problem(self, config: TrainConfig) -> str | None:
        """Why the class refuses these settings now, or None: a gate for core.lab.jobs.JobManager."""
        return self.state().lock_problem(config)

    # The class experiment.
    def start_experiment(self, setting: str, values, base: Mapping[str, Any], now: float | None = None) -> ClassState:
        """Start an experiment on `setting` over `values`, the rest at `base`'s values; an experiment under way
        ends first (it is kept). Raises ValueError in words for a bad setting or value."""
        now = time.time() if now is None else now
        experiment = Experiment.new(setting, values, base, now)
        return self.update(lambda state: replace(_ended(state, now), experiment=experiment))

    def end_experiment(self, now: float | None = None) -> ClassState:
        """End the experiment under way; it stays listed with the ended ones."""
        now = time.time() if now is None else now
        if self.state().experiment is None:
            raise ValueError("No class experiment is under way.")
        return self.update(lambda state: _ended(state, now))

    def join_experiment(self, owner: str, now: float | None = None) -> Any | None:
        """The experiment's value for this student, handed out now if they hold none (None: no experiment).
        Written only when something changed, so a student's page runs cost a file read at most."""
        now = time.time() if now is None else now
        experiment = self.state().experiment
        if experiment is None or not owner:
            return None
        if experiment.needs_write(owner, now):
            def join(state: ClassState) -> ClassState:
                return replace(state, experiment=state.experiment and state.experiment.joined(owner, now))

            experiment = self.update(join).experiment
        return experiment.value_of(owner) if experiment else None

    def free_away_values(self, now: float | None = None) -> ClassState:
        """The instructor frees the values of students not seen for a while (STALE_S): the only way a value a
        student holds goes back to the rotation. Such a student, back, joins again."""
        now = time.time() if now is None else now
        if self.state().experiment is None:
            raise ValueError("No class experiment is under way.")
        def free(state: ClassState) -> ClassState:
            return replace(state, experiment=state.experiment and state.experiment.without_away(now))

        return self.update(free)

    def locked_for(self, owner: str, join: bool = True) -> dict[str, Any]:
        """Every setting this student may not change now: the class's locks and their experiment value, handed out
        now if they hold none, unless `join` is False (the instructor, who is no student of the experiment)."""
        state = self.state()
        value = None
        if state.experiment:
            value = self.join_experiment(owner) if join else state.experiment.value_of(owner)
        if value is None:
            return state.locked_settings
        return {**state.locked_settings, state.experiment.setting: value}

    def locked_config_for(self, owner: str, config: TrainConfig, join: bool = True) -> TrainConfig:
        """`config` with this student's locked values (their experiment value included; see locked_for)."""
        locked = self.locked_for(owner, join)
        return TrainConfig.from_dict({**config.to_dict(), **locked}) if locked else config

    def experiment_problem(self, config: TrainConfig, owner: str, instructor: bool = False) -> str | None:
        """Why the experiment refuses this student's run (another value than theirs), or None: a gate for
        core.lab.jobs.JobManager that knows the owner. A student who has no value yet is given one here; the
        instructor, who is no student of the experiment, is given none."""
        if self.state().experiment is None:
            return None
        if not instructor:
            self.join_experiment(owner)
        experiment = self.state().experiment
        return experiment.problem(config.to_dict(), owner) if experiment else None


def _ended(state: ClassState, now: float) -> ClassState:
    """The state with its experiment (if any) ended and kept with the past ones."""
    if state.experiment is None:
        return state
    done = replace(state.experiment, ended=now, holders=())
    return replace(state, experiment=None, past_experiments=(*state.past_experiments, done)[-MAX_PAST_EXPERIMENTS:])
