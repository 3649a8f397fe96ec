"""What the class found: the board's runs as one parallel-coordinates chart, the settings ranked by how much they
mattered, and a class experiment's results (accuracy against the value, loss curves, a CSV). Plain Python.

The chart and the ranking are cached by the set of runs (a finished run never changes), so a poll of the Class
page with no new run costs a dictionary lookup; the step losses of a run are read once.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.colors import qualitative

from core.engine.curves import Curve, finite_or_none, loss_curve
from core.engine.runs import RunStore
from core.engine.status import Status
from core.lessons.experiment import Experiment
from core.lessons.importance import Column, Ranking, rank_settings, varying_columns
from core.views.board import BoardEntry

CURVE_POINTS = 120  # per run in the overlaid curves: dozens of runs in one chart stay light


def _log_ticks(column: Column) -> dict:
    """Tick values at the powers of ten (log10 drawn) with readable text: 0.001, 0.01, 0.1, 1."""
    low, high = math.floor(min(column.values)), math.ceil(max(column.values))
    powers = list(range(low, high + 1))
    return {"tickvals": powers, "ticktext": [f"{10.0 ** p:g}" for p in powers]}


def parcoords_figure(saved: Sequence[dict], accuracy: Sequence[float], height: int = 380) -> dict:
    """Every run (its run.json settings, its test accuracy) one line through the settings that vary among them and
    its test accuracy, coloured by it. A plain figure dict: Plotly's validation of 300 lines costs 10-60 ms a poll."""
    dimensions = []
    for column in varying_columns(saved):
        dimension = {"label": column.label + (" (log)" if column.log else ""), "values": list(column.values)}
        if column.log:
            dimension |= _log_ticks(column)
        elif column.ticks:
            dimension |= {"tickvals": [code for code, _ in column.ticks], "ticktext": [t for _, t in column.ticks]}
        dimensions.append(dimension)
    dimensions.append({"label": "test accuracy (%)", "values": list(accuracy)})
    line = {"color": list(accuracy), "colorscale": "Viridis", "showscale": False}  # the last axis is the scale
    return {"data": [{"type": "parcoords", "line": line, "dimensions": dimensions}],
            "layout": {"height": height, "margin": {"l": 60, "r": 40, "t": 50, "b": 20}}}


@dataclass(frozen=True)
class Findings:
    """The chart and the ranking of one set of runs."""

    runs: int
    figure: dict | None  # None with fewer than 2 runs
    ranking: Ranking


class FindingsCache:
    """Findings by the set of runs they were built from: computed once per new set, shared by every session."""

    def __init__(self):
        self._lock = threading.Lock()
        self._key: frozenset | None = None
        self._findings: Findings | None = None

    def findings(self, entries: Sequence[BoardEntry]) -> Findings:
        key = frozenset(entry.run_id for entry in entries)
        with self._lock:
            if key == self._key and self._findings is not None:
                return self._findings
        ordered = sorted(entries, key=lambda entry: entry.run_id)  # the same runs give the same forest
        saved, accuracy = [e.config.to_dict() for e in ordered], [e.test_accuracy for e in ordered]
        figure = parcoords_figure(saved, accuracy) if len(ordered) >= 2 else None
        findings = Findings(len(ordered), figure, rank_settings(saved, accuracy))
        with self._lock:
            self._key, self._findings = key, findings
        return findings


# --- a class experiment ----------------------------------------------------------------------------------------
def experiment_entries(experiment: Experiment, entries: Sequence[BoardEntry]) -> list[BoardEntry]:
    """The board's runs that belong to this experiment (made while it ran, with its fixed settings), oldest first."""
    mine = [entry for entry in entries if experiment.includes(entry.config.to_dict(), entry.created)]
    return sorted(mine, key=lambda entry: entry.created)


def _value(experiment: Experiment, entry: BoardEntry):
    return getattr(entry.config, experiment.setting)


def _numeric(experiment: Experiment) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in experiment.values)


def _diverged(entry: BoardEntry) -> bool:
    return entry.status == Status.DIVERGED


