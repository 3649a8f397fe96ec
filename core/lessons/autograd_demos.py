"""The four examples of the Autograd page, computed with PyTorch and returned as small, plain results.

Nothing here imports Streamlit, so tests (and students in a notebook) can call every function directly.
Each ``*_CODE`` constant is the handful of PyTorch lines the page shows beside the result.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

from core.engine.curves import finite_or_none
from core.lessons.autograd_graph import autograd_graph
from core.lessons.expr import Expression, derivative, finite_difference

# --- 1. y = x² + 3x + 1 --------------------------------------------------------------------------------

QUADRATIC_CODE = """\
x = torch.tensor({x}, dtype=torch.float64,
                 requires_grad=True)
y = x**2 + 3*x + 1
y.backward()    # fills x.grad with dy/dx
x.grad          # = 2x + 3 = {dydx:g}
"""


@dataclass(frozen=True)
class QuadraticResult:
    x: float
    y: float
    dydx: float  # from backward()
    hand: float  # 2x + 3, the derivative worked out by hand


@dataclass(frozen=True)
class FunctionCurve:
    xs: list[float]
    ys: list[float | None]  # None where the function is undefined (nan or inf): a gap in the plot
    extra: list[float | None]  # a second line: the tangent, or the derivative


def quadratic(x: float) -> QuadraticResult:
    """y = x² + 3x + 1 and dy/dx from ``backward()``, with the hand derivative 2x + 3 beside it."""
    t = torch.tensor(float(x), dtype=torch.float64, requires_grad=True)
    y = t**2 + 3 * t + 1
    y.backward()
    return QuadraticResult(x=float(x), y=y.item(), dydx=t.grad.item(), hand=2 * float(x) + 3)


def quadratic_curve(x: float, half_width: float = 6.0, points: int = 121) -> FunctionCurve:
    """The parabola around 0 (widened to include x) and its tangent line at x."""
    r = quadratic(x)
    xs = torch.linspace(min(-half_width, x - 1), max(half_width, x + 1), points, dtype=torch.float64)
    tangent = r.y + r.dydx * (xs - r.x)
    return FunctionCurve(xs.tolist(), (xs**2 + 3 * xs + 1).tolist(), tangent.tolist())


# --- 2. y = sum(x²) for a vector --------------------------------------------------------------------------

SUM_OF_SQUARES_CODE = """\
x = torch.tensor({values},
                 dtype=torch.float64, requires_grad=True)
y = (x**2).sum()
y.backward()
x.grad    # = 2 * x, one entry per element
"""

MAX_VECTOR = 20


@dataclass(frozen=True)
class SumOfSquaresResult:
    x: list[float]
    y: float
    grad: list[float]  # from autograd
    hand: list[float]  # 2x

    @property
    def agree(self) -> bool:
        """True when autograd's gradient equals 2x element by element."""
        pairs = zip(self.grad, self.hand, strict=True)
        return all(math.isclose(g, h, rel_tol=1e-12, abs_tol=1e-12) for g, h in pairs)


def random_values(length: int, seed: int) -> list[float]:
    """``length`` values drawn from a normal distribution with a fixed seed, rounded for reading."""
    if not 1 <= length <= MAX_VECTOR:
        raise ValueError(f"the length must be between 1 and {MAX_VECTOR}")
    generator = torch.Generator().manual_seed(int(seed))
    return [round(v, 2) for v in (torch.randn(length, generator=generator, dtype=torch.float64) * 2).tolist()]


def parse_values(text: str) -> list[float]:
    """Numbers typed by a student, separated by commas or spaces; ValueError says what is wrong."""
    tokens = [t for t in re.split(r"[,;\s]+", text.strip()) if t]
    if not tokens:
        raise ValueError("type at least one number, for example 1, -2, 3")
    if len(tokens) > MAX_VECTOR:
        raise ValueError(f"at most {MAX_VECTOR} numbers, you typed {len(tokens)}")
    values = []
    for token in tokens:
        try:
            value = float(token)  # float() only reads a number: nothing is evaluated
        except ValueError:
            raise ValueError(f"not a number: {token[:20]}") from None
        if not math.isfinite(value) or abs(value) > 1e6:
            raise ValueError(f"use finite numbers up to a million: {token[:20]}")
        values.append(value)
    return values


def sum_of_squares(values: list[float]) -> SumOfSquaresResult:
    """y = sum(x²) and its gradient from autograd, with 2x beside it."""
    x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    y = (x**2).sum()
    y.backward()
    return SumOfSquaresResult(x=x.tolist(), y=y.item(), grad=x.grad.tolist(), hand=(2 * x).tolist())


# --- 3. f = x1·x2 + x3·x4 with torch.autograd.grad --------------------------------------------------------

FOUR_PRODUCTS_CODE = """\
dtype = torch.{dtype}
x1, x2, x3, x4 = (
    torch.tensor(v, dtype=dtype, requires_grad=True)
    for v in ({x1:g}, {x2:g}, {x3:g}, {x4:g})
)
f = x1 * x2 + x3 * x4
grads = torch.autograd.grad(f, [x1, x2, x3, x4])
# ∂f/∂x1 = x2   ∂f/∂x2 = x1
# ∂f/∂x3 = x4   ∂f/∂x4 = x3
"""

