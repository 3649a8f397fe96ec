"""The safe expression language: what it accepts, how it evaluates, and the hostile inputs it refuses."""

import ast
import math
import os
import time
from pathlib import Path

import pytest
import torch

from core.lessons import expr as expr_module
from core.lessons.expr import (
    MAX_DEPTH,
    MAX_LENGTH,
    ExpressionError,
    derivative,
    finite_difference,
    parse_expression,
)

# Each expression beside the same function written directly in PyTorch: PyTorch is the oracle.
ORACLES = [
    ("sin(x) * x**2", lambda x, y: torch.sin(x) * x**2),
    ("x**-2 + 3", lambda x, y: x**-2 + 3),
    ("exp(-x) / (1 + x**2)", lambda x, y: torch.exp(-x) / (1 + x**2)),
    ("sqrt(abs(x)) + log(x**2 + 1)", lambda x, y: torch.sqrt(torch.abs(x)) + torch.log(x**2 + 1)),
    ("tanh(x) - sigmoid(2*x) + relu(x - 0.5)", lambda x, y: torch.tanh(x) - torch.sigmoid(2 * x) + torch.relu(x - 0.5)),
    ("cos(pi * x) * tan(x / 4)", lambda x, y: torch.cos(math.pi * x) * torch.tan(x / 4)),
    ("x * y**2 - y", lambda x, y: x * y**2 - y),
    ("-x + +y", lambda x, y: -x + y),
    ("2**10**1 * x", lambda x, y: 1024 * x),
]


@pytest.mark.parametrize(("text", "oracle"), ORACLES)
def test_values_and_derivatives_agree_with_pytorch(text, oracle):
    xs = torch.linspace(0.2, 2.5, 7, dtype=torch.float64)
    y = torch.tensor(1.7, dtype=torch.float64)
    expr = parse_expression(text)
    values, grads = derivative(expr, "x", x=xs, y=y)
    leaf = xs.clone().requires_grad_(True)
    expected = oracle(leaf, y)
    (expected_grad,) = torch.autograd.grad(expected.sum(), leaf)
    torch.testing.assert_close(values, expected.detach())
    torch.testing.assert_close(grads, expected_grad)
    torch.testing.assert_close(finite_difference(expr, "x", 1e-6, x=xs, y=y), expected_grad, rtol=1e-5, atol=1e-6)


def test_derivative_with_respect_to_y():
    expr = parse_expression("x * y**2")
    _, grad = derivative(expr, "y", x=torch.tensor([1.0, 2.0]), y=torch.tensor([3.0, 3.0]))
    assert grad.tolist() == [6.0, 12.0]


def test_variables_used_are_reported():
    assert parse_expression("sin(x)").variables == {"x"}
    assert parse_expression("x * y").variables == {"x", "y"}
    assert parse_expression("2 * pi").variables == set()


def test_only_the_allowed_variables():
    assert parse_expression("t**2", variables=("t",)).variables == {"t"}
    with pytest.raises(ExpressionError, match="unknown name: y"):
        parse_expression("x * y", variables=("x",))


def test_typographic_signs_from_lecture_notes():
    expr = parse_expression("−x × 2 ÷ 4 + x·x")
    assert float(expr.evaluate(x=2.0)) == pytest.approx(-1.0 + 4.0)


def test_torch_source_is_readable_pytorch():
    assert parse_expression("sin(x) * x**2").torch_source() == "torch.sin(x) * (x ** 2)"
    assert parse_expression("pi*x").torch_source() == "math.pi * x"