def experiment_figure(experiment: Experiment, entries: Sequence[BoardEntry], height: int = 340) -> go.Figure:
    """Test accuracy against the value: every run a point, the median of each value a line (log x for lr); a
    diverged run, which has no test accuracy, a cross at 0 %."""
    numeric = _numeric(experiment)
    order = list(experiment.values)
    finished = [e for e in entries if not _diverged(e)]

    def xs(runs: Sequence[BoardEntry]) -> list:
        return [_value(experiment, e) if numeric else experiment.value_words(_value(experiment, e)) for e in runs]

    fig = go.Figure(go.Scatter(
        x=xs(finished), y=[e.test_accuracy for e in finished], mode="markers", name="a run",
        text=[e.student for e in finished], marker={"size": 9, "opacity": 0.7},
        hovertemplate="%{text}<br>%{x}: %{y:.2f} %<extra></extra>"))
    diverged = [e for e in entries if _diverged(e)]
    if diverged:
        fig.add_trace(go.Scatter(
            x=xs(diverged), y=[0.0] * len(diverged), mode="markers", name="diverged (no test accuracy)",
            text=[e.student for e in diverged], marker={"size": 11, "symbol": "x", "color": "#d62728"},
            hovertemplate="%{text}<br>%{x}: diverged<extra></extra>"))
    medians = [(v, statistics.median(e.test_accuracy for e in finished if _value(experiment, e) == v))
               for v in order if any(_value(experiment, e) == v for e in finished)]
    if medians:
        fig.add_trace(go.Scatter(
            x=[v if numeric else experiment.value_words(v) for v, _ in medians], y=[m for _, m in medians],
            mode="lines+markers", name="median", line={"width": 3}, hovertemplate="median %{y:.2f} %<extra></extra>"))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      xaxis_title=experiment.label()[4:], yaxis_title="test accuracy (%)",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0})
    if numeric and experiment.setting == "lr":
        fig.update_xaxes(type="log")
    if not numeric:
        fig.update_xaxes(categoryorder="array", categoryarray=[experiment.value_words(v) for v in order])
    return fig


def curves_figure(experiment: Experiment, curves: Sequence[tuple[object, Curve]], height: int = 340) -> go.Figure:
    """The runs' smoothed loss curves overlaid, one colour per value (value, curve)."""
    palette = qualitative.Plotly
    fig = go.Figure()
    shown = set()
    for value, curve in curves:
        index = list(experiment.values).index(value) if value in experiment.values else len(experiment.values)
        name = experiment.value_words(value)
        fig.add_trace(go.Scatter(
            x=list(curve.steps), y=finite_or_none(curve.smooth), mode="lines", name=name, legendgroup=name,
            showlegend=name not in shown, line={"color": palette[index % len(palette)], "width": 1.5}, opacity=0.8,
            hovertemplate=f"{name}<br>step %{{x:.0f}}<br>loss %{{y:.3f}}<extra></extra>"))
        shown.add(name)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, xaxis_title="step",
                      yaxis_title="loss (smoothed)", legend={"title": {"text": experiment.label()[4:]}})
    return fig


def even_curve(losses: Sequence[float], points: int = CURVE_POINTS) -> Curve:
    """A finished run's loss curve for the overlay: at most `points` points, each the mean of the same N steps."""
    return loss_curve(losses, points)


class CurveReader:
    """Saved runs' loss curves, read once each (a finished run's steps never change). Thread-safe."""

    def __init__(self, store: RunStore):
        self.store = store
        self._lock = threading.Lock()
        self._curves: dict[str, Curve | None] = {}

    def curve(self, run_id: str) -> Curve | None:
        with self._lock:
            if run_id in self._curves:
                return self._curves[run_id]
        try:
            curve = even_curve(self.store.load(run_id).steps)
        except (OSError, ValueError):
            curve = None
        with self._lock:
            self._curves[run_id] = curve
        return curve


CSV_COLUMNS = ("value", "student", "test accuracy (%)", "epochs", "seconds", "run id", "status")


def experiment_csv(experiment: Experiment, entries: Sequence[BoardEntry]) -> str:
    """The experiment's runs as CSV: value, student, test accuracy (empty for a diverged run), epochs, training
    seconds, run id, status (finished or diverged)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in experiment_entries(experiment, entries):
        accuracy = "" if _diverged(entry) else f"{entry.test_accuracy:.2f}"
        writer.writerow([_value(experiment, entry), entry.student, accuracy, entry.epochs_done,
                         f"{entry.train_seconds:.1f}", entry.run_id, entry.status])
    return out.getvalue()


def experiment_summary(experiment: Experiment, entries: Sequence[BoardEntry]) -> str:
    """"9 runs: 0.001 (3 runs, median 88.1 %), 0.03 (3, 96.2 %), 3 (3, 9.8 %)" for the page's text."""
    parts = []
    for value in experiment.values:
        runs = [e for e in entries if _value(experiment, e) == value]
        accuracies = [e.test_accuracy for e in runs if not _diverged(e)]
        diverged = len(runs) - len(accuracies)
        words = experiment.value_words(value)
        if not runs:
            parts.append(f"{words}: no run yet")
        elif not accuracies:
            parts.append(f"{words}: {diverged} run{'s' if diverged != 1 else ''}, all diverged")
        else:
            parts.append(f"{words}: {len(runs)} run{'s' if len(runs) != 1 else ''}, median "
                         f"{statistics.median(accuracies):.1f} %" + (f", {diverged} diverged" if diverged else ""))
    return f"{len(entries)} run{'s' if len(entries) != 1 else ''} so far. " + "; ".join(parts) + "."
