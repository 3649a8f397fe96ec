"""Plotly figures for training curves. Plain Python: the pages only hand them to st.plotly_chart."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go

from core.engine.curves import MAX_POINTS, Curve, downsample, finite_or_none, raw_label
from core.views.chart_words import (
    MAX_ROWS,
    ChartWords,
    count,
    even_rows,
    joined,
    number,
    percent,
    significant,
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


# The gradient-flow charts: which quantity, its axis title, and whether it spans powers of ten.
LAYER_QUANTITIES = {
    "grad_norm": ("gradient norm", True),
    "update_ratio": ("update / weight", True),
    "dead_fraction": ("dead ReLUs (%)", False),
}


NO_DEAD_UNITS = "–<br>dead units are counted only after ReLU"


def layer_figure(stats: Sequence[tuple[int, Sequence[dict]]], quantity: str, height: int = 260) -> go.Figure:
    """One gradient-flow quantity over the steps, one line per layer (stats: (step, layers) measurements)."""
    title, log_axis = LAYER_QUANTITIES[quantity]
    fig = go.Figure()
    names = [layer["name"] for layer in stats[0][1]] if stats else []
    steps = [step for step, _ in stats]
    every = 1
    for i, name in enumerate(names):
        values = [_layer_value(layers[i][quantity], quantity) for _, layers in stats]
        if all(v is None for v in values):
            continue  # the output layer has no ReLUs to be dead
        xs, ys, every = downsample(steps, [math.nan if v is None else v for v in values], MAX_POINTS)
        fig.add_trace(go.Scatter(
            x=xs, y=finite_or_none(ys), mode="lines", name=name, line=dict(color=PALETTE[i % len(PALETTE)], width=2),
            hovertemplate="step %{x:.0f}<br>%{y:.3g}<extra>" + name + "</extra>",
        ))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10), uirevision="keep-zoom",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), yaxis_title=title,
        xaxis_title="step" if every == 1 else f"step (each point: the mean of {every} measurements)",
    )
    if log_axis:
        fig.update_yaxes(type="log", exponentformat="power")
    else:
        fig.update_yaxes(range=[0, 100])
    if quantity == "dead_fraction" and names and not fig.data:
        # tanh, sigmoid, GELU and leaky ReLU units never stop passing gradient (core.engine.gradient_flow).
        fig.add_annotation(text=NO_DEAD_UNITS, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return fig


def _layer_value(value: float | None, quantity: str) -> float | None:
    # A log axis cannot show 0 (a dead layer's gradient): leave a gap there, as for NaN.
    if value is None or not math.isfinite(value):
        return None
    if quantity == "dead_fraction":
        return 100.0 * value
    return value if value > 0 else None


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


# The gradient-flow charts in words: each quantity as a student says it, and where it stops being healthy.
LAYER_WORDS = {
    "grad_norm": "gradient norm",
    "update_ratio": "size of each step's update relative to the weights (update / weight)",
    "dead_fraction": "share of dead ReLUs",
}
SIMILAR_FACTOR = 10.0  # gradient norms within this factor of each other: of similar size in every layer
VANISHING_FACTOR = 100.0  # the first hidden layer's gradient this many times below the output's: vanishing
EXPLODING_FACTOR = 100.0  # the largest gradient norm grown this many times since the first measurement: exploding
HEALTHY_UPDATE = 1e-3  # update / weight: about a thousandth of the weight's size per step
UPDATE_FACTOR = 10.0  # this many times above or below HEALTHY_UPDATE: too big a step, or one that barely moves
MANY_DEAD = 50.0  # % of a layer's ReLUs dead: most of the layer passes no gradient


def layer_words(stats: Sequence[tuple[int, Sequence[dict]]], quantity: str) -> ChartWords:
    """layer_figure's chart in words: the last measurement per layer, which layer is largest and smallest, and
    whether the gradients vanish or explode, the steps are healthy, or the ReLUs die."""
    what = LAYER_WORDS[quantity]
    if not stats:
        return ChartWords(f"Line chart of the {what} per layer: no measurement yet.", "No measurement yet.")
    names = [layer["name"] for layer in stats[0][1]]
    columns = {name: [_layer_number(layers[i][quantity], quantity) for _, layers in stats]
               for i, name in enumerate(names)}
    if quantity == "dead_fraction":
        columns = {name: values for name, values in columns.items()
                   if any(layers[names.index(name)][quantity] is not None for _, layers in stats)}
    step, last = stats[-1]
    latest = {layer["name"]: layer[quantity] for layer in last if layer["name"] in columns}
    if quantity == "grad_norm":
        summary = _grad_norm_sentence(step, latest, names, stats)
    elif quantity == "update_ratio":
        summary = _update_sentence(step, latest)
    else:
        summary = _dead_sentence(step, latest, stats[0][0], {layer["name"]: layer[quantity] for layer in stats[0][1]})
    unit = " (%)" if quantity == "dead_fraction" else ""
    numbers = thinned({"step": [int(s) for s, _ in stats]} | {name + unit: v for name, v in columns.items()})
    shown = f" ({joined(list(columns))})" if columns else ""
    alt = (f"Line chart of the {what} per layer{shown} against the step, {count(len(stats), 'measurement')}. "
           + summary)
    return ChartWords(alt=alt, summary=summary, numbers=numbers if columns else {})


def _layer_number(value: float | None, quantity: str) -> float | None:
    """A measurement for the table: 4 significant digits, dead fractions in %, None where it is not a number."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{100.0 * value if quantity == 'dead_fraction' else value:.4g}")