def test_limits_are_inclusive():
    assert parse_expression("x" + " + x" * ((MAX_LENGTH - 1) // 4)).variables == {"x"}
    assert parse_expression("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH).variables == {"x"}
    assert parse_expression("x**10 + x**-10 + 1000000").variables == {"x"}


def test_evaluate_needs_every_variable():
    with pytest.raises(ExpressionError, match="no value given for y"):
        parse_expression("x + y").evaluate(x=1.0)


# --- hostile inputs -------------------------------------------------------------------------------------

SENTINEL = Path("/tmp/mnist_lab_expr_sentinel")

HOSTILE = [
    ("__import__('os').system('id')", "attribute access is not allowed: .system"),
    (f"__import__('os').system('touch {SENTINEL}')", "attribute access is not allowed: .system"),
    ("__import__('os')", "unknown function: __import__"),
    (f"open('{SENTINEL}', 'w')", "unknown function: open"),
    ("().__class__", "attribute access is not allowed: .__class__"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access is not allowed: .__subclasses__"),
    ("x.__class__", "attribute access is not allowed: .__class__"),
    ("sin.__globals__", "attribute access is not allowed: .__globals__"),
    ("lambda: 1", "lambda functions are not allowed"),
    ("(lambda: x)()", "only the listed functions can be called"),
    ("[x for x in range(10**9)]", "comprehensions are not allowed"),
    ("sum(x for x in range(10))", "unknown function: sum"),
    ("{x: 1 for x in ()}", "comprehensions are not allowed"),
    ("9**9**9", "exponent is too large"),
    ("10**100", "exponent is too large"),
    ("x**(2**20)", "exponent is too large"),
    ("2**x**1000", "exponent is too large"),
    ("99999999999999999999999", "number is too large"),
    ("1e400", "number is too large"),
    ("x" * (MAX_LENGTH + 1), "too long"),
    ("x+" * 5000 + "x", "too long"),
    ("(" * 30 + "x" + ")" * 30, "nested too deeply"),
    ("(" * 100_000, "too long"),
    ("-" * 150 + "x", "nested too deeply"),
    ("+" * 120 + "x", "nested too deeply"),
    ("sin(" * 30 + "x" + ")" * 30, "nested too deeply"),
    ("foo", "unknown name: foo"),
    ("__builtins__", "unknown name: __builtins__"),
    ("globals()", "unknown function: globals"),
    ("getattr(x, 'real')", "unknown function: getattr"),
    ("eval('1')", "unknown function: eval"),
    ("", "empty"),
    ("   ", "empty"),
    ("'text'", "only plain numbers"),
    ("b'bytes'", "only plain numbers"),
    ("f'{x}'", "strings are not allowed"),
    ("True", "only plain numbers"),
    ("None", "only plain numbers"),
    ("...", "only plain numbers"),
    ("1j", "only plain numbers"),
    ("x[0]", "indexing is not allowed"),
    ("x if x else 1", "if/else is not allowed"),
    ("x == 1", "comparisons are not allowed"),
    ("x and y", "and/or are not allowed"),
    ("not x", "operator is not allowed"),
    ("x % 2", "operator is not allowed"),
    ("x @ x", "operator is not allowed"),
    ("x ^ 2", "'^' is not a power"),
    ("(x := 1)", "assignment"),
    ("import os", "not a valid formula"),
    ("x; import os", "not a valid formula"),
    ("x = 1", "not a valid formula"),
    ("sin(x", "not a valid formula"),
    ("x\x00", "not a valid formula"),
    ("sin", "sin is a function"),
    ("sin(x, y)", "exactly one argument"),
    ("sin(x=1)", "exactly one argument"),
    ("sin(*x)", "starred arguments are not allowed"),
    ("[1, 2]", "lists are not allowed"),
    ("(1, 2)", "tuples are not allowed"),
    ("{1}", "sets are not allowed"),
    ("{}", "dictionaries are not allowed"),
    ("await x", "await is not allowed"),
]


@pytest.mark.parametrize(("text", "message"), HOSTILE, ids=[repr(t[:30]) for t, _ in HOSTILE])
def test_hostile_input_is_refused_quickly_with_a_reason(text, message, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    start = time.perf_counter()
    with pytest.raises(ExpressionError) as refused:
        parse_expression(text)
    elapsed = time.perf_counter() - start
    assert message in str(refused.value)
    assert elapsed < 1.0, f"took {elapsed:.3f} s"
    assert calls == [] and not SENTINEL.exists()


def test_refusal_messages_are_short_even_for_long_parts():
    with pytest.raises(ExpressionError) as refused:
        parse_expression("x if " + "x + " * 30 + "x else 1")
    assert len(str(refused.value)) < 120


def test_the_module_never_calls_eval_exec_or_compile():
    # The parser may use ast.parse (it only builds a tree); nothing may run text as code.
    tree = ast.parse(Path(expr_module.__file__).read_text())
    called = {
        node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    assert not called & {"eval", "exec", "compile", "__import__", "sympify", "parse_expr", "getattr"}
    imported = {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom) for alias in node.names
    }
    assert "sympy" not in imported and "streamlit" not in imported
