"""The Autograd page's computations, checked against derivatives worked out by hand and against PyTorch."""

import math

import pytest
import torch

from core.lessons import autograd_demos as demos
from core.lessons.autograd_graph import autograd_graph
from core.lessons.expr import parse_expression
from core.views.network_diagram import LECTURE_LAYERS, network_dot
from core.views.samples import one_per_class, strip

# --- 1. y = x² + 3x + 1 --------------------------------------------------------------------------------


def test_quadratic_at_two_matches_the_lecture():
    r = demos.quadratic(2.0)
    assert (r.y, r.dydx, r.hand) == (11.0, 7.0, 7.0)


@pytest.mark.parametrize("x", [-10.0, -1.5, -0.3, 0.0, 0.1, 3.7, 10.0])
def test_quadratic_backward_equals_hand_derivative(x):
    r = demos.quadratic(x)
    assert r.y == pytest.approx(x**2 + 3 * x + 1)
    assert r.dydx == pytest.approx(2 * x + 3)
    assert r.hand == pytest.approx(2 * x + 3)


def test_quadratic_curve_tangent_touches_at_x_with_the_derivative_as_slope():
    curve = demos.quadratic_curve(2.0)
    i = min(range(len(curve.xs)), key=lambda k: abs(curve.xs[k] - 2.0))
    assert curve.xs[i] == pytest.approx(2.0)
    assert curve.extra[i] == pytest.approx(curve.ys[i])
    slope = (curve.extra[-1] - curve.extra[0]) / (curve.xs[-1] - curve.xs[0])
    assert slope == pytest.approx(7.0)


def test_quadratic_curve_widens_to_include_a_far_x():
    curve = demos.quadratic_curve(9.5)
    assert min(curve.xs) <= -6 and max(curve.xs) >= 10.5


def test_quadratic_code_shows_the_chosen_x():
    code = demos.QUADRATIC_CODE.format(x=2.0, dydx=7.0)
    assert "torch.tensor(2.0" in code and "y.backward()" in code and "= 7" in code


# --- 2. y = sum(x²) ------------------------------------------------------------------------------------


def test_sum_of_squares_gradient_is_two_x():
    r = demos.sum_of_squares([1.0, -2.0, 3.0])
    assert r.y == 14.0
    assert r.grad == [2.0, -4.0, 6.0] == r.hand
    assert r.agree


def test_random_values_are_reproducible_with_a_seed():
    assert demos.random_values(5, 0) == demos.random_values(5, 0)
    assert demos.random_values(5, 0) != demos.random_values(5, 1)
    assert len(demos.random_values(12, 3)) == 12
    with pytest.raises(ValueError):
        demos.random_values(0, 0)
    with pytest.raises(ValueError):
        demos.random_values(demos.MAX_VECTOR + 1, 0)


@pytest.mark.parametrize(
    ("text", "values"),
    [("1, -2, 3", [1.0, -2.0, 3.0]), ("0.5 1e2;-3", [0.5, 100.0, -3.0]), ("  7  ", [7.0])],
)
def test_parse_values_reads_typed_numbers(text, values):
    assert demos.parse_values(text) == values


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "at least one"),
        ("1, two, 3", "not a number: two"),
        ("nan", "finite"),
        ("1e9", "finite"),
        (", ".join(["1"] * (demos.MAX_VECTOR + 1)), "at most"),
        ("__import__('os')", "not a number"),
    ],
)
def test_parse_values_refuses_with_a_reason(text, words):
    with pytest.raises(ValueError, match=words):
        demos.parse_values(text)


# --- 3. f = x1·x2 + x3·x4 ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(demos.DTYPES))
def test_four_products_at_the_lecture_defaults(dtype):
    r = demos.four_products(2, 3, 1, 4, dtype=dtype)
    assert r.f == 10.0
    assert r.grads == (3.0, 2.0, 4.0, 1.0) == r.hand
    assert r.dtype == dtype


def test_four_products_partials_are_the_other_factor():
    inputs = (0.7, -1.3, 2.9, 5.5)
    r = demos.four_products(*inputs, dtype="float64")
    assert r.f == pytest.approx(0.7 * -1.3 + 2.9 * 5.5)
    assert r.grads == pytest.approx((-1.3, 0.7, 5.5, 2.9))
    assert demos.HAND_FORMULAS == ("x2", "x1", "x4", "x3")


def test_float16_overflows_on_large_inputs_where_float32_does_not():
    half = demos.four_products(300, 300, 1, 4, dtype="float16")
    single = demos.four_products(300, 300, 1, 4, dtype="float32")
    assert math.isinf(half.f)
    assert single.f == 90004.0
    assert half.grads[:2] == (300.0, 300.0)  # the gradients themselves still fit


