"""The dashboard shell and the Autograd page, driven by Streamlit's AppTest (no browser)."""


import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import core.engine.data
from tests.lab_helpers import APP, REPO

PAGE_TITLES = ["Home", "Autograd", "Hyperparameters", "Train", "Mistakes", "Class"]
PAGE_FILES = ["pages/home.py", "pages/autograd.py", "pages/hyperparameters.py", "pages/train.py", "pages/mistakes.py",
              "pages/class.py"]


@pytest.fixture
def app(monkeypatch, tmp_path, fake_mnist):
    """The app with a fake MNIST, a scratch runs folder, fresh caches, run once on its default page (Home)."""
    monkeypatch.setenv("MNIST_LAB_RUNS", str(tmp_path / "runs"))
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    yield at
    st.cache_resource.clear()


AUTOGRAD_TABS = ["1. y = x² + 3x + 1", "2. y = sum(x²)", "3. f = x1·x2 + x3·x4", "4. Your own function"]


def open_autograd(at, tab: int = 1):
    """The Autograd page with tab number `tab` open: only the open tab is drawn (issue 19)."""
    at.switch_page("pages/autograd.py").run()
    if tab != 1:
        open_tab(at, tab)
    assert not at.exception
    return at


def open_tab(at, tab: int):
    at.session_state["ag_tab"] = AUTOGRAD_TABS[tab - 1]
    at.run()
    assert not at.exception
    return at


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def table_with(at, column):
    """The first table on the page with this column, as a DataFrame."""
    return next(t.value for t in at.table if column in t.value.columns)


def rows_of(frame):
    return [tuple(row) for row in frame.itertuples(index=False)]


# --- shell ----------------------------------------------------------------------------------------------


def test_navigation_lists_the_pages_in_lecture_order(monkeypatch, fake_mnist):
    seen = []
    real = st.navigation

    def recording(pages, **kwargs):
        seen.append([(p.title, p.url_path) for p in pages])
        return real(pages, **kwargs)

    monkeypatch.setattr(st, "navigation", recording)
    AppTest.from_file(APP, default_timeout=30).run()
    assert [title for title, _ in seen[0]] == PAGE_TITLES
    assert [path for _, path in seen[0][1:]] == ["autograd", "hyperparameters", "train", "mistakes", "class"]


@pytest.mark.parametrize(("page", "title"), list(zip(PAGE_FILES, PAGE_TITLES, strict=True)))
def test_each_page_opens_without_an_exception(app, page, title):
    app.switch_page(page).run()
    assert not app.exception
    expected = "MNIST Lab" if title == "Home" else title
    assert app.title[0].value == expected


def test_home_shows_the_network_samples_and_where_to_go(app):
    assert not app.exception and not app.error
    dot = app.get("graphviz_chart")[0].proto.spec
    assert "784 neurons" in dot and "10 neurons" in dot
    assert list(table_with(app, "What one neuron sees")["Neurons"]) == ["784", "128", "64", "10"]
    assert app.get("graphviz_chart")[0].proto.alt.startswith(
        "Diagram of the network, left to right: Input (784 neurons), Hidden 1 (128 neurons)")
    assert "784 → 128 → 64 → 10, with ReLU between the layers: 109,386 weights and biases to learn." in " ".join(
        m.value for m in app.markdown)
    (strip,) = app.get("image")
    digits = {image.caption: image.alt for image in strip.proto.imgs}
    assert digits == {"The first test image of each digit, 0 to 9":
                      "Ten test digits, 0 to 9, one of each, handwritten, dark on white, side by side."}
    assert [link.proto.label.split(":")[0] for link in app.get("page_link")] == PAGE_TITLES[1:]


def test_home_explains_when_mnist_is_missing(monkeypatch):
    def missing(root=None):
        raise core.engine.data.MNISTUnavailable("MNIST is not in data/MNIST/raw. Run: make data")

    monkeypatch.setattr(core.engine.data, "load_mnist", missing)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "make data" in at.error[0].value
    assert at.get("graphviz_chart")  # the rest of the page still shows


def test_streamlit_config_is_set_for_a_lab_server():
    import tomllib

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["headless"] is True
    assert config["theme"]["primaryColor"]


# --- Autograd page: the numbers at the defaults ---------------------------------------------------------


def test_example_1_defaults(app):
    open_autograd(app)
    assert (metric(app, "y"), metric(app, "dy/dx from backward()"), metric(app, "2x + 3 by hand")) == ("11", "7", "7")
    assert not app.get("plotly_chart")  # Vega, so the first screen never loads Plotly's browser code (issue 19)
    chart = app.get("vega_lite_chart")[0].proto
    assert "tangent at x = 2, slope 7" in chart.spec + str(chart.datasets)
    words = "At x = 2 the curve is at y = 11, and its tangent rises with slope 7"
    assert chart.alt.startswith("Line chart of y = x² + 3x + 1") and words in chart.alt
    assert any(m.value.startswith(words) for m in app.markdown)


def test_example_2_defaults_show_gradient_beside_two_x(app):
    open_autograd(app, 2)
    table = table_with(app, "gradient from autograd")
    for x, gradient in zip(table["x"], table["gradient from autograd"], strict=True):
        assert float(gradient) == pytest.approx(2 * float(x))
    assert any("equals 2x" in s.value for s in app.success)
    (chart,) = app.get("plotly_chart")
    assert chart.proto.alt.startswith("Bar chart of the gradient of sum(x²) from autograd beside 2x, for 5 elements.")
    assert any(m.value.startswith("For all 5 elements the gradient from autograd equals 2x") for m in app.markdown)
    assert not app.dataframe  # the numbers are the table beside it


