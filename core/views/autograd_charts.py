"""The Autograd page's charts, each with its words (core.views.chart_words): the tangent of example 1 (Vega-Lite),
the gradient bars of example 2, the function and its derivative of example 4 (Plotly) and the graph autograd
recorded (DOT, from core.lessons.autograd_graph).

Vega-Lite for the first tab: Plotly's browser code is a 4.7 MB chunk, loaded on the first page that draws a Plotly
chart; Vega's is a sixth of that. Plain Altair and plotly (no Streamlit): the page hands the charts to
pages/ui/charts.chart.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from graphlib import TopologicalSorter

import altair as alt
import pandas as pd
import plotly.graph_objects as go

from core.lessons.autograd_demos import FunctionCurve, SumOfSquaresResult
from core.views.chart_words import ChartWords, count, joined, rounded, significant, thinned
from core.views.palettes import CATEGORICAL


def tangent_chart(curve: FunctionCurve, names: Sequence[str], point: tuple[float, float], point_name: str,
                  y_range: tuple[float, float], height: int = 340) -> alt.LayerChart:
    """The curve (solid) and its second line (dashed) named `names`, and the point marked; legend above."""
    lines = pd.concat([pd.DataFrame({"x": curve.xs, "y": ys, "line": name})
                       for name, ys in zip(names, (curve.ys, curve.extra), strict=True)])
    legend = alt.Legend(orient="top", title=None, labelLimit=400)
    color = alt.Color("line:N", sort=list(names), legend=legend, scale=alt.Scale(range=list(CATEGORICAL[:2])))
    y = alt.Y("y:Q", title="y", scale=alt.Scale(domain=list(y_range), clamp=True))
    drawn = alt.Chart(lines).mark_line(clip=True).encode(
        x=alt.X("x:Q", title="x"), y=y, color=color,
        strokeDash=alt.StrokeDash("line:N", sort=list(names), legend=None, scale=alt.Scale(range=[[1, 0], [6, 4]])),
    )
    marked = alt.Chart(pd.DataFrame({"x": [point[0]], "y": [point[1]], "line": [point_name]})).mark_point(
        filled=True, size=90, color="black").encode(x="x:Q", y="y:Q", tooltip=["x", "y"])
    return alt.layer(drawn, marked).properties(height=height)


def _figure(height: int = 340) -> go.Figure:
    fig = go.Figure()
    # Legend above the plot: below it, it covers the x-axis labels.
    legend = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend=legend)
    return fig


def gradient_figure(r: SumOfSquaresResult, height: int = 280) -> go.Figure:
    """Example 2: autograd's gradient beside 2x, one pair of bars per element."""
    labels = [f"x[{i}]" for i in range(len(r.x))]
    fig = _figure(height)
    fig.add_bar(x=labels, y=r.grad, name="gradient from autograd")
    fig.add_bar(x=labels, y=r.hand, name="2x by hand")
    return fig


def function_figure(curve: FunctionCurve, height: int = 340) -> go.Figure:
    """Example 4: f (solid) and df/dx from autograd (dashed) over the range of x."""
    fig = _figure(height)
    fig.add_scatter(x=curve.xs, y=curve.ys, name="f(x)", mode="lines")
    fig.add_scatter(x=curve.xs, y=curve.extra, name="df/dx from autograd", mode="lines", line={"dash": "dash"})
    return fig


# --- The same charts in words (core.views.chart_words) --------------------------------------------------
def tangent_words(curve: FunctionCurve, names: Sequence[str], point: tuple[float, float], slope: float) -> ChartWords:
    """tangent_chart in words: where the point is, and what the tangent's slope says there."""
    x, y = point
    if slope > 0:
        how = f"rises with slope {significant(slope)}: there y grows {significant(slope)} times as fast as x"
    elif slope < 0:
        how = f"falls with slope {significant(slope)}: there y shrinks {significant(-slope)} times as fast as x grows"
    else:
        how = "is flat (slope 0): the curve turns there"
    summary = f"At x = {significant(x)} the curve is at y = {significant(y)}, and its tangent {how}."
    alt = (f"Line chart of {names[0]} for x from {significant(curve.xs[0])} to {significant(curve.xs[-1])}, with "
           f"its tangent at x = {significant(x)} dashed and the point marked. {summary}")
    numbers = thinned({"x": [rounded(v) for v in curve.xs], "y": [rounded(v) for v in curve.ys],
                       "tangent": [rounded(v) for v in curve.extra]})
    return ChartWords(alt=alt, summary=summary, numbers=numbers)


def gradient_words(r: SumOfSquaresResult) -> ChartWords:
    """gradient_figure in words: whether the bars of autograd and of 2x agree, and the largest and smallest."""
    labels = [f"x[{i}]" for i in range(len(r.x))]
    high = max(range(len(r.grad)), key=lambda i: r.grad[i])
    low = min(range(len(r.grad)), key=lambda i: r.grad[i])
    if r.agree:
        summary = f"For {'the element' if len(r.x) == 1 else f'all {len(r.x)} elements'} the gradient from autograd "
        summary += "equals 2x: each pair of bars is the same height."
    else:
        differ = [label for label, g, h in zip(labels, r.grad, r.hand, strict=True) if g != h]
        summary = f"The gradient from autograd differs from 2x at {joined(differ)}."
    if len(r.x) > 1:
        summary += (f" The largest is {significant(r.grad[high])} at {labels[high]}, the smallest "
                    f"{significant(r.grad[low])} at {labels[low]}.")
    alt = f"Bar chart of the gradient of sum(x²) from autograd beside 2x, for {count(len(r.x), 'element')}. {summary}"
    numbers = {"element": labels, "x": r.x, "gradient from autograd": r.grad, "2x by hand": r.hand}
    return ChartWords(alt=alt, summary=summary, numbers=numbers)


