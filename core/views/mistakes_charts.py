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
from core.lessons.mistakes import N_CLASSES, Predictions, confusion
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
