"""Draw the graph autograd recorded: walk ``grad_fn`` from an output back to its leaves, as DOT text."""

from __future__ import annotations

from collections.abc import Mapping

import torch

MAX_NODES = 200  # a safety cap; expressions are short, so real graphs stay far below it


def autograd_graph(output: torch.Tensor, leaves: Mapping[str, torch.Tensor], output_name: str = "f") -> str:
    """DOT text of the backward graph behind ``output``; ``leaves`` names the input tensors."""
    names = {id(t): name for name, t in leaves.items()}
    lines = [
        "digraph autograd {",
        '  rankdir="TB";',
        '  node [fontname="Helvetica", fontsize=11];',
        f'  out [label="{_escape(output_name)} = {_number(output)}", shape=box, style="rounded,filled", '
        'fillcolor="#d8f3dc"];',
    ]
    if output.grad_fn is None:
        lines.append('  note [label="no graph: the result does not depend on the inputs", shape=plaintext];')
        return "\n".join([*lines, "}"])

    ids: dict[int, str] = {}
    stack = [output.grad_fn]
    edges: list[tuple[object, str]] = []
    while stack and len(ids) < MAX_NODES:
        fn = stack.pop()
        if id(fn) in ids:
            continue
        node_id = ids[id(fn)] = f"n{len(ids)}"
        lines.append(f"  {node_id} {_label(fn, names)};")
        for child, _ in fn.next_functions:
            if child is None:  # an input that needs no gradient, e.g. a constant
                continue
            stack.append(child)
            edges.append((child, node_id))
    # Edges point forward (input -> operation -> output), the way the lecture draws a network.
    lines += [f"  {ids[id(child)]} -> {node_id};" for child, node_id in edges if id(child) in ids]
    lines.append(f"  {ids[id(output.grad_fn)]} -> out;")
    return "\n".join([*lines, "}"])


def _label(fn, names: Mapping[int, str]) -> str:
    variable = getattr(fn, "variable", None)  # AccumulateGrad holds the leaf tensor it fills in
    if variable is not None:
        name = names.get(id(variable), "leaf")
        label = f"{_escape(name)} = {_number(variable)}"
        return f'[label="{label}", shape=ellipse, style=filled, fillcolor="#dbe9ff"]'
    return f'[label="{_escape(type(fn).__name__)}", shape=box]'


def _number(t: torch.Tensor) -> str:
    return f"{t.item():.4g}" if t.numel() == 1 else f"tensor of {t.numel()}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
