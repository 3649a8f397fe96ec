"""The lab's services, declared once: `Lab` names everything a page may ask the lab for, whoever answers it.

Two classes implement it. The JobManager (core.lab.jobs) keeps the queue, the jobs and the finders in its own
process; the LabClient (core.lab.coordinator) stands for it in a web process when the JobManager lives in the Ray
cluster, and is made from this protocol: each member crosses to the coordinator as it is, unless marked here
(`read`, `answered_here`, `guard`). Every answer is plain data (a JobSnapshot, a SweepJobs, a FinderState, a
LabLoad...), so what one process answers another can read. tests/test_lab_protocol.py checks that all three agree.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

from core.engine.config import TrainConfig
from core.engine.lr_finder import LrFinderResult
from core.engine.run_store import Run
from core.lab.estimate import RunBudget
from core.lab.executors.base import Capacity, WarmingUp
from core.lab.finder import FinderState
from core.lab.instructor_token import TokenTry
from core.lab.job import JobSnapshot
from core.lab.sweep import SweepJobs


@dataclass(frozen=True)
class LabLoad:
    """What a page's load line shows, in one answer: what the lab can train at once and how busy it is."""

    capacity: Capacity
    max_concurrent: int  # runs at once: as asked, else one per slot of the executor
    training: int  # runs training or paused now
    waiting: int  # runs in the queue
    ready: bool  # the workers are warm: a Train click draws its first point at once
    notice: str  # why the lab trains otherwise than it was asked to (Ray not reachable, say); "" when it does not
    speed: float | None  # this machine against the lab machine, once timed


class Crossing(Enum):
    """How a web process's LabClient answers a member of the Lab."""

    CALL = "call"  # the coordinator answers; a page waits for it to be reached
    READ = "read"  # the same, but before it is reached the member's empty answer comes at once (0, [], None)
    HERE = "here"  # the web process answers itself: from the runs folder every process shares, or the budget
    GUARD = "guard"  # the coordinator counts for every web process; while it cannot answer, the web process alone


def _crossing(kind: Crossing):
    def mark(member):
        member.crossing = kind
        return member
    return mark


read, answered_here, guard = _crossing(Crossing.READ), _crossing(Crossing.HERE), _crossing(Crossing.GUARD)