DTYPES = {"float16": torch.float16, "float32": torch.float32, "float64": torch.float64}
HAND_FORMULAS = ("x2", "x1", "x4", "x3")  # ∂f/∂x1 = x2, …
LARGE_INPUTS = (0.1, 1000.3, 2049.0, 4097.0, 65504.0, 70000.0)


@dataclass(frozen=True)
class FourProductsResult:
    dtype: str
    inputs: tuple[float, float, float, float]  # as stored in the dtype, after rounding
    f: float
    grads: tuple[float, float, float, float]  # from torch.autograd.grad
    hand: tuple[float, float, float, float]  # (x2, x1, x4, x3)


@dataclass(frozen=True)
class RoundingRow:
    value: float
    stored: float  # the nearest float16 (inf beyond 65504)
    error: float  # stored - value
    gap: float | None  # distance to the next float16 up (how coarse the grid is); None past the largest


def four_products(x1: float, x2: float, x3: float, x4: float, dtype: str = "float16") -> FourProductsResult:
    """f = x1·x2 + x3·x4 and its four partial derivatives via ``torch.autograd.grad``."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}")
    xs = [torch.tensor(float(v), dtype=DTYPES[dtype], requires_grad=True) for v in (x1, x2, x3, x4)]
    f = xs[0] * xs[1] + xs[2] * xs[3]
    grads = torch.autograd.grad(f, xs)
    stored = tuple(v.item() for v in xs)
    return FourProductsResult(
        dtype=dtype,
        inputs=stored,
        f=f.item(),
        grads=tuple(g.item() for g in grads),
        hand=(stored[1], stored[0], stored[3], stored[2]),
    )


def float16_rounding(values: tuple[float, ...] = LARGE_INPUTS) -> list[RoundingRow]:
    """What storing each value as float16 does: the value kept, the error, and the grid spacing there."""
    exact = torch.tensor(values, dtype=torch.float64)
    half = exact.to(torch.float16)
    up = torch.nextafter(half, torch.full_like(half, math.inf))
    return [
        RoundingRow(value=v, stored=s, error=s - v, gap=u - s if math.isfinite(u) else None)
        for v, s, u in zip(exact.tolist(), half.double().tolist(), up.double().tolist(), strict=True)
    ]


# --- 4. your own function ------------------------------------------------------------------------------

CUSTOM_CODE = """\
{inputs}
f = {source}
f.backward()
{grads}
"""


@dataclass(frozen=True)
class PointResult:
    value: float
    exact: dict[str, float]  # ∂f/∂v from autograd, for v in x (and y when used)
    estimate: dict[str, float]  # central finite difference with step h
    graph: str  # DOT text of the graph autograd recorded

    def difference(self, name: str) -> float:
        """Exact minus estimate: the finite-difference error (truncation plus rounding)."""
        return self.exact[name] - self.estimate[name]


def custom_curve(expr: Expression, x_min: float, x_max: float, y: float = 1.0, points: int = 401) -> FunctionCurve:
    """f over [x_min, x_max] (y held fixed) and df/dx from autograd; gaps where either is undefined."""
    xs = torch.linspace(float(x_min), float(x_max), points, dtype=torch.float64)
    values, grads = derivative(expr, "x", x=xs, y=float(y))
    grads = torch.where(values.isfinite(), grads, math.nan)  # no slope where f itself is undefined
    return FunctionCurve(xs.tolist(), finite_or_none(values.tolist()), finite_or_none(grads.tolist()))


def custom_point(expr: Expression, x: float, y: float = 1.0, h: float = 1e-5) -> PointResult:
    """Value, autograd gradient and finite-difference estimate at (x, y), plus the recorded graph."""
    names = ["x", *(["y"] if "y" in expr.variables else [])]
    point = {"x": float(x), "y": float(y)}
    leaves = {n: torch.tensor(point[n], dtype=torch.float64, requires_grad=True) for n in names}
    out = expr.evaluate(**{**point, **leaves})
    if out.requires_grad:
        grads = torch.autograd.grad(out, list(leaves.values()), allow_unused=True)
    else:
        grads = (None,) * len(leaves)
    exact = {n: (0.0 if g is None else g.item()) for n, g in zip(names, grads, strict=True)}
    estimate = {n: finite_difference(expr, n, h, **point).item() for n in names}
    return PointResult(value=out.item(), exact=exact, estimate=estimate, graph=autograd_graph(out, leaves))


def custom_code(expr: Expression, x: float, y: float = 1.0) -> str:
    """The PyTorch lines that compute this expression's gradient at (x, y)."""
    uses_y = "y" in expr.variables
    inputs = [f"x = torch.tensor({float(x)!r}, dtype=torch.float64,\n                 requires_grad=True)"]
    if uses_y:
        inputs.append(f"y = torch.tensor({float(y)!r}, dtype=torch.float64,\n                 requires_grad=True)")
    grads = "x.grad, y.grad    # ∂f/∂x, ∂f/∂y" if uses_y else "x.grad    # df/dx"
    return CUSTOM_CODE.format(inputs="\n".join(inputs), source=expr.torch_source(), grads=grads)
