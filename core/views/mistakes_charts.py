"""Figures for the Mistakes page: confusion matrix, per-class accuracy, calibration, probabilities, activations.

Plain plotly and Altair (no Streamlit), so the figures' data can be checked in unit tests. The small bar charts
are Vega-Lite (Altair): measured in Chromium, the page's three Plotly charts took about half of its switch time.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.engine.calibration import Calibration
from core.lessons.mistakes import N_CLASSES, Predictions, confusion, most_confused_pairs, top_k
from core.views.chart_words import ChartWords, count, joined, number, percent, rounded
from core.views.palettes import (
    BLUE,
    NEUTRAL,
    RIGHT,
    RIGHT_MARK,
    RIGHT_SCALE,
    SEQUENTIAL,
    VERMILLION,
    WRONG,
    WRONG_MARK,
    WRONG_SCALE,
    colorscale,
    ink_on,
)

DIGITS = list(range(N_CLASSES))
ACTIVATION_SCALE = colorscale(SEQUENTIAL, reverse=True)  # light: quiet; dark: strongly active
WEAKEST_MARK = "▼"  # the weakest digit's bar: a mark as well as its colour
MATRIX_LEGEND = f"Blue cells marked {RIGHT_MARK}: right answers; orange cells: mistakes (the darker, the more)."


def _layout(fig: go.Figure, height: int, title: str | None = None) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        title=title,
        showlegend=False,
    )
    return fig


MATRIX_SELECTION = "cell"  # the confusion matrix's click selection: its points carry "true" and "predicted"


def confusion_chart(p: Predictions, normalize: bool = False, height: int = 470) -> alt.LayerChart:
    """Rows the true digit, columns the predicted one; mistakes in oranges, right answers in blues and marked ✓, each
    cell's count (or row %) written on it in the colour that reads best on it. A click selects the cell: its
    selection point holds true and predicted.

    Vega-Lite, not Plotly: the page's first screen then never loads Plotly's 4.7 MB of browser code.
    """
    counts = confusion(p)
    share = 100 * confusion(p, normalize=True)
    values = share if normalize else counts.astype(np.float64)
    diagonal = np.eye(N_CLASSES, dtype=bool)
    # Two colour scales so the large diagonal (right answers) does not wash out the shades of the mistakes.
    fills = np.empty(values.shape, dtype=object)
    for cells, scale in ((~diagonal, WRONG_SCALE), (diagonal, RIGHT_SCALE)):
        fills[cells] = [_shade(scale, v / _zmax(np.where(cells, values, np.nan))) for v in values[cells]]
    true, predicted = np.divmod(np.arange(N_CLASSES * N_CLASSES), N_CLASSES)
    frame = pd.DataFrame({
        "true": true, "predicted": predicted, "fill": fills.ravel(), "ink": [ink_on(f) for f in fills.ravel()],
        "label": [(f"{RIGHT_MARK} " if t == d else "") + (f"{v:.1f}" if normalize else f"{v:.0f}")
                  for t, d, v in zip(true, predicted, values.ravel(), strict=True)],
        "tip": [f"true {t}, predicted {d}: {c} images ({s:.1f} % of the {t}s), "
                f"{'right answers' if t == d else 'mistakes'}; click to show them"
                for t, d, c, s in zip(true, predicted, counts.ravel(), share.ravel(), strict=True)],
    })  # fmt: skip
    x = alt.X("predicted:O", title="predicted digit", axis=alt.Axis(orient="top", labelAngle=0))
    y = alt.Y("true:O", title="true digit")
    clicked = alt.selection_point(name=MATRIX_SELECTION, fields=["true", "predicted"], on="click")
    cells = alt.Chart(frame).mark_rect(stroke="white", strokeWidth=1, cursor="pointer").encode(
        x=x, y=y, color=alt.Color("fill:N", scale=None), tooltip=[alt.Tooltip("tip:N", title="cell")],
    ).add_params(clicked)
    numbers = alt.Chart(frame).mark_text(cursor="pointer").encode(
        x=x, y=y, text="label:N", color=alt.Color("ink:N", scale=None))
    return alt.layer(cells, numbers).properties(height=height)


def _shade(scale: list, fraction: float) -> str:
    # The colour a fraction of the way from the scale's first colour to its last, as #rrggbb.
    start, end = (np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for _, c in scale)
    rgb = np.rint(start + (end - start) * min(max(fraction, 0.0), 1.0)).astype(int)
    return "#" + "".join(f"{v:02x}" for v in rgb)


def _zmax(z: np.ndarray) -> float:
    finite = z[np.isfinite(z)]
    return float(max(finite.max(), 1)) if finite.size else 1.0


def _bars(frame: pd.DataFrame, y_title: str, y_domain: tuple[float, float], tooltip: str, height: int) -> alt.Chart:
    # One bar per digit, coloured by the frame's own `color` column, its value written above it.
    x = alt.X("digit:O", title=frame.attrs["x_title"], axis=alt.Axis(labelAngle=0))
    y = alt.Y("value:Q", title=y_title, scale=alt.Scale(domain=list(y_domain), clamp=True))
    bars = alt.Chart(frame).mark_bar().encode(
        x=x, y=y, color=alt.Color("color:N", scale=None), tooltip=[alt.Tooltip("tip:N", title=tooltip)])
    labels = alt.Chart(frame).mark_text(dy=-7).encode(x=x, y=y, text="label:N")
    return alt.layer(bars, labels).properties(height=height)


def accuracy_chart(accuracy: np.ndarray, height: int = 260) -> alt.LayerChart:
    """Per-class accuracy in percent as bars, the weakest digit orange and marked ▼."""
    accuracy = np.asarray(accuracy, dtype=np.float64)
    finite = accuracy[np.isfinite(accuracy)]
    worst = int(np.nanargmin(accuracy)) if finite.size else -1
    frame = pd.DataFrame({
        "digit": DIGITS, "value": np.nan_to_num(accuracy),
        "color": [VERMILLION if d == worst else BLUE for d in DIGITS],
        "label": [(f"{WEAKEST_MARK} " if d == worst else "") + (f"{a:.1f}" if np.isfinite(a) else "–")
                  for d, a in zip(DIGITS, accuracy, strict=True)],
        "tip": [f"digit {d}: {a:.2f} % right" if np.isfinite(a) else f"digit {d}: no test images"
                for d, a in zip(DIGITS, accuracy, strict=True)],
    })  # fmt: skip
    frame.attrs["x_title"] = "true digit"
    low = float(finite.min()) if finite.size else 0.0
    # Start the axis below the weakest digit so differences of a few percent stay visible.
    return _bars(frame, "% right", (max(0.0, low - 10), 104), "accuracy", height)


def probability_chart(probs: np.ndarray, true: int | None = None, height: int = 260) -> alt.LayerChart:
    """The network's ten probabilities for one image; the true digit blue and marked ✓, a wrong top answer orange
    and marked ✗ (without `true`: the top answer blue)."""
    probs = np.asarray(probs, dtype=np.float64).ravel()
    top = int(probs.argmax())
    colors, marks = [NEUTRAL] * N_CLASSES, [""] * N_CLASSES
    if true is not None:
        colors[top], marks[top] = (WRONG, f"{WRONG_MARK} ") if top != true else (RIGHT, f"{RIGHT_MARK} ")
        colors[true], marks[true] = RIGHT, f"{RIGHT_MARK} "
    else:
        colors[top] = BLUE
    frame = pd.DataFrame({
        "digit": DIGITS, "value": 100 * probs, "color": colors,
        "label": [f"{mark}{100 * v:.1f}" for mark, v in zip(marks, probs, strict=True)],
        "tip": [f"digit {d}: {100 * v:.2f} %" for d, v in zip(DIGITS, probs, strict=True)],
    })  # fmt: skip
    frame.attrs["x_title"] = "digit"
    return _bars(frame, "probability (%)", (0, 112), "probability", height)


def activation_figure(grid: np.ndarray, title: str, height: int = 220) -> go.Figure:
    """One layer's activations as a grid of cells (neuron numbers in the hover), dark = strongly active (viridis,
    light to dark)."""
    grid = np.asarray(grid, dtype=np.float64)
    rows, cols = grid.shape
    neuron = np.arange(rows * cols).reshape(rows, cols).astype(float)
    neuron[~np.isfinite(grid)] = np.nan
    fig = go.Figure(go.Heatmap(
        z=grid, customdata=neuron, colorscale=ACTIVATION_SCALE, zmin=0, zmax=_zmax(grid), xgap=1, ygap=1,
        hovertemplate="neuron %{customdata:.0f}: %{z:.3f}<extra></extra>", colorbar={"thickness": 10},
    ))  # fmt: skip
    fig.update_xaxes(visible=False, fixedrange=True)
    fig.update_yaxes(visible=False, autorange="reversed", fixedrange=True, scaleanchor="x")
    return _layout(fig, height, title)


def reliability_figure(c: Calibration, height: int = 320) -> go.Figure:
    """Reliability diagram: per confidence bin, the % right (bars) against the diagonal of a calibrated network."""
    centers = (c.edges[:-1] + c.edges[1:]) / 2 * 100
    used = c.counts > 0
    # Bars below the diagonal: surer than right (over-confident); above it: under-confident.
    colors = [VERMILLION if conf > acc else BLUE
              for conf, acc in zip(c.confidence[used], c.accuracy[used], strict=True)]
    fig = go.Figure(go.Bar(
        x=centers[used], y=100 * c.accuracy[used], width=100 / len(c.counts) * 0.9, marker_color=colors,
        customdata=np.stack([100 * c.confidence[used], c.counts[used]], axis=1) if used.any() else None,
        hovertemplate="sure %{customdata[0]:.1f} % on average<br>right %{y:.1f} %"
                      "<br>%{customdata[1]:,} images<extra></extra>",
    ))  # fmt: skip
    fig.add_trace(go.Scatter(x=[0, 100], y=[0, 100], mode="lines", line=dict(color=NEUTRAL, dash="dash"),
                             hoverinfo="skip"))
    fig.update_xaxes(title="how sure the network was (%)", range=[0, 100], fixedrange=True)
    fig.update_yaxes(title="% right", range=[0, 100], fixedrange=True)
    return _layout(fig, height)


# --- The same charts in words (core.views.chart_words) --------------------------------------------------
def confusion_words(p: Predictions, normalize: bool = False, most: int = 3) -> ChartWords:
    """confusion_chart in words: the most common mistakes and how many are right; the matrix as a table."""
    counts = confusion(p)
    total, right = int(counts.sum()), int(np.trace(counts))
    rows = counts.sum(axis=1)
    pairs = most_confused_pairs(p, k=most)
    if not total:
        summary = "There are no test predictions yet."
    elif not pairs:
        summary = f"No mistakes: all {total:,} right."
    else:
        first, *others = pairs
        summary = (f"The most common mistake: {first.true} read as {first.predicted}, {count(first.count, 'time')} "
                   f"({percent(100 * first.count / rows[first.true])} of the {first.true}s)")
        if others:
            summary += "; then " + joined([f"{q.true} read as {q.predicted} ({count(q.count, 'time')})"
                                           for q in others])
        summary += f". {right:,} of {total:,} right."
    shown = "the % of each true digit" if normalize else "the number of test images"
    alt = (f"Confusion matrix: rows the true digit, columns the network's answer, each cell {shown}; right answers "
           f"lie on the diagonal. {summary}")
    values = 100 * confusion(p, normalize=True) if normalize else counts
    numbers = {"true digit": DIGITS, "test images": [int(n) for n in rows]}
    numbers |= {f"read as {d} (%)" if normalize else f"read as {d}": [rounded(v, 1) if normalize else int(v)
                                                                      for v in values[:, d]] for d in DIGITS}
    return ChartWords(alt=alt, summary=summary, numbers=numbers)


def accuracy_words(accuracy: np.ndarray) -> ChartWords:
    """accuracy_chart in words: the best and the weakest digit."""
    accuracy = np.asarray(accuracy, dtype=np.float64)
    known = [(d, float(a)) for d, a in zip(DIGITS, accuracy, strict=True) if np.isfinite(a)]
    if known:
        best = max(known, key=lambda da: da[1])  # ties: the lower digit, as accuracy_chart marks the weakest
        worst = min(known, key=lambda da: da[1])
        summary = f"Best recognised: {best[0]} ({percent(best[1])} right); weakest: {worst[0]} ({percent(worst[1])})."
        missing = [str(d) for d, a in zip(DIGITS, accuracy, strict=True) if not np.isfinite(a)]
        if missing:
            summary += f" No test images of {joined(missing)}."
    else:
        summary = "No digit has test images."
    alt = f"Bar chart of the % right for each true digit, the weakest digit marked. {summary}"
    return ChartWords(alt=alt, summary=summary,
                      numbers={"true digit": DIGITS, "% right": [rounded(a, 2) for a in accuracy]})


def probability_words(probs: np.ndarray, true: int | None = None, top: int = 3) -> ChartWords:
    """probability_chart in words: the top answers (and the true digit, when known)."""
    probs = np.asarray(probs, dtype=np.float64).ravel()
    ranked = top_k(probs, top)
    summary = "Top three: " + " · ".join(f"**{d}**: {percent(100 * q)}" for d, q in ranked) + "."
    (guess, sure), *others = ranked
    alt = (f"Bar chart of the network's probability for each digit: it says {guess}, {percent(100 * sure)} sure; "
           f"then {joined([f'{d} ({percent(100 * q)})' for d, q in others])}.")
    if true is not None:
        summary += f" True digit: **{true}**."
        verdict = "right" if guess == true else "wrong"
        alt += f" The true digit is {true}, with {percent(100 * probs[true])}: the answer is {verdict}."
    return ChartWords(alt=alt, summary=summary,
                      numbers={"digit": DIGITS, "probability (%)": [rounded(100 * q, 2) for q in probs]})


def activation_words(values: np.ndarray, name: str, strongest: int = 3) -> ChartWords:
    """activation_figure in words: how many neurons fire, and the strongest ones."""
    values = np.asarray(values, dtype=np.float64).ravel()
    active = int(np.count_nonzero(values > 0))
    top = [(i, v) for i, v in top_k(values, strongest) if v > 0]
    summary = ("Most active: " + joined([f"neuron {i} ({number(v)})" for i, v in top]) + "." if top
               else "No neuron is active.")
    alt = (f"{name}: its {values.size} neurons as a grid of squares, darker where more active; {active} of "
           f"{values.size} active. {summary}")
    return ChartWords(alt=alt, summary=summary,
                      numbers={"neuron": list(range(values.size)), "activation": [rounded(v) for v in values]})


def _band(c: Calibration, i: int) -> str:
    return f"{100 * c.edges[i]:.0f}–{100 * c.edges[i + 1]:.0f} %"


def reliability_words(c: Calibration) -> ChartWords:
    """reliability_figure in words: where most answers fall and how many bins are surer than right."""
    used = c.counts > 0
    n = int(c.counts.sum())
    if n:
        busiest = int(np.argmax(c.counts))
        over = int(np.count_nonzero(c.confidence[used] > c.accuracy[used]))
        summary = (f"Most answers, {int(c.counts[busiest]):,} of {n:,}, were given {_band(c, busiest)} sure, and "
                   f"{percent(100 * c.accuracy[busiest])} of them were right. Bands below the diagonal (surer "
                   f"than right): {over} of {int(used.sum())}.")
    else:
        summary = "There are no predictions to judge."
    alt = ("Reliability diagram: for each band of confidence, the % of the network's answers that were right, "
           f"against a diagonal where it would be exactly as right as it is sure. {summary}")
    bands = np.flatnonzero(used)
    numbers = {
        "how sure (band)": [_band(c, i) for i in bands],
        "answers": [int(c.counts[i]) for i in bands],
        "mean confidence (%)": [rounded(100 * c.confidence[i], 2) for i in bands],
        "% right": [rounded(100 * c.accuracy[i], 2) for i in bands],
    }
    return ChartWords(alt=alt, summary=summary, numbers=numbers)


WEIGHT_COLOURS = "red where ink pushes the neuron up, blue where ink pushes it down"


def weights_words(weights: np.ndarray, per_neuron: bool, limit: float, across: int, strongest: int = 3) -> ChartWords:
    """The first layer's weight pictures (core.lessons.inside.weight_picture) in words: the neurons with the
    strongest and the faintest weights, and each neuron's weights summed up in the table."""
    weights = np.asarray(weights, dtype=np.float64).reshape(len(weights), -1)
    size = np.abs(weights).mean(axis=1)
    order = np.argsort(-size, kind="stable")
    summary = ("Strongest weights (mean size): " + joined([f"neuron {i} ({number(size[i], 3)})"
                                                           for i in order[:strongest]])
               + f"; faintest: neuron {order[-1]} ({number(size[order[-1]], 3)}).") if len(weights) else ""
    scale = ("each neuron on its own colour scale" if per_neuron
             else f"one colour scale for all, full colour at ±{number(limit, 3)}")
    alt = (f"{count(len(weights), 'small picture')}, {across} across, one per neuron of the first hidden layer: its "
           f"{weights.shape[1]} weights laid out like the pixels they multiply, {WEIGHT_COLOURS}; {scale}. {summary}")
    numbers = {
        "neuron": list(range(len(weights))),
        "mean size of its weights": [rounded(v, 5) for v in size],
        "largest weight": [rounded(v, 5) for v in weights.max(axis=1, initial=-np.inf)],
        "smallest weight": [rounded(v, 5) for v in weights.min(axis=1, initial=np.inf)],
    }
    return ChartWords(alt=alt, summary=summary, numbers=numbers)


def neuron_weights_alt(neuron: int, activation: float) -> str:
    """The alt of one neuron's weight picture beside how strongly it fires."""
    return f"The weights of neuron {neuron}, which fires at {number(activation)} for this digit: {WEIGHT_COLOURS}."