def _split(latest: dict[str, float | None]) -> tuple[dict[str, float], list[str]]:
    finite = {name: v for name, v in latest.items() if v is not None and math.isfinite(v)}
    return finite, [name for name in latest if name not in finite]


def _grad_norm_sentence(step: int, latest: dict, names: list[str], stats) -> str:
    finite, broken = _split(latest)
    words = f"At step {step:,}"
    if broken:
        return f"{words} the gradient norm of {joined(broken)} is not a number: the gradients exploded."
    largest, smallest = max(finite, key=finite.get), min(finite, key=finite.get)
    words += (f" the gradient norm is largest in {largest} ({significant(finite[largest], 3)}) and smallest in "
              f"{smallest} ({significant(finite[smallest], 3)})")
    first_step, first = stats[0]
    first_largest = max((layer["grad_norm"] for layer in first if layer["grad_norm"] is not None
                         and math.isfinite(layer["grad_norm"])), default=0.0)
    zero = [name for name, v in finite.items() if v == 0]
    input_side, output_side = finite.get(names[0], 0.0), finite.get(names[-1], 0.0)
    if zero:
        return words + f"; no gradient reaches {joined(zero)} (0), so it stopped learning."
    if first_largest > 0 and finite[largest] > EXPLODING_FACTOR * first_largest:
        return (words + f"; it grew {finite[largest] / first_largest:,.0f} times since step {first_step:,}: "
                "the gradients are exploding.")
    if len(finite) > 1 and output_side > VANISHING_FACTOR * input_side:
        return (words + f"; it shrinks {output_side / input_side:,.0f} times from {names[-1]} back to {names[0]}: "
                "the gradients vanish towards the input.")
    spread = finite[largest] / finite[smallest]
    if len(finite) > 1 and spread <= SIMILAR_FACTOR:
        return words + f", within a factor of {spread:.1f} of each other: healthy."
    return words + (f", a factor of {spread:,.0f} apart." if len(finite) > 1 else ".")


def _update_sentence(step: int, latest: dict) -> str:
    finite, broken = _split(latest)
    words = f"At step {step:,}"
    if broken:
        return f"{words} the update of {joined(broken)} is not a number: the weights are broken."
    largest, smallest = max(finite, key=finite.get), min(finite, key=finite.get)
    most, least = significant(finite[largest], 3), significant(finite[smallest], 3)
    words += (f" a step moves the weights of {largest} the most ({most} of their size) and "
              f"those of {smallest} the least ({least}); about {HEALTHY_UPDATE:g} is healthy")
    big = [name for name, v in finite.items() if v > HEALTHY_UPDATE * UPDATE_FACTOR]
    still = [name for name, v in finite.items() if v == 0]
    small = [name for name, v in finite.items() if 0 < v < HEALTHY_UPDATE / UPDATE_FACTOR]
    verdicts = []
    if big:
        verdicts.append(f"steps too big in {joined(big)} (over {HEALTHY_UPDATE * UPDATE_FACTOR:g}): a sign of a "
                        "learning rate that is too high")
    if still:
        verdicts.append(f"no movement at all in {joined(still)}")
    if small:
        verdicts.append(f"tiny steps in {joined(small)} (under {HEALTHY_UPDATE / UPDATE_FACTOR:g}): slow learning")
    return words + ("; " + "; ".join(verdicts) if verdicts else ", and every layer is near it") + "."


def _dead_sentence(step: int, latest: dict, first_step: int, first: dict) -> str:
    if not latest:
        return "Dead units are counted only after ReLU, and no layer of this network has one."
    finite, _ = _split(latest)
    parts = [f"{percent(100.0 * v)} in {name}" for name, v in finite.items()]
    words = f"At step {step:,} the share of dead ReLUs is {joined(parts)}"
    many = [name for name, v in finite.items() if 100.0 * v >= MANY_DEAD]
    if many:
        grown = [name for name in many if first.get(name) is not None and 100.0 * first[name] < MANY_DEAD]
        since = f" (since step {first_step:,})" if grown and step != first_step else ""
        words += (f"; most units of {joined(many)} are dead{since} and pass no gradient: "
                  "a learning rate far too high kills them")
    elif finite and max(finite.values()) < 0.1:
        words += ": few, healthy"
    return words + "."


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