def _crossings(xs: Sequence[float], ys: Sequence[float | None]) -> list[float]:
    # Where a line with gaps (None) goes from one side of 0 to the other, by linear interpolation.
    found = []
    for (x0, y0), (x1, y1) in zip(zip(xs, ys, strict=True), zip(xs[1:], ys[1:], strict=True), strict=False):
        if y0 is None or y1 is None:
            continue
        if y0 == 0 and y1 != 0 and found[-1:] != [x0]:
            found.append(x0)  # exactly 0 at a sample: counted once, where it leaves 0
        elif y0 * y1 < 0:
            found.append(x0 + (x1 - x0) * y0 / (y0 - y1))
    return found


def function_words(name: str, curve: FunctionCurve, most: int = 6) -> ChartWords:
    """function_figure in words: the range of f, where df/dx crosses 0 (there f turns), and its gaps."""
    xs = curve.xs
    span = f"x from {significant(xs[0])} to {significant(xs[-1])}"
    defined = [(x, y) for x, y in zip(xs, curve.ys, strict=True) if y is not None]
    if not defined:
        summary = f"f is undefined (or infinite) everywhere for {span}."
    else:
        (low_x, low), (high_x, high) = min(defined, key=lambda p: p[1]), max(defined, key=lambda p: p[1])
        summary = (f"For {span}, f goes from {significant(low)} (at x = {significant(low_x)}) to {significant(high)} "
                   f"(at x = {significant(high_x)}).")
        turns = _crossings(xs, curve.extra)
        slopes = [d for d in curve.extra if d is not None]
        if turns:
            named = [significant(t) for t in turns[:most]]
            if len(turns) > most:
                named.append(f"{len(turns) - most} more places")
            summary += f" df/dx crosses 0 at x ≈ {joined(named)}: there f turns."
        elif slopes and min(slopes) >= 0:
            summary += " df/dx is never below 0 here: f only rises."
        elif slopes and max(slopes) <= 0:
            summary += " df/dx is never above 0 here: f only falls."
        gaps = len(xs) - len(defined)
        if gaps:
            summary += f" f is undefined (or infinite) at {gaps} of {len(xs)} points, which are left out."
    alt = f"Line chart of f = {name} (solid) and of df/dx from autograd (dashed), {span}. {summary}"
    numbers = thinned({"x": [rounded(v) for v in xs], "f(x)": [rounded(v) for v in curve.ys],
                       "df/dx": [rounded(v) for v in curve.extra]})
    return ChartWords(alt=alt, summary=summary, numbers=numbers)


# One line of the DOT text core.lessons.autograd_graph writes: a node with its label, or an arrow.
_NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
_ARROW = re.compile(r"^\s*(\w+) -> (\w+);$")
_TIMES = {1: "", 2: " twice"}


def graph_words(dot: str) -> ChartWords:
    """The graph autograd recorded (DOT from core.lessons.autograd_graph) in words: which input or operation
    feeds which, from the inputs to f; the arrows as a table."""
    labels, leaves, arrows = {}, set(), []
    for line in dot.splitlines():
        if node := _NODE.match(line):
            labels[node[1]] = re.sub(r"\\(.)", r"\1", node[2])
            if "shape=ellipse" in node[3]:
                leaves.add(node[1])
        elif arrow := _ARROW.match(line):
            arrows.append((arrow[1], arrow[2]))
    if "out" not in labels:
        return ChartWords("Graph autograd recorded: nothing to show.", "")
    if not arrows:
        summary = f"No graph: {labels['out']} does not depend on the inputs."
        return ChartWords(f"Graph autograd recorded. {summary}", summary)
    order = list(TopologicalSorter({node: [] for node in labels} | _feeders(arrows)).static_order())
    names = _distinct({node: labels[node] for node in order})
    operations = [node for node in order if node not in leaves and node != "out"]
    kinds = Counter(labels[node] for node in operations)
    inputs = sorted(names[n] for n in order if n in leaves)
    summary = (f"Autograd recorded {count(len(operations), 'operation')} from {joined(inputs)} to {labels['out']}: "
               f"{joined([kind if n == 1 else f'{kind} ×{n}' for kind, n in kinds.items()])}. backward() walks the "
               "arrows the other way, from f back to the inputs.")
    feeds = []
    for node in order:
        targets = Counter(b for a, b in arrows if a == node)  # x*x: x feeds one MulBackward0 twice
        if targets:
            verb = "gives" if list(targets) == ["out"] else "feeds"
            feeds.append(f"{names[node]} {verb} " + joined([names[t] + _TIMES.get(k, f" {k} times")
                                                             for t, k in targets.items()]))
    alt = f"Graph of the operations autograd recorded, arrows from the inputs to f: {'; '.join(feeds)}."
    numbers = {"from": [names[a] for a, _ in arrows], "to": [names[b] for _, b in arrows]}
    return ChartWords(alt=alt, summary=summary, numbers=numbers)


def _feeders(arrows: list[tuple[str, str]]) -> dict[str, list[str]]:
    # Lists in the DOT's order, not sets: the words must not change with Python's string hashing.
    feeders: dict[str, list[str]] = {}
    for a, b in arrows:
        if a not in feeders.setdefault(b, []):
            feeders[b].append(a)
    return feeders


def _distinct(labels: dict[str, str]) -> dict[str, str]:
    # Two operations of one kind (two MulBackward0) are numbered in the order given, so the words tell them apart.
    total, seen, names = Counter(labels.values()), Counter(), {}
    for node, label in labels.items():
        seen[label] += 1
        names[node] = f"{label} ({seen[label]})" if total[label] > 1 else label
    return names
