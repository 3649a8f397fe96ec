"""The lecture's picture of the network, 784 → 128 → 64 → 10, as DOT text with what each layer "sees"."""

from __future__ import annotations

from dataclasses import dataclass

from core.engine.network_size import parameter_counts
from core.views.chart_words import ChartWords, count, joined
from core.views.palettes import NEUTRAL


@dataclass(frozen=True)
class DiagramLayer:
    name: str
    units: int
    sees: str  # what one neuron of this layer responds to, in the lecture's words


LECTURE_LAYERS = (
    DiagramLayer("Input", 784, "one pixel each: the 28×28 image, flattened into 784 brightness values"),
    DiagramLayer("Hidden 1", 128, "a weighted look at all 784 pixels: simple strokes and edges in some place"),
    DiagramLayer("Hidden 2", 64, "combinations of those strokes: loops, bars, corners, parts of digits"),
    DiagramLayer("Output", 10, "one score (logit) per digit 0–9; softmax turns the scores into probabilities"),
)


def network_dot(layers: tuple[DiagramLayer, ...] = LECTURE_LAYERS, shown: int = 4) -> str:
    """DOT text: each layer a column of a few neurons and a "⋮", fully connected to the next one."""
    lines = [
        "digraph network {",
        '  rankdir="LR"; splines=false; nodesep=0.08; ranksep=1.3;',
        '  node [shape=circle, width=0.32, label="", style=filled, fontname="Helvetica"];',
        f'  edge [color="{NEUTRAL}", arrowsize=0.4, penwidth=0.6];',  # 4.5:1 on white (core.views.palettes)
    ]
    colours = ("#dbe9ff", "#ffe8cc", "#ffe8cc", "#d8f3dc")
    for i, layer in enumerate(layers):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(
            f'    label="{layer.name}\\n{layer.units} neurons"; color="#d0d7de"; fontname="Helvetica";'
        )
        for j in range(shown):
            lines.append(f'    l{i}n{j} [fillcolor="{colours[i % len(colours)]}"];')
        lines.append(f'    l{i}more [shape=plaintext, style="", label="⋮ {layer.units - shown} more"];')
        lines.append("  }")
    for i, params in enumerate(parameter_counts([layer.units for layer in layers])):
        for a in range(shown):
            for b in range(shown):
                # One labelled edge per layer pair carries the count of weights it stands for.
                label = (
                    f' [label="{params:,} weights", fontsize=10, fontcolor="#57606a"]' if a == b == 0 else ""
                )
                lines.append(f"  l{i}n{a} -> l{i + 1}n{b}{label};")
        lines.append(f"  l{i}more -> l{i + 1}more [style=invis];")
    return "\n".join([*lines, "}"])


def network_words(layers: tuple[DiagramLayer, ...] = LECTURE_LAYERS, activation: str = "ReLU") -> ChartWords:
    """network_dot's diagram in words: the layers left to right, what connects them, and the table of what each
    layer's neurons see (the page shows it under the diagram)."""
    params = parameter_counts([layer.units for layer in layers])
    sizes = [f"{layer.name} ({count(layer.units, 'neuron')})" for layer in layers]
    pairs = zip(params, layers[:-1], layers[1:], strict=True)
    links = joined([f"{n:,}{' weights and biases' if i == 0 else ''} between {a.name} and {b.name}"
                    for i, (n, a, b) in enumerate(pairs)])
    alt = (f"Diagram of the network, left to right: {joined(sizes)}. Each layer is fully connected to the next, "
           f"with {links}. A few neurons of each layer are drawn; dots stand for the rest.")
    summary = (f"{' → '.join(str(layer.units) for layer in layers)}, with {activation} between the layers: "
               f"{sum(params):,} weights and biases to learn. Each layer only sees the one before it:")
    numbers = {"Layer": [layer.name for layer in layers], "Neurons": [layer.units for layer in layers],
               "What one neuron sees": [layer.sees for layer in layers]}
    return ChartWords(alt=alt, summary=summary, numbers=numbers)