def test_float16_rounds_inputs_to_its_grid():
    r = demos.four_products(2049, 1, 0.1, 1, dtype="float16")
    assert r.inputs[0] == 2048.0
    assert r.inputs[2] != 0.1


def test_float16_rounding_table():
    rows = {row.value: row for row in demos.float16_rounding()}
    assert rows[2049.0].stored == 2048.0 and rows[2049.0].error == -1.0 and rows[2049.0].gap == 2.0
    assert rows[65504.0].stored == 65504.0 and rows[65504.0].gap is None
    assert math.isinf(rows[70000.0].stored)
    assert abs(rows[0.1].error) < 1e-4


def test_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="dtype"):
        demos.four_products(1, 2, 3, 4, dtype="int8")


# --- 4. your own function ------------------------------------------------------------------------------


def test_custom_point_matches_the_hand_derivative_and_finite_differences():
    expr = parse_expression("sin(x) * x**2")
    p = demos.custom_point(expr, 1.3, h=1e-5)
    assert p.value == pytest.approx(math.sin(1.3) * 1.3**2)
    assert p.exact["x"] == pytest.approx(math.cos(1.3) * 1.3**2 + 2 * 1.3 * math.sin(1.3))
    assert abs(p.difference("x")) < 1e-8
    assert set(p.exact) == {"x"}


def test_custom_point_with_y_gives_both_partials():
    expr = parse_expression("x*y + log(x)")
    p = demos.custom_point(expr, 2.0, 3.0)
    assert p.exact == pytest.approx({"x": 3.0 + 0.5, "y": 2.0})
    assert p.estimate == pytest.approx(p.exact, rel=1e-6)


def test_finite_difference_error_grows_when_h_is_too_large():
    expr = parse_expression("exp(x)")
    coarse, fine = demos.custom_point(expr, 1.0, h=1e-1), demos.custom_point(expr, 1.0, h=1e-5)
    assert abs(coarse.difference("x")) > abs(fine.difference("x"))


def test_custom_point_of_a_constant_has_zero_gradient_and_says_there_is_no_graph():
    p = demos.custom_point(parse_expression("3 * pi"), 1.0)
    assert p.exact == {"x": 0.0} and p.value == pytest.approx(3 * math.pi)
    assert "no graph" in p.graph


def test_custom_curve_derivative_matches_hand_derivative():
    curve = demos.custom_curve(parse_expression("x**3 - 2*x"), -2, 2, points=9)
    assert curve.extra == pytest.approx([3 * x**2 - 2 for x in curve.xs])


def test_custom_curve_leaves_gaps_where_f_is_undefined():
    curve = demos.custom_curve(parse_expression("log(x)"), -1, 1, points=5)
    assert curve.ys[:3] == [None, None, None] and curve.extra[:3] == [None, None, None]
    assert curve.ys[4] == 0.0 and curve.extra[4] == pytest.approx(1.0)


def test_custom_code_is_pytorch_for_the_expression():
    code = demos.custom_code(parse_expression("sin(x) * y"), 1.0, 2.0)
    assert "f = torch.sin(x) * y" in code and "y = torch.tensor(2.0" in code and "y.grad" in code


# --- the recorded graph ---------------------------------------------------------------------------------


def test_autograd_graph_walks_grad_fn_back_to_named_leaves():
    x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    dot = autograd_graph(torch.sin(x) * y + x, {"x": x, "y": y})
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for label in ("AddBackward0", "MulBackward0", "SinBackward0", "x = 1", "y = 2", "f = "):
        assert label in dot
    # x feeds both sin and the addition, but is drawn once
    assert dot.count('"x = 1"') == 1


def test_autograd_graph_escapes_quotes_in_names():
    x = torch.tensor(1.0, requires_grad=True)
    assert 'a\\"b = 1' in autograd_graph(x * 2, {'a"b': x})


# --- home page helpers ----------------------------------------------------------------------------------


def test_lecture_network_sizes_and_parameters():
    assert [layer.units for layer in LECTURE_LAYERS] == [784, 128, 64, 10]
    dot = network_dot()
    assert all(f"{layer.units} neurons" in dot for layer in LECTURE_LAYERS)
    assert "100,480 weights" in dot


def test_one_per_class_and_strip():
    labels = torch.tensor([3, 1, 1, 0, 3, 2])
    assert one_per_class(labels, classes=4) == [3, 1, 5, 0]
    images = torch.zeros(6, 28, 28, dtype=torch.uint8)
    row = strip(images, [0, 1, 2], gap=2, scale=3)
    assert row.shape == (84, (28 * 3 + 2 * 2) * 3) and row.dtype == torch.uint8
