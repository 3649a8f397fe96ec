"""One training step as pictures and words: the activations, the softmax bars, the gradients and the update.

Pictures are RGB arrays (st.image draws them at once, without Plotly's chunk); the one chart is the softmax's
bars before and after the step. The words follow the lecture's loop: make a guess, check, adjust, repeat.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from core.engine.config import SETTINGS
from core.lessons.inside import diverging_rgb, grid_shape, image_grid, symmetric_limit
from core.lessons.mistakes import enlarge
from core.lessons.one_step import LayerStep, OneStep, top_units
from core.views.chart_words import ChartWords, joined, percent, rounded, significant
from core.views.mistakes_view import digit_alt
from core.views.palettes import BLUE, NEUTRAL

FIRST_LAYER_UNITS = 8  # first-layer gradients shown as 28×28 pictures: the units the step changes most
GRID_PIXELS = 12  # screen pixels per unit in an activation grid
WORDS = {
    "guess": "**1. Make a guess (forward).** The digit's 784 pixels go through each layer: weighted sums, then "
             "{activation}. Each square below is one unit; **red** is positive, **blue** negative, white 0.",
    "check": "**2. Check if right (the loss).** Softmax turns the 10 scores into probabilities; the loss is "
             "−log(probability of the right digit): near 0 when sure and right, large when wrong.",
    "adjust": "**3. Adjust the thinking (backward, then the update).** The chain rule sends the loss back "
              "through every layer: each weight's gradient says how the loss changes when that weight grows. "
              "**Red**: growing it raises the loss; **blue**: growing it lowers the loss. The update moves every "
              "weight a step against its gradient: new weight = weight − learning rate × gradient.",
    "repeat": "**4. Repeat.** The same digit, guessed again by the adjusted network. Training repeats this step "
              "for batches of 64 digits, thousands of times.",
}


def step_words(step: OneStep) -> dict[str, str]:
    """The lecture's four parts of the loop, for this step's activation."""
    activation = SETTINGS["activation"].choice_labels[step.activation]
    return {part: text.format(activation=activation) for part, text in WORDS.items()}


def digit_picture(image: np.ndarray, scale: int = 6) -> np.ndarray:
    """The 28×28 digit, enlarged crisply."""
    return enlarge(np.asarray(image, dtype=np.uint8), scale)


def activation_picture(values: torch.Tensor, scale: int = GRID_PIXELS) -> np.ndarray:
    """A layer's units as a grid of coloured squares (128 → 8 × 16), empty places grey."""
    values = values.detach().double().numpy()
    rows, cols = grid_shape(values.size)
    cells = np.full(rows * cols, np.nan)
    cells[: values.size] = values
    grid = cells.reshape(rows, cols)
    rgb = diverging_rgb(np.nan_to_num(grid), symmetric_limit(values, 100))
    rgb[np.isnan(grid)] = 200
    return enlarge(rgb, scale)


