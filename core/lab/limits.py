"""What one browser may do on a shared server: how many runs it may have waiting, whose runs it may delete."""

from __future__ import annotations

from core.engine.run_store import owner_tag

MAX_WAITING_PER_OWNER = 3  # runs one browser may have waiting (a sweep's count): nobody can fill the queue


class RunRefused(ValueError):
    """The server will not queue this run; the message tells the student why and what to change."""


NOT_YOURS_TO_DELETE = ("Only the browser that trained this run, or the instructor, may delete it: the history is "
                       "everyone's to read, and each run is its owner's.")


def owns_run(record: dict, owner: str) -> bool:
    """True when a saved run (its run.json) was started by this browser: its owner_tag is this owner's."""
    return bool(owner) and record.get("owner_tag") == owner_tag(owner)


def waiting_limit_text(runs: int, would_wait: int) -> str:
    """Why a browser may not queue more runs now, in words for the student."""
    what = "this run" if runs == 1 else f"these {runs} runs"
    return (f"With {what}, {would_wait} of your runs would be waiting, and one browser may have at most "
            f"{MAX_WAITING_PER_OWNER} waiting at once. Wait until one of your runs starts, or cancel one"
            + ("." if runs == 1 else ", or choose fewer values."))
