"""Plotly figures for training curves (loss, epochs, the learning-rate finder) and their words. Plain Python: the
pages only hand them to st.plotly_chart."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go

from core.engine.curves import Curve, finite_or_none, raw_label
from core.views.chart_words import (
    MAX_ROWS,
    ChartWords,
    count,
    even_rows,
    number,
    percent,
    thinned,
    trend,
)
from core.views.palettes import CATEGORICAL, NEUTRAL

PALETTE = CATEGORICAL  # Okabe–Ito (core.views.palettes): apart for colour-blind eyes, 3:1 on white
RAW_OPACITY = 0.25
LOG_SPAN = 100.0  # draw the loss on a log axis once it spans more than this factor (a diverging run)
SMOOTHED = "smoothed"  # an exponential moving average (core.engine.smoothing)
ACCURACY_TICKS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20)  # the accuracy axis steps by one of these: round ticks only


def _log_axis(curves: Sequence[Curve]) -> bool:
    values = [v for c in curves for v in c.raw if math.isfinite(v) and v > 0]
    return bool(values) and max(values) / min(values) > LOG_SPAN


def loss_figure(lines: Sequence[tuple[str, Curve]], height: int = 340,
                lr_changes: Sequence[tuple[int, float]] = ()) -> go.Figure:
    """Loss per step: each line smoothed, with its raw values (or their means of N steps) faint behind it.

    The legend (one line) or the x-axis title (several) says what the faint points are.
    `lr_changes` ((steps done, new rate)) are marked by a dotted line where the new rate starts.
    """
    fig = go.Figure()
    single = len(lines) == 1
    for i, (name, curve) in enumerate(lines):
        color = PALETTE[i % len(PALETTE)]
        kind = raw_label(curve.every)
        fig.add_trace(go.Scatter(
            x=list(curve.steps), y=finite_or_none(curve.raw), mode="lines",
            name=kind if single else name,
            line=dict(color=color, width=1), opacity=RAW_OPACITY, showlegend=single, hoverinfo="skip",
            legendgroup=name,
        ))
        fig.add_trace(go.Scatter(
            x=list(curve.steps), y=finite_or_none(curve.smooth), mode="lines", name=SMOOTHED if single else name,
            line=dict(color=color, width=2.5), legendgroup=name,
            hovertemplate="step %{x:.0f}<br>smoothed loss %{y:.4f}<extra>" + ("" if single else name) + "</extra>",
        ))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10), uirevision="keep-zoom",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), yaxis_title="loss",
        xaxis_title="step" if single else _faint_lines_title(curve.every for _, curve in lines),
    )
    if _log_axis([curve for _, curve in lines]):
        fig.update_yaxes(type="log", dtick=1)  # powers of ten only: 0.1, 1, 10, 100
    for step, lr in lr_changes:
        fig.add_vline(x=step + 1, line=dict(color=NEUTRAL, width=1, dash="dot"),
                      annotation=dict(text=f"lr {lr:g}", textangle=-90, font=dict(size=11, color=NEUTRAL)))
    return fig


def _faint_lines_title(everies: Iterable[int]) -> str:
    sizes = sorted(set(everies))
    if sizes == [1]:
        return "step (faint: the loss of each step; bold: smoothed)"
    per_run = ", per run" if len(sizes) > 1 else ""
    return f"step (faint: the mean of every {' / '.join(map(str, sizes))} steps{per_run}; bold: smoothed)"


def epoch_figure(epochs: Sequence[dict], height: int = 300) -> go.Figure:
    """Per epoch: train and test loss on the left axis, test accuracy (%) on the right one."""
    x = [e["epoch"] for e in epochs]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=finite_or_none([e["train_loss"] for e in epochs]), name="train loss",
                             mode="lines+markers", line=dict(color=PALETTE[0])))
    fig.add_trace(go.Scatter(x=x, y=finite_or_none([e["test_loss"] for e in epochs]), name="test loss",
                             mode="lines+markers", line=dict(color=PALETTE[1])))
    fig.add_trace(go.Scatter(x=x, y=finite_or_none([e["test_accuracy"] for e in epochs]), name="test accuracy (%)",
                             mode="lines+markers", line=dict(color=PALETTE[2], dash="dot"), yaxis="y2"))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10), uirevision="keep-zoom",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
        xaxis=dict(title="epoch", dtick=1), yaxis=dict(title="loss"),
        yaxis2=dict(title="test accuracy (%)", overlaying="y", side="right", showgrid=False,
                    **accuracy_ticks([e["test_accuracy"] for e in epochs])),
    )
    return fig


def accuracy_ticks(accuracies: Sequence[float], most: int = 6) -> dict:
    """Round ticks for an accuracy axis (tick0 0 and a step from ACCURACY_TICKS, at most `most` ticks), with as
    many decimals as the step needs: 96.2, 96.4, ... never 96.281."""
    finite = [a for a in accuracies if math.isfinite(a)]
    span = max(finite) - min(finite) if finite else 0.0
    dtick = next((d for d in ACCURACY_TICKS if span / d <= most - 1), ACCURACY_TICKS[-1])
    return dict(tickmode="linear", tick0=0, dtick=dtick, tickformat=".1f" if dtick < 1 else ".0f")


def lr_finder_figure(points: Sequence[Sequence[float]], suggested_lr: float, height: int = 320) -> go.Figure:
    """The range test's smoothed loss against the learning rate (log scale), with the suggested rate marked."""
    rates, losses = [p[0] for p in points], [p[1] for p in points]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=rates, y=losses, mode="lines", name="smoothed loss", line=dict(color=PALETTE[0]),
                             hovertemplate="learning rate %{x:.2g}<br>loss %{y:.3f}<extra></extra>"))
    at = min(range(len(rates)), key=lambda i: abs(math.log(rates[i] / suggested_lr))) if rates else None
    if at is not None:
        fig.add_trace(go.Scatter(x=[suggested_lr], y=[losses[at]], mode="markers+text", name="suggested",
                                 marker=dict(color=PALETTE[1], size=12, symbol="star"),
                                 text=[f"{suggested_lr:g}"], textposition="top center",
                                 hovertemplate="suggested %{x:g}<extra></extra>"))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10), showlegend=False,
        xaxis=dict(title="learning rate", type="log", exponentformat="power"), yaxis=dict(title="loss"),
    )
    return fig