def gradient_heatmap(grad_weight: torch.Tensor, height: int = 192) -> np.ndarray:
    """A weight gradient [out, in] as a heatmap: one row per unit, one column per input, scaled to ~`height`."""
    grad = grad_weight.detach().double().numpy()
    scale = max(1, min(12, height // grad.shape[0], 768 // grad.shape[1]))
    return enlarge(diverging_rgb(grad, symmetric_limit(grad, 99.5)), scale)


def bias_picture(grad_bias: torch.Tensor) -> np.ndarray:
    """A bias gradient as one row of coloured squares."""
    grad = grad_bias.detach().double().numpy()[None, :]
    return enlarge(diverging_rgb(grad, symmetric_limit(grad, 100)), max(2, min(12, 768 // grad.shape[1])))


def first_layer_pictures(grad_weight: torch.Tensor, count: int = FIRST_LAYER_UNITS) -> tuple[np.ndarray, list[int]]:
    """The units whose 784 incoming weights the step changes most, each gradient laid out as 28×28, side by side
    (torchvision's make_grid) on one colour scale; and which units they are."""
    units = top_units(grad_weight, count)
    grads = grad_weight[units].detach().double().numpy().reshape(-1, 28, 28)
    rgb = enlarge_each(diverging_rgb(grads, symmetric_limit(grads, 99.5)), 3)
    return image_grid(rgb, cols=len(units), gap=4, fill=255), units


def enlarge_each(images: np.ndarray, scale: int) -> np.ndarray:
    """Images [n, h, w, c], each enlarged crisply."""
    return images.repeat(scale, axis=1).repeat(scale, axis=2)


def probability_figure(step: OneStep, height: int = 260) -> go.Figure:
    """Softmax's 10 probabilities before and after the step, the right digit marked."""
    digits = [str(d) for d in range(10)]
    fig = go.Figure([
        go.Bar(x=digits, y=(100 * step.probabilities).tolist(), name="before the step", marker_color=NEUTRAL),
        go.Bar(x=digits, y=(100 * step.probabilities_after).tolist(), name="after the step", marker_color=BLUE),
    ])
    fig.add_annotation(x=str(step.label), y=100 * float(max(step.probabilities[step.label],
                                                            step.probabilities_after[step.label])),
                       text="right digit", showarrow=True, arrowhead=2, ay=-30)
    fig.update_layout(height=height, barmode="group", margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
                      xaxis_title="digit", yaxis_title="probability (%)", yaxis_range=[0, 105])
    return fig


def outcome_text(step: OneStep) -> str:
    """What the step did, in one sentence: the guess and the loss before and after."""
    before = f"{step.predicted} ({100 * float(step.probabilities[step.predicted]):.1f} % sure)"
    after = f"{step.predicted_after} ({100 * float(step.probabilities_after[step.predicted_after]):.1f} % sure)"
    right = 100 * float(step.probabilities[step.label]), 100 * float(step.probabilities_after[step.label])
    return (f"With learning rate {step.lr:g}, the guess went from {before} to {after}; the right digit, "
            f"{step.label}, from {right[0]:.1f} % to {right[1]:.1f} %, and the loss from {step.loss:.3f} to "
            f"{step.loss_after:.3f}.")


def gradient_caption(name: str, grad_weight: torch.Tensor) -> str:
    """A weight gradient's shape and size, in words."""
    out, inputs = grad_weight.shape
    return (f"{name}: {out} units × {inputs} inputs, gradient norm {float(grad_weight.norm()):.3g}, colours at "
            f"±{symmetric_limit(grad_weight.detach().double().numpy(), 99.5):.2g}")


# --- The same pictures and chart in words (core.views.chart_words) ---------------------------------------
GRADIENT_COLOURS = "red where growing a weight raises the loss, blue where it lowers it"


def probability_words(step: OneStep) -> ChartWords:
    """probability_figure in words: the right digit's probability and the guess, before and after the step."""
    before, after = step.probabilities.double(), step.probabilities_after.double()
    summary = (f"The right digit, {step.label}: {percent(100 * float(before[step.label]))} before the step, "
               f"{percent(100 * float(after[step.label]))} after it. The guess: {step.predicted} "
               f"({percent(100 * float(before[step.predicted]))}) before, {step.predicted_after} "
               f"({percent(100 * float(after[step.predicted_after]))}) after.")
    alt = f"Bar chart of the probability of each digit, before and after the step. {summary}"
    numbers = {"digit": list(range(10)), "before the step (%)": [rounded(100 * float(v), 2) for v in before],
               "after the step (%)": [rounded(100 * float(v), 2) for v in after]}
    return ChartWords(alt=alt, summary=summary, numbers=numbers)


def step_digit_alt(title: str, label: int) -> str:
    """The alt of the digit the step learns from."""
    return digit_alt(f"{title}, a {label},")


def _named(layer: LayerStep) -> str:
    return layer.name[:1].upper() + layer.name[1:]


def activation_words(layer: LayerStep) -> ChartWords:
    """activation_picture of a hidden layer in words: how many units are positive, and the largest."""
    outputs = layer.outputs.detach().double().numpy()
    n, rows, cols = outputs.size, *grid_shape(outputs.size)
    positive, negative = int((outputs > 0).sum()), int((outputs < 0).sum())
    top = int(outputs.argmax())
    summary = (f"{positive} of {n} units positive, {negative} negative, {n - positive - negative} at 0; "
               f"the largest: unit {top} ({significant(outputs[top], 3)}).")
    alt = f"{_named(layer)}: its {n} units as {rows} × {cols} squares, red positive, blue negative, white 0. {summary}"
    numbers = {"unit": list(range(n)), "weighted sum": [rounded(float(v), 5) for v in layer.sums],
               "output": [rounded(float(v), 5) for v in outputs]}
    return ChartWords(alt=alt, summary=summary, numbers=numbers)


def unit_gradients(layer: LayerStep) -> dict[str, list]:
    """A layer's table: per unit, d loss / d sum (which is also its bias's gradient) and its weights' gradient norm."""
    return {"unit": list(range(layer.grad_sums.numel())),
            "d loss / d sum (= bias gradient)": [rounded(float(v), 6) for v in layer.grad_sums],
            "weight gradient norm": [rounded(float(v), 6) for v in layer.grad_weight.norm(dim=1)]}


def first_layer_words(layer: LayerStep, units: list[int]) -> ChartWords:
    """first_layer_pictures in words: each picture is the input times one number, the unit's d loss / d sum."""
    sums = layer.grad_sums
    up, down = [str(u) for u in units if sums[u] > 0], [str(u) for u in units if sums[u] < 0]
    summary = ("Each picture is the input, as the network reads it, times one number: that unit's d loss / d sum. "
               + (f"It is positive for units {joined(up)}: growing their weights where the input is positive "
                  "raises the loss. " if up else "")
               + (f"It is negative for units {joined(down)}: growing their weights there lowers the loss." if down
                  else "")).strip()
    alt = (f"{_named(layer)}: the gradients of the {layer.inputs.numel()} weights into units {joined(map(str, units))} "
           f"(the ones this step changes most), each laid out like the pixels, {GRADIENT_COLOURS}. {summary}")
    return ChartWords(alt=alt, summary=summary, numbers=unit_gradients(layer))


def gradient_words(layer: LayerStep, label: int, output: bool, strongest: int = 3) -> ChartWords:
    """gradient_heatmap in words: the rows (units) whose weights change most, and for the output layer the right
    digit's row, the only one whose d loss / d sum is negative."""
    sums = layer.grad_sums.detach().double()
    unit = "digit" if output else "unit"
    top = sums.abs().argsort(descending=True)[:strongest].tolist()
    summary = ("Each row is the previous layer's outputs times one number, the unit's d loss / d sum. The strongest "
               f"rows: {joined([f'{unit} {u} ({significant(float(sums[u]), 3)})' for u in top])}.")
    if output:
        summary += (f" The right digit's row, {label}, is the only one below 0: growing its weights from positive "
                    "inputs lowers the loss; every other digit's row raises it.")
    alt = (f"{gradient_caption(_named(layer), layer.grad_weight)}. A heatmap, one row per {unit} and one column per "
           f"input, {GRADIENT_COLOURS}. {summary}")
    return ChartWords(alt=alt, summary=summary, numbers=unit_gradients(layer))


def bias_alt(layer: LayerStep, output: bool) -> str:
    """The alt of bias_picture: the signs of the bias gradients and the largest in size."""
    grad = layer.grad_bias.detach().double()
    largest = int(grad.abs().argmax())
    return (f"{_named(layer)}: the gradients of its {grad.numel()} biases as a row of squares, red where growing the "
            f"bias raises the loss, blue where it lowers it: {int((grad > 0).sum())} positive, {int((grad < 0).sum())} "
            f"negative; the largest in size, {'digit' if output else 'unit'} {largest}: "
            f"{significant(float(grad[largest]), 3)}.")
