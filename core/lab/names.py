"""The class's display names: which browser holds which name, so no student can sign as another.

One JSON file in the runs folder (names.json: owner tag -> name), changed under a file lock and written
atomically, like class.json, so two server processes agree and a restart keeps every claim. Names on saved
runs count as taken by the browser that trained them. Only owner tags (hashes) are saved, never owner ids.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import threading
import time
from pathlib import Path

from core.engine.display_name import clean_name, name_keys, name_problem
from core.engine.fileio import atomic_write_json
from core.engine.run_files import read_json_file
from core.engine.run_store import RunStore, owner_tag

log = logging.getLogger(__name__)

NAMES_FILE, LOCK_FILE = "names.json", ".names.lock"
TAKEN = ("That name, or one that looks just like it, is already taken in this class. Add an initial to make "
         "it yours, for example Ann B. instead of Ann.")
NOT_HELD = ("This browser does not hold that display name in the class now (another tab may have chosen a "
            "different one). Choose your display name again on the Class page.")


@functools.lru_cache(maxsize=4096)
def _keys(name: str) -> frozenset[str]:
    return name_keys(name)


class NameRegistry:
    """names.json in a runs folder, and the names on the folder's saved runs (read again only when changed)."""

    def __init__(self, runs_dir: str | os.PathLike):
        self.root = Path(runs_dir)
        self.path = self.root / NAMES_FILE
        self.store = RunStore(self.root)
        self._lock = threading.Lock()
        self._runs: dict[str, tuple[tuple, str, str]] = {}  # run id -> (run.json's stamp, owner tag, name)

    def claims(self) -> dict[str, str]:
        """The names held now: owner tag -> name; a damaged file reads as no claims (and is logged)."""
        try:
            raw, unreadable = read_json_file(self.path)
        except FileNotFoundError:
            return {}
        held = raw.get("names") if isinstance(raw, dict) else None
        if unreadable or not isinstance(held, dict):
            log.warning("%s is damaged; it is read as no names held", self.path)
            return {}
        return {tag: name for tag, name in held.items() if isinstance(tag, str) and isinstance(name, str)}

    def name_of(self, owner: str) -> str:
        """The name this browser holds ("" for none)."""
        return self.claims().get(owner_tag(owner), "")

    def saved_names(self) -> list[tuple[str, str]]:
        """(owner tag, name) of every saved run with a name; unchanged runs come from memory."""
        seen = {}
        for run_id in self.store.ids():
            path = self.root / run_id / "run.json"
            try:
                info = path.stat()
            except OSError:
                continue  # deleted meanwhile
            stamp = (info.st_mtime_ns, info.st_size, info.st_ino)  # a rewrite replaces the file: a new inode
            with self._lock:
                known = self._runs.get(run_id)
            if known is None or known[0] != stamp:
                try:
                    raw, _ = read_json_file(path)
                except FileNotFoundError:
                    continue
                raw = raw if isinstance(raw, dict) else {}
                tag, name = raw.get("owner_tag"), raw.get("student")
                known = (stamp, tag if isinstance(tag, str) else "", name if isinstance(name, str) else "")
            seen[run_id] = known
        with self._lock:
            self._runs = seen  # deleted runs are forgotten
        return [(tag, name) for _, tag, name in seen.values() if name]

    def taken_problem(self, owner: str, name: str, claims: dict[str, str] | None = None) -> str | None:
        """TAKEN when a name that looks like `name` is held by another browser or is on another's saved run."""
        mine, keys = owner_tag(owner), _keys(clean_name(name))
        held = self.claims() if claims is None else claims
        others = [other for tag, other in [*held.items(), *self.saved_names()] if tag != mine]
        return TAKEN if any(not keys.isdisjoint(_keys(other)) for other in others) else None

    def claim(self, owner: str, name: str) -> str | None:
        """Make `name` this browser's display name (its old one is released); why not, for the student, or None."""
        if not owner:
            raise ValueError("a name is claimed by a browser's owner id")
        problem = name_problem(name)
        if problem:
            return problem
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file is closed, even by a crash
            try:
                held = self.claims()  # under the lock: a classmate's claim a moment ago is seen
                problem = self.taken_problem(owner, name, held)
                if problem is None:
                    held[owner_tag(owner)] = clean_name(name)
                    atomic_write_json(self.path, {"names": held, "updated": time.time()})
            finally:
                with contextlib.suppress(OSError):
                    fcntl.flock(lock_file, fcntl.LOCK_UN)
        return problem

    def holder_problem(self, owner: str, name: str) -> str | None:
        """Why `owner` may not sign a run with `name` (it is not the name it holds), or None: the job manager's
        name_check."""
        if not name or clean_name(name) == self.name_of(owner):
            return None
        return NOT_HELD
