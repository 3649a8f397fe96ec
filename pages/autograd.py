"""Autograd: four examples, each result beside the few lines of PyTorch that compute it, and one training step.

Thin on purpose: every number comes from core.lessons.autograd_demos, core.lessons.expr and (tab 5, laid out by
pages/ui/one_step_panel.py) core.lessons.one_step; this file only lays out widgets and charts.
"""

import zlib

import streamlit as st

from core.lessons import autograd_demos as demos
from core.lessons.expr import FUNCTIONS, MAX_LENGTH, ExpressionError, parse_expression
from core.views.autograd_charts import (
    function_figure,
    function_words,
    gradient_figure,
    gradient_words,
    graph_words,
    tangent_chart,
    tangent_words,
)
from pages.ui.charts import chart
from pages.ui.common import fmt, require_shell, table
from pages.ui.one_step_panel import TAB_LABEL as ONE_STEP_TAB
from pages.ui.one_step_panel import one_step_tab

require_shell("pages/autograd.py")

# Widget values survive a visit to another page (persist_state) and start at these defaults.
DEFAULTS = {
    "quad_slider": 2.0,
    "quad_number": 2.0,
    "sq_source": "random, with a seed",
    "sq_text": "1, -2, 3",
    "sq_length": 5,
    "sq_seed": 0,
    "fp_x1": 2.0,
    "fp_x2": 3.0,
    "fp_x3": 1.0,
    "fp_x4": 4.0,
    "fp_dtype": "float16",
    "own_text": "sin(x) * x**2",
    "own_range": (-5.0, 5.0),
    "own_x": 1.0,
    "own_y": 1.0,
    "own_h": 1e-5,
}
for key, value in DEFAULTS.items():
    st.session_state.setdefault(key, value)
KEEP = {"persist_state": "session"}


def _copy(source: str, target: str) -> None:
    # Slider and number box show the same x: whichever moved, the other follows.
    st.session_state[target] = st.session_state[source]


def _code(text: str) -> None:
    st.code(text, wrap_lines=True)


st.title("Autograd")
st.markdown(
    "PyTorch records every operation on a tensor with `requires_grad=True`; `backward()` (or "
    "`torch.autograd.grad`) walks that record backwards and applies the chain rule. Here you compare its "
    "answers with derivatives worked out by hand."
)

# on_change="rerun" makes the tabs report which one is open: only that one is computed and drawn.
tab1, tab2, tab3, tab4, tab5 = st.tabs(
    ["1. y = x² + 3x + 1", "2. y = sum(x²)", "3. f = x1·x2 + x3·x4", "4. Your own function", ONE_STEP_TAB],
    key="ag_tab",
    on_change="rerun",
)

# --- 1. one variable, backward() -------------------------------------------------------------------------
if tab1.open:
    with tab1:
        left, right = st.columns(2, gap="large")
        with left:
            a, b = st.columns([3, 2])
            a.slider(
                "x",
                -10.0,
                10.0,
                step=0.1,
                key="quad_slider",
                on_change=_copy,
                args=("quad_slider", "quad_number"),
                **KEEP,
            )
            b.number_input(
                "x (type a value)",
                -10.0,
                10.0,
                step=0.1,
                key="quad_number",
                on_change=_copy,
                args=("quad_number", "quad_slider"),
                **KEEP,
            )
            q = demos.quadratic(st.session_state.quad_slider)
            m1, m2, m3 = st.columns(3)
            m1.metric("y", fmt(q.y))
            m2.metric("dy/dx from backward()", fmt(q.dydx))
            m3.metric("2x + 3 by hand", fmt(q.hand))
        with right:
            _code(demos.QUADRATIC_CODE.format(x=q.x, dydx=q.dydx))
            st.caption("The tangent's slope is the derivative: where it is 0 (x = −1.5) the curve turns.")
        curve = demos.quadratic_curve(q.x)
        names = ("y = x² + 3x + 1", f"tangent at x = {fmt(q.x)}, slope {fmt(q.dydx)}")
        # Vega, not Plotly: the page's first screen then never loads Plotly's 4.7 MB of browser code.
        tangent = tangent_chart(curve, names, (q.x, q.y), "(x, y)", (min(-5, q.y - 5), max(40, q.y + 5)))
        chart(tangent, tangent_words(curve, names, (q.x, q.y), q.dydx), key="quad_chart")