def test_example_3_defaults_match_the_lecture(app):
    open_autograd(app, 3)
    assert metric(app, "f = x1·x2 + x3·x4 (float16)") == "10"
    assert rows_of(table_with(app, "from torch.autograd.grad")) == [
        ("∂f/∂x1", "3", "x2 = 3"), ("∂f/∂x2", "2", "x1 = 2"), ("∂f/∂x3", "4", "x4 = 4"), ("∂f/∂x4", "1", "x3 = 1"),
    ]
    assert ("70000", "inf") in rows_of(table_with(app, "stored as float16")[["value", "stored as float16"]])


def test_example_4_defaults(app):
    open_autograd(app, 4)
    assert app.text_input(key="own_text").value == "sin(x) * x**2"
    assert metric(app, "f(1)") == "0.841471"
    assert rows_of(table_with(app, "autograd (exact)"))[0][:3] == ("∂f/∂x", "2.22324", "2.22324")
    dot = app.get("graphviz_chart")[0].proto.spec
    assert "SinBackward0" in dot and "x = 1" in dot
    assert app.get("graphviz_chart")[0].proto.alt.endswith("MulBackward0 gives f = 0.8415.")
    assert app.get("plotly_chart")[0].proto.alt.startswith("Line chart of f = sin(x) * x**2 (solid)")
    text = " ".join(m.value for m in app.markdown)
    assert "df/dx crosses 0 at x ≈ -2.289 and 2.289: there f turns." in text
    assert "Autograd recorded 3 operations from x = 1 to f = 0.8415" in text
    assert [list(frame.value.columns) for frame in app.dataframe] == [["x", "f(x)", "df/dx"], ["from", "to"]]


# --- Autograd page: changed inputs change the output ---------------------------------------------------


def test_slider_and_number_box_move_together(app):
    open_autograd(app)
    app.slider(key="quad_slider").set_value(3.0).run()
    assert app.number_input(key="quad_number").value == 3.0
    assert (metric(app, "y"), metric(app, "dy/dx from backward()")) == ("19", "9")
    app.number_input(key="quad_number").set_value(-1.5).run()
    assert app.slider(key="quad_slider").value == -1.5
    assert metric(app, "dy/dx from backward()") == "0"


def test_typed_vector_and_a_bad_one(app):
    open_autograd(app, 2)
    app.radio(key="sq_source").set_value("typed").run()
    app.text_input(key="sq_text").input("1, -2, 3").run()
    assert metric(app, "y = sum(x²)") == "14"
    app.text_input(key="sq_text").input("1, two").run()
    assert not app.exception
    assert "not a number: two" in app.error[0].value


def test_seed_changes_the_random_vector(app):
    open_autograd(app, 2)
    before = metric(app, "y = sum(x²)")
    app.number_input(key="sq_seed").set_value(7).run()
    assert metric(app, "y = sum(x²)") != before


def test_float16_overflow_and_dtype_choice(app):
    open_autograd(app, 3)
    app.number_input(key="fp_x1").set_value(300.0).run()
    app.number_input(key="fp_x2").set_value(300.0).run()
    assert metric(app, "f = x1·x2 + x3·x4 (float16)") == "inf"
    app.radio(key="fp_dtype").set_value("float32").run()
    assert metric(app, "f = x1·x2 + x3·x4 (float32)") == "90004"


def test_own_function_with_y_and_a_new_point(app):
    open_autograd(app, 4)
    app.text_input(key="own_text").input("x * y**2").run()
    app.number_input(key="own_x").set_value(2.0).run()
    app.number_input(key="own_y").set_value(3.0).run()
    assert metric(app, "f(2, 3)") == "18"
    table = table_with(app, "autograd (exact)")
    assert list(table["autograd (exact)"]) == ["9", "12"] and list(table["derivative"]) == ["∂f/∂x", "∂f/∂y"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("__import__('os').system('id')", "attribute access is not allowed: .system"),
        ("().__class__", "attribute access is not allowed: .__class__"),
        ("9**9**9", "exponent is too large"),
        ("lambda: 1", "lambda functions are not allowed"),
        ("foo(x)", "unknown function: foo"),
        ("", "empty"),
    ],
)
def test_bad_expression_shows_an_error_and_the_page_keeps_working(app, text, words):
    open_autograd(app, 4)
    app.text_input(key="own_text").input(text).run()
    assert not app.exception
    assert any(words in e.value for e in app.error)
    app.text_input(key="own_text").input("x**3").run()
    assert not app.error and metric(app, "f(1)") == "1"
    assert metric(open_tab(app, 1), "dy/dx from backward()") == "7"  # the other examples are untouched


def test_choices_survive_a_visit_to_another_page(app):
    open_autograd(app)
    app.slider(key="quad_slider").set_value(4.0).run()
    open_tab(app, 4).text_input(key="own_text").input("exp(x)").run()
    app.switch_page("pages/home.py").run()
    open_autograd(app, 4)
    assert app.text_input(key="own_text").value == "exp(x)"
    assert metric(open_tab(app, 1), "dy/dx from backward()") == "11"
