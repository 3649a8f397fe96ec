"""What the class found: the board's runs as one parallel-coordinates chart, the settings ranked by how much they
mattered, and a class experiment's results (accuracy against the value, loss curves, a CSV). Plain Python.

The chart and the ranking are cached by the set of runs (a finished run never changes), so a poll of the Class
page with no new run costs a dictionary lookup; the step losses of a run are read once.
"""

from __future__ import annotations

import math
import os
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from core.engine.config import SETTINGS
from core.engine.csv_safe import csv_text
from core.engine.curves import Curve, finite_or_none, loss_curve
from core.engine.run_store import RunStore
from core.engine.status import Status
from core.lessons.challenge import value_words
from core.lessons.experiment import Experiment
from core.lessons.importance import Column, Ranking, rank_settings, varying_columns
from core.views.board import BoardEntry
from core.views.chart_words import ChartWords, count, joined, number, percent, thinned
from core.views.charts import end_step
from core.views.palettes import BLACK, BLUE, CATEGORICAL, SEQUENTIAL, VERMILLION, colorscale, for_marks

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
    # The last axis is the scale; viridis's dark part only, so every line keeps 3:1 against the white page.
    line = {"color": list(accuracy), "colorscale": colorscale(for_marks(SEQUENTIAL)), "showscale": False}
    return {"data": [{"type": "parcoords", "line": line, "dimensions": dimensions}],
            "layout": {"height": height, "margin": {"l": 60, "r": 40, "t": 50, "b": 20}}}


