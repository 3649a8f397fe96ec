"""The Class page's leaderboard: finished runs trained with a display name, best first, rule-breakers apart.

Built from the run store (runs of every server process), never from what a browser says. Plain Python.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from core.engine.config import TrainConfig
from core.engine.display_name import is_saved_name
from core.engine.run_files import finite_number
from core.engine.run_store import RunStore
from core.engine.status import Status
from core.engine.words import format_seconds
from core.lessons.challenge import FIRST_TO, Challenge
from core.views.history import settings_text

MINE = "yours"  # how a student's own runs are marked


@dataclass(frozen=True)
class BoardEntry:
    """One finished run with a name, as the board needs it (or a diverged one, for a class experiment's results)."""

    run_id: str
    student: str
    owner_tag: str
    test_accuracy: float | None  # None for a diverged run
    config: TrainConfig
    epochs_done: int
    train_seconds: float
    created: float
    ended: float
    status: Status = Status.FINISHED  # or Status.DIVERGED


@dataclass(frozen=True)
class Board:
    """The ranked runs, best first, and the runs that broke a rule of the challenge, each with that rule."""

    ranked: tuple[BoardEntry, ...]
    apart: tuple[tuple[BoardEntry, str], ...]


def board_entry(run) -> BoardEntry | None:
    """A saved run as the board shows it; None unless it finished, with a test accuracy, or diverged (with no test
    accuracy: a class experiment shows it as such), under a valid name."""
    record = run.record
    accuracy = finite_number(record.get("test_accuracy")) if run.status == Status.FINISHED else None
    finished_or_diverged = accuracy is not None or run.status == Status.DIVERGED
    if not finished_or_diverged or not is_saved_name(record.get("student")):
        return None
    try:
        config = run.config
    except ValueError:  # damaged settings: the run cannot be judged, so it is not on the board
        return None
    tag = record.get("owner_tag")
    ended = finite_number(record.get("ended")) or record["updated"]
    return BoardEntry(run.id, record["student"], tag if isinstance(tag, str) else "", accuracy, config,
                      record["epochs_done"], record["train_seconds"], record["created"], ended, run.status)


def ranking_key(entry: BoardEntry, challenge: Challenge | None) -> tuple:
    """Best first. A first-to challenge: the runs that reached the target in the order they finished, then the
    rest by accuracy; otherwise by accuracy. Ties go to the run that finished first."""
    if challenge is not None and challenge.goal == FIRST_TO:
        if entry.test_accuracy >= challenge.target:
            return (0, entry.ended, 0.0, entry.run_id)
        return (1, -entry.test_accuracy, entry.ended, entry.run_id)
    return (0, -entry.test_accuracy, entry.ended, entry.run_id)


def build_board(entries: Iterable[BoardEntry], challenge: Challenge | None = None, since: float = 0.0) -> Board:
    """The board of the runs made since `since` (a fresh board hides older ones), checked against the challenge."""
    ranked, apart = [], []
    for entry in entries:
        if entry.created < since:
            continue
        broken = challenge.broken_rule(entry.config) if challenge is not None else None
        if broken:
            apart.append((entry, broken))
        else:
            ranked.append(entry)
    ranked.sort(key=lambda e: ranking_key(e, challenge))
    apart.sort(key=lambda pair: ranking_key(pair[0], None))
    return Board(tuple(ranked), tuple(apart))


def _when(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def entry_row(entry: BoardEntry, my_tag: str) -> dict:
    """One row of the board's table; names stay text (the page shows them as plain text only)."""
    return {
        "name": entry.student,
        "test accuracy (%)": round(entry.test_accuracy, 2),
        "settings": settings_text(entry.config),
        "epochs": entry.epochs_done,
        "training time": format_seconds(entry.train_seconds),
        "when": _when(entry.ended),
        "": MINE if my_tag and entry.owner_tag == my_tag else "",
    }


def board_rows(board: Board, my_tag: str) -> list[dict]:
    """The ranked runs as table rows, with their place first."""
    return [{"#": place, **entry_row(entry, my_tag)} for place, entry in enumerate(board.ranked, start=1)]


def apart_rows(board: Board, my_tag: str) -> list[dict]:
    """The rule-breaking runs as table rows, each with the rule it broke."""
    rows = []
    for entry, rule in board.apart:
        row = entry_row(entry, my_tag)
        rows.append({"name": row.pop("name"), "rule broken": rule, **row})  # the rule beside the name: it is the point
    return rows


def entry_title(entry: BoardEntry) -> str:
    """A run in a list to choose from: "Ann · 97.85 % · 10:42:07" (plain text)."""
    return f"{entry.student} · {entry.test_accuracy:.2f} % · {_when(entry.ended)}"


class BoardReader:
    """The board's runs from a runs folder, shared by every session: a run is read again only when its run.json
    changed, so a board of hundreds of runs is rebuilt in milliseconds every few seconds. Thread-safe."""

    def __init__(self, runs: RunStore | str | os.PathLike):
        self.store = runs if isinstance(runs, RunStore) else RunStore(runs)  # a store, or the runs folder to read
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[tuple, BoardEntry | None]] = {}

    def entries(self, diverged: bool = False) -> list[BoardEntry]:
        """Every finished run with a name, read now (those whose run.json is unchanged from memory); with `diverged`,
        the diverged runs with a name too (a class experiment's results count them)."""
        seen = {}
        for run_id in self.store.ids():
            try:
                info = os.stat(self.store.root / run_id / "run.json")
            except OSError:
                continue  # deleted meanwhile
            stamp = (info.st_mtime_ns, info.st_size, info.st_ino)  # a rewrite replaces the file: a new inode
            with self._lock:
                known = self._seen.get(run_id)
            if known is not None and known[0] == stamp:
                seen[run_id] = known
                continue
            try:
                seen[run_id] = (stamp, board_entry(self.store.load(run_id)))
            except (OSError, ValueError):
                continue
        with self._lock:
            self._seen = seen  # deleted runs are forgotten
        return [entry for _, entry in seen.values()
                if entry is not None and (diverged or entry.status == Status.FINISHED)]
