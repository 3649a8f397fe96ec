"""A safe little expression language for the "your own function" example.

Students type text such as ``sin(x) * x**2`` on a server shared by a class, so the text is never
executed: ``ast.parse`` only builds a syntax tree, which is checked against a whitelist and turned into
our own tiny tree of numbers, variables, arithmetic and a fixed set of torch functions. Anything else is
refused with an :class:`ExpressionError` that names the offending part.
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

MAX_LENGTH = 200  # characters: enough for any lecture formula, too short for mischief
MAX_DEPTH = 20  # nesting of brackets (function calls included)
MAX_TREE_DEPTH = 100  # operations in a chain, e.g. x+x+…+x or ---x: keeps every recursion here shallow
MAX_EXPONENT = 10  # |constant exponent|: 9**9**9 would otherwise mean a huge power
MAX_CONSTANT = 1e6  # |number literal|

FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
}
CONSTANTS = {"pi": math.pi}

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}
# Typographic signs a student may paste from the lecture notes; each is one character, so offsets hold.
_TYPOGRAPHIC = str.maketrans({"−": "-", "×": "*", "÷": "/", "·": "*"})

# Words for the node types we refuse, so the message says what the student wrote.
_REFUSED_NAMES = {
    ast.Attribute: "attribute access is",
    ast.Lambda: "lambda functions are",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "comprehensions are",
    ast.Subscript: "indexing is",
    ast.Compare: "comparisons are",
    ast.BoolOp: "and/or are",
    ast.IfExp: "if/else is",
    ast.NamedExpr: "assignment (:=) is",
    ast.Starred: "starred arguments are",
    ast.JoinedStr: "strings are",
    ast.List: "lists are",
    ast.Tuple: "tuples are",
    ast.Set: "sets are",
    ast.Dict: "dictionaries are",
    ast.Await: "await is",
    ast.Yield: "yield is",
    ast.YieldFrom: "yield is",
    ast.Slice: "slices are",
}


class ExpressionError(ValueError):
    """The text is not an allowed expression; the message says why, in a student's words."""


# --- our own tree: only these four kinds of node can ever be evaluated ---------------------------------


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    function: str
    argument: Node


Node = Num | Var | Unary | Binary | Call


@dataclass(frozen=True)
class Expression:
    """A checked expression: the text typed, its tree, and the variables it uses."""

    text: str
    tree: Node
    variables: frozenset[str]

    def evaluate(self, **values: torch.Tensor | float) -> torch.Tensor:
        """Evaluate on tensors (or numbers) given by variable name, e.g. ``expr.evaluate(x=t)``."""
        missing = self.variables - values.keys()
        if missing:
            raise ExpressionError(f"no value given for {', '.join(sorted(missing))}")
        tensors = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in values.items()}
        return _evaluate(self.tree, tensors)

    def torch_source(self) -> str:
        """The same expression written as PyTorch code, for the page to show."""
        return _source(self.tree)


