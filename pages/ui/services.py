"""The lab's services for the pages, one of each per server process and shared by every session (st.cache_resource).
Not a page: st.navigation does not list it.

The pages ask `lab()` for everything the lab does. The other getters stay apart from it because each is built at
its own cost and moment:
- `lab()`: core.lab.jobs.JobManager, or core.lab.lab_client.LabClient under Ray. The heaviest: its workers start
  (the shell asks for it after each page, so a page that needs none draws first).
- `saved_runs()`: the saved runs, read-only, for the pages that only read them (Mistakes, Autograd's step tab).
- `classroom()` and `name_registry()`: the class's two files in the runs folder, read by every web process itself;
  light, so the settings and the sidebar read them without starting the lab (whose gates, embedded, share them).
- `class_readers()`: the Class page's server-wide readers of the board's runs (each run read once); they import
  the findings' charts, which no other page needs.
- `lab_guards()` and `owner_ids()`: who a visitor is, on every page's sidebar; they never start the embedded lab.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    from core.views.board import BoardReader
    from core.views.class_findings import CurveReader, FindingsCache


def _runs_dir() -> str:
    from core.engine.folders import default_runs_dir

    return str(default_runs_dir().resolve())


@st.cache_resource(show_spinner=False)
def _lab(runs_dir: str):
    from core.lab.coordinator import build_job_manager
    from core.lab.executors import executor_kind
    from core.lab.lab_client import lab_client

    if executor_kind() == "ray":  # one lab for every web process: the job manager lives in the Ray cluster
        return lab_client(runs_dir)  # the one launch started connecting as the server started
    # Embedded (local workers): the manager is this process's own. Marks runs a dead server left "running"
    # interrupted.
    return build_job_manager(runs_dir, room=_classroom(runs_dir), names=_name_registry(runs_dir))


def lab():
    """The lab every page asks for runs, their controls and snapshots, the finder, sweeps, the budget and the saved
    runs: this server's JobManager, or the LabClient of the one in the Ray cluster. Shared by every session."""
    return _lab(_runs_dir())


@st.cache_resource(show_spinner=False)
def _saved_runs(runs_dir: str):
    from core.lab.answers_here import SavedRuns

    return SavedRuns(runs_dir)


def saved_runs():
    """The saved runs, newest first, read without starting the lab: Mistakes and Autograd's step tab only read runs,
    and a deep link to them draws before the lab's workers start (the same folder as lab().saved_runs())."""
    return _saved_runs(_runs_dir()).saved_runs()


@st.cache_resource(show_spinner=False)
def _classroom(runs_dir: str):
    from core.lab.classroom import ClassRoom

    return ClassRoom(runs_dir)


def classroom():
    """The class's shared state (challenge, locks, board, spotlight) in the runs folder's class.json."""
    return _classroom(_runs_dir())


@st.cache_resource(show_spinner=False)
def _name_registry(runs_dir: str):
    from core.lab.names import NameRegistry

    return NameRegistry(runs_dir)


def name_registry():
    """The class's display names (who holds which) in the runs folder's names.json."""
    return _name_registry(_runs_dir())


@dataclass(frozen=True)
class ClassReaders:
    """The Class page's readers of the runs folder, each remembering what it read (thread-safe)."""

    board: BoardReader  # the board's runs, each read again only when its run.json changed
    curves: CurveReader  # saved runs' loss curves, each read once
    findings: FindingsCache  # what the class found (chart and ranking), by the set of runs


@st.cache_resource(show_spinner=False)
def _class_readers(runs_dir: str) -> ClassReaders:
    from core.views.board import BoardReader
    from core.views.class_findings import CurveReader, FindingsCache

    return ClassReaders(BoardReader(runs_dir), CurveReader(runs_dir), FindingsCache())


def class_readers() -> ClassReaders:
    """The server's one set of readers of the board's runs, shared by every session."""
    return _class_readers(_runs_dir())


@st.cache_resource(show_spinner=False)
def _lab_guards(runs_dir: str):
    from core.lab.executors import executor_kind

    if executor_kind() == "ray":  # one lab for every web process: its coordinator counts for all of them
        return _lab(runs_dir)  # the LabClient, with the guards' two calls
    from core.lab.guards import LabGuards

    return LabGuards()


def lab_guards():
    """The lab's one count of new owner ids per address and of tries at the instructor token (core.lab.guards)."""
    return _lab_guards(_runs_dir())


@st.cache_resource(show_spinner=False)
def _owner_ids(runs_dir: str):
    from core.lab import identity

    return identity.OwnerIds(identity.lab_secret(runs_dir), _lab_guards(runs_dir).issue_owner_id)


def owner_ids():
    """The server's one checker of owner cookies (the lab's secret); new ids come from the lab's guards."""
    return _owner_ids(_runs_dir())
