"""The gradient-flow charts (Train page): one quantity per chart over the steps, one line per layer, and the same
measurements in words (which layer's gradient is largest, vanishing, exploding, dead ReLUs)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

from core.engine.curves import MAX_POINTS, downsample, finite_or_none
from core.views.chart_words import ChartWords, count, joined, percent, significant, thinned
from core.views.palettes import CATEGORICAL

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
            x=xs, y=finite_or_none(ys), mode="lines", name=name,
            line=dict(color=CATEGORICAL[i % len(CATEGORICAL)], width=2),
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