# --- 2. a vector, sum of squares ---------------------------------------------------------------------------
if tab2.open:
    with tab2:
        left, right = st.columns(2, gap="large")
        with left:
            source = st.radio("Values of x", ["random, with a seed", "typed"], horizontal=True, key="sq_source", **KEEP)
            values = None
            if source == "typed":
                text = st.text_input(
                    f"x (up to {demos.MAX_VECTOR} numbers, separated by commas)", key="sq_text", **KEEP
                )
                try:
                    values = demos.parse_values(text)
                except ValueError as error:
                    st.error(f"Cannot read these numbers: {error}")
            else:
                a, b = st.columns(2)
                length = a.slider("Length", 1, demos.MAX_VECTOR, key="sq_length", **KEEP)
                seed = b.number_input("Seed", 0, 10_000, step=1, key="sq_seed", **KEEP)
                values = demos.random_values(length, seed)
            if values is not None:
                r = demos.sum_of_squares(values)
                st.metric("y = sum(x²)", fmt(r.y))
                labels = [f"x[{i}]" for i in range(len(r.x))]
                table(
                    {
                        "element": labels,
                        "x": [fmt(v) for v in r.x],
                        "gradient from autograd": [fmt(v) for v in r.grad],
                        "2x by hand": [fmt(v) for v in r.hand],
                    }
                )
        with right:
            shown = values if values is not None else [1.0, -2.0, 3.0]
            _code(demos.SUM_OF_SQUARES_CODE.format(values=[float(v) for v in shown]))
            if values is not None and r.agree:
                st.success("The gradient from autograd equals 2x, element by element.")
        if values is not None:  # its numbers are the table above
            chart(gradient_figure(r), gradient_words(r), key="sq_chart", numbers=False)

# --- 3. four inputs, torch.autograd.grad, dtypes -----------------------------------------------------------
if tab3.open:
    with tab3:
        left, right = st.columns(2, gap="large")
        with left:
            columns = st.columns(4)
            inputs = [
                column.number_input(f"x{i}", -100_000.0, 100_000.0, step=1.0, key=f"fp_x{i}", **KEEP)
                for i, column in enumerate(columns, start=1)
            ]
            dtype = st.radio(
                "dtype",
                list(demos.DTYPES),
                horizontal=True,
                key="fp_dtype",
                **KEEP,
                help="float16 is what the lecture uses; it keeps only about 3 significant digits.",
            )
            r = demos.four_products(*inputs, dtype=dtype)
            st.metric(f"f = x1·x2 + x3·x4 ({dtype})", fmt(r.f))
            hand = zip(demos.HAND_FORMULAS, r.hand, strict=True)
            table(
                {
                    "partial derivative": [f"∂f/∂x{i}" for i in range(1, 5)],
                    "from torch.autograd.grad": [fmt(g) for g in r.grads],
                    "by hand": [f"{name} = {fmt(v)}" for name, v in hand],
                }
            )
        with right:
            x1, x2, x3, x4 = inputs
            _code(demos.FOUR_PRODUCTS_CODE.format(dtype=dtype, x1=x1, x2=x2, x3=x3, x4=x4))

        st.subheader("What float16 rounding does")
        st.markdown(
            "float16 has 16 bits: about 3 significant digits and nothing above **65504**. Try x1 = x2 = 300: "
            "x1·x2 = 90000 does not fit, and f becomes `inf`."
        )
        a, b = st.columns(2, gap="large")
        with a:
            st.caption("Your inputs in each dtype")
            rows = [demos.four_products(*inputs, dtype=name) for name in demos.DTYPES]
            table(
                {"dtype": [row.dtype for row in rows]}
                | {f"x{i + 1} stored": [fmt(row.inputs[i]) for row in rows] for i in range(4)}
                | {"f": [fmt(row.f) for row in rows]}
            )
        with b:
            st.caption("Large (and small) numbers stored as float16")
            rounding = demos.float16_rounding()
            table(
                {
                    "value": [fmt(row.value) for row in rounding],
                    "stored as float16": [fmt(row.stored) for row in rounding],
                    "error": [fmt(row.error) for row in rounding],
                    "next float16 up": ["none" if row.gap is None else f"+{fmt(row.gap)}" for row in rounding],
                }
            )

