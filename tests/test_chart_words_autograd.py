"""The Autograd page's charts and the One training step's pictures in words, against known figures: a tangent that
rises, falls or is flat, gradients that equal 2x, a function that turns, the graph autograd recorded, a step."""

import math

import pytest
import torch

from core.lessons import autograd_demos as demos
from core.lessons.autograd_demos import FunctionCurve
from core.lessons.expr import parse_expression
from core.lessons.one_step import digit_inputs, fresh_weights, train_step
from core.views import one_step_view as view
from core.views.autograd_charts import (
    function_figure,
    function_words,
    gradient_figure,
    gradient_words,
    graph_words,
    tangent_words,
)
from core.views.chart_words import significant

PARABOLA = "y = x² + 3x + 1"


def tangent_at(x: float):
    q = demos.quadratic(x)
    return tangent_words(demos.quadratic_curve(x), (PARABOLA, "tangent"), (q.x, q.y), q.dydx)


def test_the_tangent_says_where_the_curve_rises_falls_and_turns():
    words = tangent_at(2.0)
    assert words.summary == ("At x = 2 the curve is at y = 11, and its tangent rises with slope 7: there y grows 7 "
                             "times as fast as x.")
    assert words.alt.startswith(f"Line chart of {PARABOLA} for x from -6 to 6, with its tangent at x = 2 dashed")
    assert "falls with slope -5: there y shrinks 5 times as fast as x grows" in tangent_at(-4.0).summary
    assert "is flat (slope 0): the curve turns there" in tangent_at(-1.5).summary
    assert len(words.numbers["x"]) == 121 and words.numbers["tangent"][60] == pytest.approx(7 * (0 - 2) + 11)


def test_gradient_bars_say_they_equal_two_x():
    r = demos.sum_of_squares([1.0, -2.0, 3.5])
    words = gradient_words(r)
    assert words.summary == ("For all 3 elements the gradient from autograd equals 2x: each pair of bars is the same "
                             "height. The largest is 7 at x[2], the smallest -4 at x[1].")
    assert words.numbers["2x by hand"] == [2.0, -4.0, 7.0]
    assert [bar.name for bar in gradient_figure(r).data] == ["gradient from autograd", "2x by hand"]
    assert gradient_words(demos.sum_of_squares([0.5])).summary.startswith("For the element the gradient")
    differing = demos.SumOfSquaresResult(x=[1.0, 2.0], y=5.0, grad=[2.0, 4.5], hand=[2.0, 4.0])
    assert gradient_words(differing).summary.startswith("The gradient from autograd differs from 2x at x[1].")


def curve_of(text: str, low: float = -5.0, high: float = 5.0) -> FunctionCurve:
    return demos.custom_curve(parse_expression(text), low, high)


def test_a_function_says_its_range_and_where_it_turns():
    words = function_words("sin(x) * x**2", curve_of("sin(x) * x**2"))
    assert words.summary == ("For x from -5 to 5, f goes from -23.97 (at x = 5) to 23.97 (at x = -5). df/dx crosses "
                             "0 at x ≈ -2.289 and 2.289: there f turns.")
    assert words.alt.startswith("Line chart of f = sin(x) * x**2 (solid) and of df/dx from autograd (dashed)")
    assert len(words.numbers["x"]) == 200  # 401 points, thinned evenly
    assert "crosses 0 at x ≈ 0: there f turns" in function_words("x**2", curve_of("x**2")).summary
    assert "f only rises" in function_words("exp(x)", curve_of("exp(x)")).summary
    assert "f only falls" in function_words("-x", curve_of("-x")).summary
    many = function_words("sin(x)", curve_of("sin(x)", -20, 20)).summary
    assert "x ≈ -17.28, -14.14, -11, -7.854, -4.712, -1.571 and 6 more places: there f turns." in many  # 12 turns


def test_a_function_with_gaps_and_one_undefined_everywhere():
    words = function_words("log(x)", curve_of("log(x)"))
    assert "f is undefined (or infinite) at 201 of 401 points, which are left out." in words.summary
    assert words.numbers["f(x)"][0] is None
    nowhere = function_words("log(-x**2 - 1)", curve_of("log(-x**2 - 1)"))
    assert nowhere.summary == "f is undefined (or infinite) everywhere for x from -5 to 5."
    assert [line.name for line in function_figure(curve_of("x")).data] == ["f(x)", "df/dx from autograd"]