# --- The same charts in words (core.views.chart_words) --------------------------------------------------
def _finite(values: Sequence[float]) -> list[tuple[int, float]]:
    return [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]


def curve_sentence(name: str | None, curve: Curve) -> str:
    """One line of a loss chart in words (name None: the chart's only line): where its smoothed loss started and
    ended, its lowest point, and where it stopped being a number."""
    subject = "The loss" if name is None else f"{name}: the loss"
    finite = _finite(curve.smooth)
    if not curve.steps:
        return f"{subject} has no point yet."
    if not finite:
        return f"{subject} was never a number."
    last_step = end_step(curve)
    (i0, first), (i1, last) = finite[0], finite[-1]
    lowest_at, lowest = min(finite, key=lambda p: p[1])
    words = f"{subject} {trend(first, last)} from {number(first)} to {number(last)} over {count(last_step, 'step')}"
    if lowest < last * 0.9 and lowest_at not in (i0, i1):
        words += f", lowest {number(lowest)} at step {int(curve.steps[lowest_at]):,}"
    broken = next((i for i, v in enumerate(curve.raw) if not math.isfinite(v)), None)
    if broken is not None:
        words += f"; from step {int(curve.steps[broken]):,} on it is not a number (the run diverged)"
    elif last > 10 * first:
        words += "; it grows by powers of ten (the run is diverging)"
    return words + "."