# --- 4. the student's own function -------------------------------------------------------------------------
if tab4.open:
    with tab4:
        text = st.text_input(
            "f(x) or f(x, y) =",
            key="own_text",
            max_chars=MAX_LENGTH,
            **KEEP,
            help="Numbers, x and y, + - * / **, brackets, pi and the functions below.",
        )
        st.caption("Functions: " + ", ".join(f"`{name}`" for name in FUNCTIONS) + ", and the constant `pi`.")
        try:
            expr = parse_expression(text)
        except ExpressionError as error:
            st.error(f"This expression cannot be used: {error}")
            expr = None

        if expr is not None:
            uses_y = "y" in expr.variables
            a, b, c, d = st.columns([3, 1, 1, 2])
            x_min, x_max = a.slider("Range of x", -20.0, 20.0, step=0.5, key="own_range", **KEEP)
            x0 = b.number_input("Gradient at x =", -1000.0, 1000.0, step=0.1, key="own_x", **KEEP)
            y0 = c.number_input(
                "y =",
                -1000.0,
                1000.0,
                step=0.1,
                key="own_y",
                disabled=not uses_y,
                **KEEP,
                help=None if uses_y else "Your formula does not use y.",
            )
            h = d.select_slider(
                "Finite-difference step h",
                [10.0**-k for k in range(1, 11)],
                key="own_h",
                **KEEP,
                format_func=lambda v: f"{v:.0e}",
            )

            point = demos.custom_point(expr, x0, y0, h)
            curve = demos.custom_curve(expr, x_min, x_max, y0)
            names = ["x", "y"] if uses_y else ["x"]
            left, right = st.columns(2, gap="large")
            with left:
                st.metric(f"f({', '.join(fmt(v) for v in ([x0, y0] if uses_y else [x0]))})", fmt(point.value))
                table(
                    {
                        "derivative": [f"∂f/∂{n}" for n in names],
                        "autograd (exact)": [fmt(point.exact[n]) for n in names],
                        f"finite difference, h = {h:.0e}": [fmt(point.estimate[n]) for n in names],
                        "difference": [f"{point.difference(n):.2e}" for n in names],
                    }
                )
            with right:
                _code(demos.custom_code(expr, x0, y0))
            left, right = st.columns([3, 2], gap="large")
            with left:
                shown = text if not uses_y else f"{text}, with y = {fmt(y0)}"
                chart(function_figure(curve), function_words(shown, curve), key="own_chart")
                if None in curve.ys:
                    st.info("f is undefined (or infinite) at some x in this range: those points are left out.")
            with right:
                st.caption("The graph autograd recorded, from the inputs down to f; backward() walks it upwards.")
                # A new container per expression: the chart is drawn afresh, because updating it in place
                # loses the shapes of nodes that are new (Streamlit's d3-graphviz redraw).
                with st.container(key=f"graph_{zlib.crc32(expr.torch_source().encode()):08x}"):
                    chart(point.graph, graph_words(point.graph), key="own_graph")

# --- 5. one training step of the network, seen whole ---------------------------------------------------------
with tab5:
    if tab5.open:
        one_step_tab()
