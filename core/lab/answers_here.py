"""The members of the Lab (core.lab.lab) marked answered_here: the JobManager and the web process's LabClient
answer them alike, in their own process, from the runs folder every process shares and the budget of one run."""

from __future__ import annotations

from core.engine.config import TrainConfig
from core.engine.lr_finder import LrFinderResult
from core.engine.run_store import Run, RunStore
from core.lab.estimate import RunBudget
from core.lab.limits import RunRefused, owns_run


class SavedRuns:
    """The saved runs of a runs folder, read-only: all a page that only reads runs needs, without starting a lab."""

    store: RunStore

    def __init__(self, runs_dir: str):
        self.store = RunStore(runs_dir)

    def saved_runs(self) -> list[Run]:
        """Every saved run, newest first (read from the runs folder, which every web process shares)."""
        return self.store.list()

    def saved_run(self, run_id: str) -> Run:
        """One saved run by id; raises ValueError for a malformed id (see RunStore.load)."""
        return self.store.load(run_id)


class AnsweredHere(SavedRuns):
    """Saved runs, who may delete one, the budget and find_lr, for a lab with a `store`, a `budget` and a `speed`
    (its own __init__ sets them)."""

    budget: RunBudget
    speed: float | None

    def may_delete(self, record: dict, owner: str, instructor: bool = False) -> bool:
        """Whether this viewer may delete the saved run with this run.json: its owner or the instructor."""
        return instructor or owns_run(record, owner)

    def over_budget(self, config: TrainConfig) -> str | None:
        """Why this run is over the budget of one run on this server, for the student; None when it fits."""
        return self.budget.problem(config, self.speed or 1.0)

    def finder_problem(self, config: TrainConfig) -> str | None:
        """Why the learning-rate finder may not run for these settings (over the run budget); None when it may."""
        return self.budget.finder_problem(config, self.speed or 1.0)

    def find_lr(self, config: TrainConfig, owner: str, timeout: float | None = None) -> LrFinderResult:
        """start_finder, then wait for its LrFinderResult (scripts and tests); raises RunRefused with the reason."""
        self.start_finder(config, owner)
        state = self.wait_finder(owner, timeout)
        if state.result is None:
            raise RunRefused(state.message)
        return state.result
