"""The instructor's live view: every queued or training run of the class, with the live doctor's verdict on
what it has streamed so far, and the counts to say to the class. Plain Python over the job manager's snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.lessons.live_doctor import ORDER, LiveFinding, class_counts, live_finding
from core.views.history import settings_text


@dataclass(frozen=True)
class LiveView:
    """The counts line ("" with no run) and one row per run, most urgent verdict first."""

    counts: str
    rows: tuple[dict, ...]


def live_view(snapshots: Sequence[tuple[object, str]]) -> LiveView:
    """From (JobSnapshot, student name) pairs, as core.lab.jobs.JobManager.live_snapshots gives them."""
    judged: list[tuple[LiveFinding, object, str]] = []
    for snap, student in snapshots:
        finding = live_finding(snap.curve.raw, snap.epoch_metrics, snap.config, snap.status, snap.curve.every)
        judged.append((finding, snap, student))
    judged.sort(key=lambda item: ORDER.index(item[0].verdict))
    rows = tuple({
        "student": student or "(no name)",
        "status": str(snap.status),
        "progress": f"epoch {max(snap.epoch, 1)}/{snap.epochs}, {snap.progress:.0%}",
        "learning rate": f"{snap.config.lr:g}",
        "doctor": finding.verdict,
        "why": finding.words,
        "settings": settings_text(snap.config),
    } for finding, snap, student in judged)
    return LiveView(class_counts([(finding, snap.config) for finding, snap, _ in judged]), rows)