@dataclass(frozen=True)
class Findings:
    """The chart and the ranking of one set of runs."""

    runs: int
    figure: dict | None  # None with fewer than 2 runs
    ranking: Ranking
    words: ChartWords | None = None  # the figure in words (core.views.chart_words)


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
        many = len(ordered) >= 2
        figure = parcoords_figure(saved, accuracy) if many else None
        words = parcoords_words(saved, accuracy) if many else None
        findings = Findings(len(ordered), figure, rank_settings(saved, accuracy), words)
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
        text=[e.student for e in finished], marker={"size": 9, "opacity": 0.7, "color": BLUE},
        hovertemplate="%{text}<br>%{x}: %{y:.2f} %<extra></extra>"))
    diverged = [e for e in entries if _diverged(e)]
    if diverged:
        fig.add_trace(go.Scatter(
            x=xs(diverged), y=[0.0] * len(diverged), mode="markers", name="diverged (no test accuracy)",
            text=[e.student for e in diverged], marker={"size": 11, "symbol": "x", "color": BLACK},
            hovertemplate="%{text}<br>%{x}: diverged<extra></extra>"))
    medians = [(v, statistics.median(e.test_accuracy for e in finished if _value(experiment, e) == v))
               for v in order if any(_value(experiment, e) == v for e in finished)]
    if medians:
        fig.add_trace(go.Scatter(
            x=[v if numeric else experiment.value_words(v) for v, _ in medians], y=[m for _, m in medians],
            mode="lines+markers", name="median", line={"width": 3, "color": VERMILLION},
            hovertemplate="median %{y:.2f} %<extra></extra>"))
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
    fig = go.Figure()
    shown = set()
    for value, curve in curves:
        index = list(experiment.values).index(value) if value in experiment.values else len(experiment.values)
        name = experiment.value_words(value)
        fig.add_trace(go.Scatter(
            x=list(curve.steps), y=finite_or_none(curve.smooth), mode="lines", name=name, legendgroup=name,
            showlegend=name not in shown, line={"color": CATEGORICAL[index % len(CATEGORICAL)], "width": 1.5},
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

    def __init__(self, runs: RunStore | str | os.PathLike):
        self.store = runs if isinstance(runs, RunStore) else RunStore(runs)  # a store, or the runs folder to read
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
    seconds, run id, status (finished or diverged); text cells escaped (core.engine.csv_safe)."""
    return csv_text(CSV_COLUMNS, ([_value(experiment, entry), entry.student,
                                   "" if _diverged(entry) else f"{entry.test_accuracy:.2f}", entry.epochs_done,
                                   f"{entry.train_seconds:.1f}", entry.run_id, entry.status]
                                  for entry in experiment_entries(experiment, entries)))


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


# --- the same charts in words (core.views.chart_words) ---------------------------------------------------------
def _setting_words(name: str, value) -> str:
    return f"{SETTINGS[name].label.lower()} {value_words(name, value)}"


def parcoords_words(saved: Sequence[dict], accuracy: Sequence[float]) -> ChartWords:
    """parcoords_figure's chart in words: the spread of test accuracy, the best and the worst run's settings, and
    what the best runs share. No names: the chart has none."""
    columns = varying_columns(saved)
    order = sorted(range(len(saved)), key=lambda i: -accuracy[i])
    best, worst = order[0], order[-1]
    axes = f" through the settings that differ between them ({joined([c.label.lower() for c in columns])})" \
        if columns else ""
    summary = (f"{count(len(saved), 'finished run')}, one line each{axes}, to a test accuracy from "
               f"{percent(accuracy[worst])} to {percent(accuracy[best])}.")
    if columns:
        def settings_of(i: int) -> str:
            return joined([_setting_words(c.name, saved[i][c.name]) for c in columns])

        summary += f" The best run ({percent(accuracy[best])}) had {settings_of(best)}; " \
                   f"the worst ({percent(accuracy[worst])}) {settings_of(worst)}."
        top = order[:max(2, len(order) // 4)]
        shared = [_setting_words(c.name, saved[top[0]][c.name]) for c in columns
                  if len({c.values[i] for i in top}) == 1]
        if len(order) >= 4 and shared:
            summary += f" The {len(top)} best runs all had {joined(shared)}."
    else:
        summary += " No setting differs between them but the seed."
    numbers = {"test accuracy (%)": [round(accuracy[i], 2) for i in order]}
    numbers |= {c.label: [value_words(c.name, saved[i][c.name]) for i in order] for c in columns}
    alt = "Parallel-coordinates chart of the class's runs: " + summary
    return ChartWords(alt=alt, summary=summary, numbers=numbers)


def experiment_words(experiment: Experiment, entries: Sequence[BoardEntry]) -> ChartWords:
    """experiment_figure's chart in words: per value, its runs' test accuracies, and the value with the best median.
    Names go only into the table (st.dataframe shows them as text), never into the words."""
    parts, medians = [], []
    for value in experiment.values:
        runs = [e for e in entries if _value(experiment, e) == value]
        accuracies = sorted(e.test_accuracy for e in runs if not _diverged(e))
        diverged = len(runs) - len(accuracies)
        if not runs:
            continue
        words = experiment.value_words(value)
        said = []
        if accuracies:
            median = statistics.median(accuracies)
            medians.append((median, words))
            spread = percent(accuracies[0]) if len(accuracies) == 1 else \
                f"{percent(accuracies[0])} to {percent(accuracies[-1])}, median {percent(median)}"
            said.append(f"{count(len(accuracies), 'run')}, {spread}")
        if diverged:
            said.append("all diverged" if not accuracies else f"{diverged} diverged")
        parts.append(f"{words}: {'; '.join(said)}")
    setting = experiment.label()[4:]
    if not parts:
        return ChartWords(f"Chart of the test accuracy against {setting}: no run yet.", "No run yet.")
    summary = f"Test accuracy by {setting}: " + "; ".join(parts) + "."
    if len(medians) > 1:
        (high, best), (low, worst) = max(medians), min(medians)
        summary += f" The best median is {best} ({percent(high)}), the worst {worst} ({percent(low)})."
    in_order = sorted(entries, key=lambda e: list(experiment.values).index(_value(experiment, e))
                      if _value(experiment, e) in experiment.values else len(experiment.values))
    numbers = {setting: [experiment.value_words(_value(experiment, e)) for e in in_order],
               "student": [e.student for e in in_order],
               "test accuracy (%)": [None if _diverged(e) else round(e.test_accuracy, 2) for e in in_order],
               "status": [str(e.status) for e in in_order]}
    alt = (f"Chart of the test accuracy against {setting}, {count(len(entries), 'run')} as points and the median "
           f"of each value as a line. " + summary)
    return ChartWords(alt=alt, summary=summary, numbers=numbers)


def curves_words(experiment: Experiment, curves: Sequence[tuple[object, Curve]]) -> ChartWords:
    """curves_figure's chart in words: per value, where its runs' smoothed losses ended (or stopped being a number)."""
    setting = experiment.label()[4:]
    if not curves:
        return ChartWords(f"Loss curves by {setting}: no curve yet.", "No curve yet.")
    rows = [_curve_row(experiment.value_words(value), curve) for value, curve in curves]
    parts = []
    for value in dict.fromkeys([*map(experiment.value_words, experiment.values), *(row["value"] for row in rows)]):
        mine = [row for row in rows if row["value"] == value]
        if not mine:
            continue
        ends = sorted(row["last loss"] for row in mine if row["last loss"] is not None)
        broken = sum(row["last loss"] is None for row in mine)
        low, high = (number(ends[0]), number(ends[-1])) if ends else ("", "")
        said = [low if low == high else f"{low} to {high}"] if ends else []
        if broken:
            said.append(f"{count(broken, 'run')} not a number (diverged)" if ends else "not a number (diverged)")
        parts.append(f"{value} ({count(len(mine), 'run')}): {joined(said)}")
    summary = f"Where each run's smoothed loss ended, by {setting}: " + "; ".join(parts) + "."
    numbers = {setting: [row["value"] for row in rows]} | {
        key: [row[key] for row in rows] for key in ("steps", "first loss", "lowest loss", "last loss")}
    alt = (f"Line chart of the smoothed loss against the step, one line per run ({count(len(curves), 'run')}), "
           f"one colour per {setting}. ")
    return ChartWords(alt=alt + summary, summary=summary, numbers=thinned(numbers))


def _curve_row(value: str, curve: Curve) -> dict:
    finite = [v for v in curve.smooth if math.isfinite(v)]
    ended = bool(curve.smooth) and math.isfinite(curve.smooth[-1]) and all(math.isfinite(v) for v in curve.raw)
    return {"value": value, "steps": end_step(curve) if curve.steps else 0,
            "first loss": round(finite[0], 4) if finite else None,
            "lowest loss": round(min(finite), 4) if finite else None,
            "last loss": round(curve.smooth[-1], 4) if ended else None}