def parse_expression(text: str, variables: tuple[str, ...] = ("x", "y")) -> Expression:
    """Check ``text`` against the whitelist and return an :class:`Expression`, or raise ExpressionError."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty: type a formula in x, for example sin(x) * x**2")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is too long: {len(text)} characters (at most {MAX_LENGTH})")
    text = text.strip().translate(_TYPOGRAPHIC)
    # Checked before ast.parse: Python's parser itself fails badly on very deep brackets.
    _check_bracket_depth(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for "1is 1": we refuse those anyway
            module = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as error:
        raise ExpressionError(_syntax_message(text, error)) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the expression is nested too deeply") from None
    tree = _Converter(text, frozenset(variables)).convert(module.body, depth=0)
    return Expression(text=text, tree=tree, variables=frozenset(_names(tree)))


def _check_bracket_depth(text: str) -> None:
    depth = 0
    for char in text:
        if char in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ExpressionError(f"the expression is nested too deeply (at most {MAX_DEPTH} brackets)")
        elif char in ")]}":
            depth -= 1


def _syntax_message(text: str, error: Exception) -> str:
    if "^" in text:
        return "'^' is not a power here: write x**2 for x squared"
    if isinstance(error, SyntaxError) and error.offset:
        column = error.offset
        near = " ".join(text[max(column - 1, 0) : column + 9].split()) or "the end"
        return f"this is not a valid formula: check near column {column} ({near})"
    return "this is not a valid formula"


class _Converter:
    """Turns a Python syntax tree into our tree, refusing every node not on the whitelist."""

    def __init__(self, text: str, variables: frozenset[str]):
        self.text = text
        self.variables = variables

    def part(self, node: ast.AST) -> str:
        segment = ast.get_source_segment(self.text, node) or type(node).__name__
        return segment if len(segment) <= 40 else segment[:37] + "..."

    def convert(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_TREE_DEPTH:
            raise ExpressionError(f"the expression is nested too deeply (at most {MAX_TREE_DEPTH} operations deep)")
        depth += 1
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            operand = self.convert(node.operand, depth)
            if isinstance(operand, Num):  # -2 is a number, so x ** -2 records PowBackward0 like PyTorch's
                return Num(-operand.value if isinstance(node.op, ast.USub) else operand.value)
            return Unary(_UNARY[type(node.op)], operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            op = _BINARY[type(node.op)]
            result = Binary(op, self.convert(node.left, depth), self.convert(node.right, depth))
            if op == "**":
                self.check_exponent(result.right, node.right)
            return result
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise ExpressionError(self.refusal(node))

    def number(self, node: ast.Constant) -> Num:
        value = node.value
        # bool is an int in Python; True/False, strings, bytes, complex and ... are not numbers here.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ExpressionError(f"only plain numbers are allowed: {self.part(node)}")
        if not abs(value) <= MAX_CONSTANT:  # also catches 1e400, which Python reads as inf
            raise ExpressionError(f"this number is too large: {self.part(node)} (at most {MAX_CONSTANT:g})")
        return Num(float(value))

    def name(self, node: ast.Name) -> Node:
        if node.id in self.variables:
            return Var(node.id)
        if node.id in CONSTANTS:
            return Num(CONSTANTS[node.id])
        if node.id in FUNCTIONS:
            return self.fail(f"{node.id} is a function: write {node.id}(x)")
        allowed = ", ".join([*sorted(self.variables), *CONSTANTS])
        return self.fail(f"unknown name: {self.part(node)} (you can use {allowed} and the functions listed)")

    def call(self, node: ast.Call, depth: int) -> Call:
        if not isinstance(node.func, ast.Name):
            # e.g. __import__('os').system('id'): refuse the outermost forbidden part, here ".system"
            if isinstance(node.func, ast.Attribute):
                self.fail(self.refusal(node.func))
            self.fail(f"only the listed functions can be called: {self.part(node.func)}")
        name = node.func.id
        if name not in FUNCTIONS:
            self.fail(f"unknown function: {name} (allowed: {', '.join(FUNCTIONS)})")
        if node.keywords or len(node.args) != 1:
            self.fail(f"{name} takes exactly one argument: {self.part(node)}")
        return Call(name, self.convert(node.args[0], depth))

    def check_exponent(self, exponent: Node, node: ast.AST) -> None:
        if _names(exponent):
            return  # x**y is a float tensor computation: it can overflow to inf, never hang
        value = float(_evaluate(exponent, {}))
        if not math.isfinite(value) or abs(value) > MAX_EXPONENT:
            self.fail(f"this exponent is too large: {self.part(node)} (at most {MAX_EXPONENT})")

    def refusal(self, node: ast.AST) -> str:
        if isinstance(node, ast.Attribute):
            return f"attribute access is not allowed: .{node.attr}"
        if isinstance(node, ast.BinOp | ast.UnaryOp):
            sign = {ast.BitXor: "'^' is not a power here: write x**2 for x squared"}.get(type(node.op))
            return sign or f"this operator is not allowed: {self.part(node)} (use + - * / **)"
        kind = _REFUSED_NAMES.get(type(node), "this kind of code is")
        return f"{kind} not allowed: {self.part(node)}"

    def fail(self, message: str):
        raise ExpressionError(message)


def derivative(expr: Expression, variable: str, **values: torch.Tensor | float):
    """Return (f, df/d variable) at the given points, the derivative from autograd, element by element."""
    inputs = {k: torch.as_tensor(v, dtype=torch.float64).detach().clone() for k, v in values.items()}
    leaf = inputs[variable].requires_grad_(True)
    out = expr.evaluate(**inputs)
    out = out.expand_as(leaf) if out.dim() < leaf.dim() else out
    if not out.requires_grad:  # the formula does not use this variable: its derivative is 0
        return out.detach(), torch.zeros_like(leaf).detach()
    # Each output element depends only on its own input element, so one backward of the sum gives them all.
    (grad,) = torch.autograd.grad(out.sum(), leaf)
    return out.detach(), grad


def finite_difference(expr: Expression, variable: str, h: float, **values: torch.Tensor | float):
    """Central difference (f(v + h) - f(v - h)) / 2h for the given variable: the check on autograd."""
    base = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in values.items()}
    up = expr.evaluate(**{**base, variable: base[variable] + h})
    down = expr.evaluate(**{**base, variable: base[variable] - h})
    return ((up - down) / (2 * h)).expand_as(base[variable])


def _names(tree: Node) -> set[str]:
    match tree:
        case Var(name):
            return {name}
        case Unary(_, operand) | Call(_, operand):
            return _names(operand)
        case Binary(_, left, right):
            return _names(left) | _names(right)
    return set()


def _evaluate(tree: Node, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
    match tree:
        case Num(value):
            return torch.tensor(value, dtype=torch.float64)
        case Var(name):
            return values[name]
        case Unary(op, operand):
            inner = _evaluate(operand, values)
            return -inner if op == "-" else inner
        case Call(function, argument):
            return FUNCTIONS[function](_evaluate(argument, values))
        case Binary("**", left, Num(exponent)):
            # A plain-number exponent, as in the student's own x ** 3: autograd records PowBackward0.
            return _evaluate(left, values) ** exponent
        case Binary(op, left, right):
            a, b = _evaluate(left, values), _evaluate(right, values)
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                return a / b
            return a**b
    raise ExpressionError(f"cannot evaluate {tree!r}")  # unreachable: the converter builds only the above


def _source(tree: Node) -> str:
    match tree:
        case Num(value):
            return "math.pi" if value == math.pi else format(value, ".15g")
        case Var(name):
            return name
        case Unary(op, operand):
            return f"{op}{_wrap(operand)}"
        case Call(function, argument):
            return f"torch.{function}({_source(argument)})"
        case Binary(op, left, right):
            return f"{_wrap(left)} {op} {_wrap(right)}"
    return "?"


def _wrap(tree: Node) -> str:
    text = _source(tree)
    negative = isinstance(tree, Num) and tree.value < 0
    return f"({text})" if isinstance(tree, Binary | Unary) or negative else text
