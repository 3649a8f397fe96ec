"""Vega-Lite (Altair) charts for the Autograd page's first tab: the page's first screen needs no Plotly.

Plotly's browser code is a 4.7 MB chunk, loaded on the first page that draws a Plotly chart; Vega's is a
sixth of that. Plain Altair (no Streamlit): the page hands the chart to st.altair_chart.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from core.lessons.autograd_demos import FunctionCurve
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