@runtime_checkable
class Lab(Protocol):
    """Every service a page may ask the lab for. Refusals are raised as the manager's own errors (RunRefused,
    PermissionError, ValueError), in the web process too."""

    budget: RunBudget  # the limit of one run on this server

    # --- submitting a run, and its controls ------------------------------------------------------------------
    def submit(self, config: TrainConfig, owner: str, label: str = "", student: str = "",
               instructor: bool = False) -> JobSnapshot:
        """Queue a run for `owner` (`student`: the name its saved run shows; `instructor`: no student of a class
        experiment); it starts as soon as a slot is free. Raises RunRefused (over a limit)."""

    def submit_sweep(self, base: TrainConfig, param: str, values: Iterable, owner: str, instructor: bool = False,
                     **short) -> SweepJobs:
        """Queue one short run per value of one hyperparameter, in order; `short` sets epochs/train_subset."""

    def pause(self, job_id: str, owner: str) -> bool:
        """Pause the owner's running job; False if it is not theirs or not running."""

    def resume(self, job_id: str, owner: str) -> bool:
        """Resume the owner's paused job; False if it is not theirs or not paused."""

    def set_lr(self, job_id: str, owner: str, lr: float) -> bool:
        """Change the learning rate of the owner's training job from its next step; False if not theirs or not
        training. Raises ValueError (words for the student) for a bad rate or a one-cycle run."""

    def stop(self, job_id: str, owner: str) -> bool:
        """Stop the owner's job after its current step (a queued one leaves the queue); False if not theirs."""

    def stop_sweep(self, sweep_id: str, owner: str) -> bool:
        """Stop every run of the owner's sweep (the queued ones are cancelled); False if it is not theirs."""

    def stop_all(self, instructor: bool = False) -> int:
        """Stop every waiting and training run, whoever started it; how many. PermissionError unless instructor."""

    def delete_run(self, run_id: str, owner: str, instructor: bool = False) -> None:
        """Delete a saved run for its owner or the instructor. Raises PermissionError for anyone else, and
        ValueError (words for the student) for a run that is still training or unknown."""

    @answered_here
    def may_delete(self, record: dict, owner: str, instructor: bool = False) -> bool:
        """Whether this viewer may delete the saved run with this run.json: its owner or the instructor."""

    # --- snapshots of the jobs and sweeps, and the load line ----------------------------------------------------
    @read
    def get(self, job_id: str | None) -> JobSnapshot | None:
        """A job's snapshot by id (None if unknown or forgotten)."""

    @read
    def live_snapshots(self) -> list[tuple[JobSnapshot, str]]:
        """Every queued, running or paused job's snapshot with its student's name, oldest first."""

    @read
    def queue_order(self) -> list[JobSnapshot]:
        """The waiting runs in the order they will start."""

    @read
    def waiting_of(self, owner: str) -> int:
        """How many of this owner's runs wait in the queue."""

    def wait(self, job_id: str, timeout: float | None = None) -> JobSnapshot | None:
        """Block until the job has ended (or the timeout passed); its snapshot then."""

    def wait_first_step(self, job_id: str, timeout: float) -> bool:
        """Block up to `timeout` seconds until the job's first step is done (or it ended); True if so."""

    @read
    def get_sweep(self, sweep_id: str | None) -> SweepJobs | None:
        """A sweep by id."""

    @read
    def sweep_snapshots(self, sweep_id: str) -> list[JobSnapshot]:
        """The snapshots of a sweep's jobs, in the order of its values."""

    def load(self) -> LabLoad:
        """What a page's load line shows."""

    @read
    def warming(self) -> WarmingUp | None:
        """The workers' warm-up under way (its step and seconds left), or None once they are warm."""

    # --- the learning-rate finder ------------------------------------------------------------------------------
    def start_finder(self, config: TrainConfig, owner: str) -> FinderState:
        """Start the learning-rate range test for `owner` in a helper worker; one at a time per owner. Raises
        RunRefused (over the budget, one already running, or the last one ended too recently)."""

    @read
    def finder(self, owner: str) -> FinderState | None:
        """The owner's latest learning-rate finder (running or ended), or None."""

    def wait_finder(self, owner: str, timeout: float | None = None) -> FinderState | None:
        """Block until the owner's latest finder has ended (or the timeout passed); its state then."""

    def stop_finder(self, owner: str) -> bool:
        """Stop the owner's running finder after its current step; False if none runs."""

    @answered_here
    def find_lr(self, config: TrainConfig, owner: str, timeout: float | None = None) -> LrFinderResult:
        """start_finder, then wait for its result (scripts and tests); raises RunRefused with the reason."""

    # --- the budget of one run -----------------------------------------------------------------------------------
    @answered_here
    def over_budget(self, config: TrainConfig) -> str | None:
        """Why this run is over the budget of one run on this server, for the student; None when it fits."""

    @answered_here
    def finder_problem(self, config: TrainConfig) -> str | None:
        """Why the learning-rate finder may not run for these settings (over the run budget); None when it may."""

    # --- the guards: new owner ids and tries at the instructor token, counted once for the whole lab --------------
    @guard
    def issue_owner_id(self, address: str) -> str | None:
        """A new owner id for a visitor from `address`; None once the address has had its new ids for the hour."""

    @guard
    def try_token(self, address: str, right: bool) -> TokenTry:
        """A try at the instructor token from `address` that was `right` or not."""

    # --- saved runs, read-only (the runs folder every web process shares) --------------------------------------
    @answered_here
    def saved_runs(self) -> list[Run]:
        """Every saved run, newest first."""

    @answered_here
    def saved_run(self, run_id: str) -> Run:
        """One saved run by id; raises ValueError for a malformed id."""

    @answered_here
    def shutdown(self, timeout: float = 10.0) -> None:
        """Leave the lab: a manager of this process stops its runs; the coordinator's go on."""


def lab_members() -> dict[str, object]:
    """Every member of the Lab by name: its function (methods) or its type (attributes)."""
    members: dict[str, object] = dict(typing.get_type_hints(Lab))
    members.update((name, value) for name, value in vars(Lab).items()
                   if inspect.isfunction(value) and not name.startswith("_"))
    return members


def crossing(name: str) -> Crossing:
    """How a web process answers this member of the Lab (an attribute is answered where it is asked)."""
    member = lab_members()[name]
    return getattr(member, "crossing", Crossing.CALL) if inspect.isfunction(member) else Crossing.HERE


def empty_answer(name: str):
    """What a read answers before the coordinator is reached, from its return type: None, [] or 0."""
    answer_type = typing.get_type_hints(getattr(Lab, name))["return"]
    if type(None) in typing.get_args(answer_type):
        return None
    origin = typing.get_origin(answer_type) or answer_type
    if origin in (list, int):
        return origin()
    raise TypeError(f"Lab.{name} is a read, but its answer {answer_type} has no empty value")


def id_read(name: str) -> str | None:
    """The parameter of the id this member reads one job or sweep by (a link), or None if it reads no id."""
    first = next(iter(list(inspect.signature(getattr(Lab, name)).parameters)[1:]), "")
    return first if first.endswith("_id") else None