def loss_words(lines: Sequence[tuple[str, Curve]]) -> ChartWords:
    """loss_figure's chart in words: a sentence per line, and the numbers drawn (at most MAX_ROWS per line)."""
    single = len(lines) == 1
    sentences = [curve_sentence(None if single else name, curve) for name, curve in lines]
    kind = "one run" if single else count(len(lines), "run")
    alt = f"Line chart of the training loss against the step, {kind}. " + " ".join(sentences)
    table: dict[str, list] = {} if single else {"run": []}
    table |= {"step": [], raw_label(lines[0][1].every) if single else "loss (mean of the steps)": [], SMOOTHED: []}
    raw_column = list(table)[-2]
    for name, curve in lines:
        rows = even_rows(len(curve), MAX_ROWS)
        if not single:
            table["run"] += [name] * len(rows)
        table["step"] += [int(curve.steps[i]) for i in rows]
        table[raw_column] += [_rounded(curve.raw[i]) for i in rows]
        table[SMOOTHED] += [_rounded(curve.smooth[i]) for i in rows]
    return ChartWords(alt=alt, summary=" ".join(sentences), numbers=table)


def _rounded(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


def epoch_words(epochs: Sequence[dict]) -> ChartWords:
    """epoch_figure's chart in words: the last epoch's test accuracy and losses, and how they moved."""
    if not epochs:
        return ChartWords("Chart of the losses and test accuracy per epoch: no epoch has ended yet.",
                          "No epoch has ended yet.")
    last = epochs[-1]
    words = (f"After epoch {last['epoch']} the test accuracy is {percent(last['test_accuracy'])}, "
             f"the train loss {number(last['train_loss'])} and the test loss {number(last['test_loss'])}.")
    if len(epochs) > 1:
        first = epochs[0]
        words += (f" Since epoch {first['epoch']} the test accuracy "
                  f"{trend(first['test_accuracy'], last['test_accuracy'], 0.002).replace('fell', 'dropped')}"
                  f" (from {percent(first['test_accuracy'])}).")
        best = max(epochs, key=lambda e: e["test_loss"] if not math.isfinite(e["test_loss"]) else -e["test_loss"])
        rising = last["test_loss"] > best["test_loss"] * 1.05 and last["train_loss"] < epochs[-2]["train_loss"]
        if rising and best is not last:
            words += (f" The test loss is higher than after epoch {best['epoch']} ({number(best['test_loss'])}) "
                      "while the train loss still falls: a sign of overfitting.")
    numbers = {
        "epoch": [e["epoch"] for e in epochs],
        "train loss": [_rounded(e["train_loss"]) for e in epochs],
        "test loss": [_rounded(e["test_loss"]) for e in epochs],
        "test accuracy (%)": [_rounded(e["test_accuracy"]) for e in epochs],
    }
    alt = f"Line chart of the train and test loss and the test accuracy per epoch, {count(len(epochs), 'epoch')}. "
    return ChartWords(alt=alt + words, summary=words, numbers=numbers)


def lr_finder_words(points: Sequence[Sequence[float]], suggested_lr: float, reason: str = "") -> ChartWords:
    """lr_finder_figure's chart in words: where the loss started, where it was lowest, where the test stopped,
    and the suggested rate with the finder's reason."""
    if not points:
        return ChartWords("Line chart of the loss against the learning rate: no point.",
                          f"The finder kept no point of its curve. It suggests {suggested_lr:g}. {reason}".strip())
    rates, losses = [p[0] for p in points], [p[1] for p in points]
    lowest = min(range(len(losses)), key=losses.__getitem__)
    start = f"{number(losses[0])} at learning rate {rates[0]:.2g}"
    if lowest == 0:
        curve = f"The smoothed loss was lowest at the start, {start}"
    else:
        curve = (f"The smoothed loss {trend(losses[0], losses[lowest])} from {start} to its lowest, "
                 f"{number(losses[lowest])}, at {rates[lowest]:.2g}")
    if lowest < len(losses) - 1:
        curve += f", then {trend(losses[lowest], losses[-1])} to {number(losses[-1])} at {rates[-1]:.2g}"
    curve += f". The star marks the suggested rate, {suggested_lr:g}."
    numbers = thinned({"learning rate": [float(f"{r:.3g}") for r in rates], "smoothed loss": [
        _rounded(v) for v in losses]})
    alt = "Line chart of the loss against the learning rate, on a log scale. " + curve
    return ChartWords(alt=alt, summary=f"{curve} {reason}".strip(), numbers=numbers)


def end_step(curve: Curve) -> int:
    """The last step a (non-empty) curve covers: the end of its last bucket of steps."""
    return int(curve.steps[-1]) + curve.every - 1 - curve.every // 2