def graph_of(text: str, x: float = 2.0, y: float = 3.0):
    return graph_words(demos.custom_point(parse_expression(text), x, y).graph)


def test_the_recorded_graph_says_what_feeds_what():
    words = graph_of("sin(x) * x**2", x=1.0)
    assert words.summary == ("Autograd recorded 3 operations from x = 1 to f = 0.8415: PowBackward0, SinBackward0 "
                             "and MulBackward0. backward() walks the arrows the other way, from f back to the inputs.")
    assert words.alt == ("Graph of the operations autograd recorded, arrows from the inputs to f: x = 1 feeds "
                         "PowBackward0 and SinBackward0; PowBackward0 feeds MulBackward0; SinBackward0 feeds "
                         "MulBackward0; MulBackward0 gives f = 0.8415.")
    assert sorted(zip(words.numbers["from"], words.numbers["to"], strict=True))[0] == ("MulBackward0", "f = 0.8415")


def test_a_graph_with_two_operations_of_one_kind_and_an_input_used_twice():
    words = graph_of("x*x + x*y")
    assert "from x = 2 and y = 3 to f = 10: MulBackward0 ×2 and AddBackward0." in words.summary
    assert "x = 2 feeds MulBackward0 (2) and MulBackward0 (1) twice" in words.alt
    assert graph_of("3").summary == "No graph: f = 3 does not depend on the inputs."


def test_significant_digits_for_values_a_student_typed():
    assert significant(2.0) == "2" and significant(0.841471) == "0.8415" and significant(-2.78e-16) == "0"
    assert significant(math.inf) == "infinite" and significant(12345.6) == "1.235e+04"


@pytest.fixture(scope="module")
def step():
    """One step of a fresh network (seed 0) on a drawn 1."""
    image = torch.zeros(28, 28, dtype=torch.uint8)
    image[4:24, 13:16] = 255
    return train_step(fresh_weights(0), digit_inputs(image), 1, "relu", 0.1)


def test_the_step_says_how_the_right_digit_and_the_guess_moved(step):
    words = view.probability_words(step)
    right = 100 * step.probabilities[1].item(), 100 * step.probabilities_after[1].item()
    assert words.summary.startswith(f"The right digit, 1: {right[0]:.1f} % before the step, {right[1]:.1f} % after it.")
    assert f"The guess: {step.predicted} (" in words.summary and words.summary in words.alt
    assert sum(words.numbers["before the step (%)"]) == pytest.approx(100, abs=0.05)


def test_the_steps_pictures_say_what_they_show(step):
    hidden, output = step.layers[0], step.layers[-1]
    activations = view.activation_words(hidden)
    positive = int((hidden.outputs > 0).sum())
    assert activations.summary.startswith(f"{positive} of 128 units positive, 0 negative, {128 - positive} at 0;")
    assert activations.alt.startswith("Hidden 1: its 128 units as 8 × 16 squares")
    assert activations.numbers["output"][0] == pytest.approx(max(0.0, hidden.sums[0].item()), abs=1e-5)
    _, units = view.first_layer_pictures(hidden.grad_weight)
    first = view.first_layer_words(hidden, units)
    up = [u for u in units if hidden.grad_sums[u] > 0]
    assert f"It is positive for units {', '.join(map(str, up[:-1]))} and {up[-1]}:" in first.summary
    assert len(first.numbers["unit"]) == 128
    last = view.gradient_words(output, 1, output=True)
    assert "The strongest rows: digit 1 (" in last.summary and "The right digit's row, 1, is the only one below 0" \
        in last.summary
    assert last.numbers["d loss / d sum (= bias gradient)"][1] < 0
    assert view.bias_alt(output, output=True).endswith(f"9 positive, 1 negative; the largest in size, digit 1: "
                                                       f"{significant(output.grad_bias[1].item(), 3)}.")
    assert view.step_digit_alt("test image #3", 1).startswith("Test image #3, a 1, as the network reads it")
