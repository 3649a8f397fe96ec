"""The Mistakes page driven by Streamlit's AppTest: run choice, matrix, gallery controls, the four tabs, bad input.

Two real short runs (a few seconds each) are trained once for the module, on the real MNIST.
"""

import base64
import io
import json
import shutil
import time

import numpy as np
import pyarrow as pa
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.engine.calibration import calibration
from core.engine.config import TrainConfig
from core.engine.run_store import RunStore
from core.engine.trainer import Trainer
from core.lessons.digits import NOT_IMAGE
from core.lessons.mistakes import confusion, gallery, headline, per_class_accuracy
from core.views.mistakes_charts import accuracy_words, confusion_words, reliability_words
from core.views.mistakes_view import picture_alt
from tests.lab_helpers import APP
from tests.test_digits import draw, encode, png_of_black

PAGE = "pages/mistakes.py"
TIFF_DIGIT = encode(draw("one").convert("F"), "TIFF")


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory, mnist):
    """Two finished runs: an older weak one (SGD) and the newest, better one (Adam)."""
    root = tmp_path_factory.mktemp("mistakes-runs")
    store = RunStore(root)
    configs = [
        ("weak", TrainConfig(epochs=1, train_subset=1000)),
        ("adam", TrainConfig(epochs=1, train_subset=2000, optimizer="adam", lr=0.002)),
    ]
    for label, config in configs:
        Trainer(config, mnist, callbacks=[store.create(config, label=label)]).fit()
        time.sleep(1.1)  # run ids sort by the second they were made: keep the order certain
    return root


def open_page(monkeypatch, root) -> AppTest:
    monkeypatch.setenv("MNIST_LAB_RUNS", str(root))
    st.cache_resource.clear()  # other tests may have cached a fake MNIST
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


@pytest.fixture
def app(runs_root, monkeypatch):
    at = open_page(monkeypatch, runs_root)
    yield at
    st.cache_resource.clear()


@pytest.fixture
def newest(runs_root):
    return RunStore(runs_root).list()[0]


def matrix_cells(at: AppTest) -> list[tuple[tuple[int, int], str]]:
    """The confusion matrix's cells as sent to the browser: ((true, predicted), the text written on it)."""
    chart = next(c.proto for c in at.get("vega_lite_chart") if '"cell"' in c.proto.spec)
    frame = pa.ipc.open_stream(chart.datasets[0].data.data).read_all().to_pandas()
    return [((int(r.true), int(r.predicted)), r.label) for r in frame.itertuples()]


def run_again(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception
    return at


def open_tab(at: AppTest, title: str) -> AppTest:
    at.session_state["mk_tab"] = title
    return run_again(at)


def gallery_captions(at: AppTest) -> list[str]:
    return at.image[0].captions


def alts(at: AppTest, k: int = 0) -> list[str]:
    """The alt texts of the pictures of the page's k-th st.image call."""
    return [img.alt for img in at.image[k].proto.imgs]


def numbers_tables(at: AppTest) -> list:
    """The "Show the numbers" tables (st.dataframe) on the page, as DataFrames."""
    return [frame.value for frame in at.dataframe]


def counts_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "showing" in m.value)


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [e.value for e in at.info]
    return "\n".join(parts + [e.value for e in at.warning] + [s.value for s in at.subheader])


def digit_png(image: np.ndarray, side: int = 280) -> bytes:
    """A real MNIST digit as a student's photo would be: large, black ink on white paper."""
    picture = Image.fromarray(255 - image).resize((side, side), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


# --- no runs, run choice ------------------------------------------------------------------------------------


def test_without_runs_the_page_points_to_train(tmp_path, monkeypatch):
    at = open_page(monkeypatch, tmp_path / "empty")
    assert "no trained run" in at.info[0].value
    link = at.get("page_link")[0]
    assert "train" in link.proto.page.lower()
    st.cache_resource.clear()


def test_opens_on_the_newest_finished_run_with_its_headline(app, newest):
    assert app.selectbox(key="mk_run").value == newest.id
    assert app.subheader[0].value == headline(newest.predictions())
    assert "adam ·" in app.selectbox(key="mk_run").format_func(newest.id)
    assert not app.get("plotly_chart")  # Vega-Lite only: the first screen never loads Plotly (issue 19)
    counts = confusion(newest.predictions())[0, :3]  # the diagonal's right answers also marked ✓
    assert [label for _, label in matrix_cells(app)[:3]] == [f"✓ {counts[0]}", str(counts[1]), str(counts[2])]


def test_the_matrix_and_the_accuracies_are_in_words_and_tables(app, newest):
    p = newest.predictions()
    matrix, accuracy = confusion_words(p), accuracy_words(per_class_accuracy(p))
    assert matrix.summary.startswith("The most common mistake: ") and matrix.summary in texts(app)
    assert accuracy.summary in texts(app)
    assert {chart.proto.alt for chart in app.get("vega_lite_chart")} >= {matrix.alt, accuracy.alt}
    (table,) = [frame for frame in numbers_tables(app) if "read as 9" in frame.columns]
    assert table["read as 9"].tolist() == confusion(p)[:, 9].tolist()
    app.segmented_control(key="mk_matrix_view").set_value("percent")
    run_again(app)
    assert confusion_words(p, normalize=True).alt in {chart.proto.alt for chart in app.get("vega_lite_chart")}


def test_calibration_shows_the_reliability_diagram_and_the_error(app, newest):
    c = calibration(newest.predictions())
    # Closed, the calibration section draws no chart (issue 19: a lighter page); opened, it shows it all.
    assert not any("how sure" in chart.proto.spec for chart in app.get("plotly_chart"))
    app.session_state["mk_calibration_open"] = True
    run_again(app)
    figures = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    (reliability,) = [f for f in figures if f["layout"]["xaxis"]["title"]["text"].startswith("how sure")]
    bars = reliability["data"][0]["y"]  # plotly sends numbers as base64 binary
    accuracy = np.frombuffer(base64.b64decode(bars["bdata"]), dtype=bars["dtype"])
    assert accuracy == pytest.approx(100 * c.accuracy[c.counts > 0])
    assert f"Expected calibration error **{100 * c.ece:.2f} %**" in texts(app)
    assert reliability_words(c).summary in texts(app)
    assert reliability_words(c).alt in [chart.proto.alt for chart in app.get("plotly_chart")]
    assert f"Overall it is {'over' if c.overconfident else 'under'}-confident" in texts(app)


def test_the_run_downloads_as_a_standalone_script(app, newest):
    (button,) = [b for b in app.get("download_button") if b.proto.label == "Script (.py)"]
    assert not button.proto.disabled
    assert "from core" not in newest.reproduce_script()


def test_choosing_the_other_run_changes_everything(app, runs_root):
    older = RunStore(runs_root).list()[1]
    app.selectbox(key="mk_run").set_value(older.id)
    run_again(app)
    assert app.subheader[0].value == headline(older.predictions())


def test_a_link_with_a_run_opens_that_run_once_then_the_choice_is_the_students(runs_root, monkeypatch, newest):
    older = RunStore(runs_root).list()[1]
    monkeypatch.setenv("MNIST_LAB_RUNS", str(runs_root))
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.query_params["run"] = older.id  # the Class page's spotlight links here with ?run=<id>
    at.switch_page(PAGE).run()
    assert not at.exception and at.selectbox(key="mk_run").value == older.id
    at.selectbox(key="mk_run").set_value(newest.id)
    run_again(at)
    assert at.selectbox(key="mk_run").value == newest.id  # the link does not pull the student back
    st.cache_resource.clear()


def test_a_damaged_predictions_file_is_explained(runs_root, monkeypatch, tmp_path):
    broken = tmp_path / "runs"
    source = RunStore(runs_root).list()[0].path
    shutil.copytree(source, broken / source.name)
    (broken / source.name / "predictions.npz").write_bytes(b"not a zip file")
    at = open_page(monkeypatch, broken)
    assert "cannot be read" in at.error[0].value
    st.cache_resource.clear()


# --- matrix, gallery, closer look --------------------------------------------------------------------------


def test_gallery_shows_the_most_confident_mistakes_first(app, newest):
    p = newest.predictions()
    expected = gallery(p)[:40]
    captions = gallery_captions(app)
    assert len(captions) == 40
    assert [c.rsplit("#", 1)[1] for c in captions] == [str(i) for i in expected]
    assert counts_line(app).startswith(f"**{len(gallery(p)):,} mistakes**")
    assert alts(app) == [picture_alt(p, i) for i in expected]  # each picture its own words
    assert alts(app)[0].startswith(f"Test digit {expected[0]:,}: a {p.labels[expected[0]]}; the network said ")


def test_filters_by_true_and_predicted_digit(app, newest):
    p = newest.predictions()
    pair = max(((t, q) for t in range(10) for q in range(10) if t != q),
               key=lambda tq: len(gallery(p, tq[0], tq[1])))  # fmt: skip
    app.pills(key="mk_true").set_value(pair[0])
    app.pills(key="mk_predicted").set_value(pair[1])
    run_again(app)
    assert f"with true digit {pair[0]} and predicted {pair[1]}" in counts_line(app)
    assert all(c.startswith(f"{pair[0]}\u00a0→\u00a0{pair[1]}") for c in gallery_captions(app))


def test_sort_show_correct_pages_and_clear(app, newest):
    p = newest.predictions()
    app.segmented_control(key="mk_sort").set_value("least_confident")
    app.toggle(key="mk_correct").set_value(True)
    run_again(app)
    assert counts_line(app).startswith("**10,000 test images**")
    expected = gallery(p, sort="least_confident", include_correct=True)
    assert gallery_captions(app)[0].endswith(f"#{expected[0]}")
    app.pagination[0].set_value(3)
    run_again(app)
    assert "showing 81–120 · page 3 of 250" in counts_line(app)
    assert gallery_captions(app)[0].endswith(f"#{expected[80]}")
    app.pills(key="mk_true").set_value(0)  # a new filter starts again at page 1
    run_again(app)
    assert "page 1 of" in counts_line(app)
    next(b for b in app.button if b.label == "Clear filters").click()
    run_again(app)
    assert counts_line(app).startswith(f"**{len(gallery(p)):,} mistakes**")


def test_a_filter_with_nothing_to_show_says_so(app, newest):
    p = newest.predictions()
    empty = next((t, q) for t in range(10) for q in range(10) if t != q and len(gallery(p, t, q)) == 0)
    app.pills(key="mk_true").set_value(empty[0])
    app.pills(key="mk_predicted").set_value(empty[1])
    run_again(app)
    assert "0 mistakes with" in app.info[0].value


def test_percent_view_of_the_matrix(app):
    app.segmented_control(key="mk_matrix_view").set_value("percent")
    run_again(app)
    assert all("." in label for _, label in matrix_cells(app))


def test_a_closer_look_at_a_chosen_image(app, newest):
    p = newest.predictions()
    third = int(gallery(p)[2])
    app.selectbox(key="mk_pick").set_value(third)
    run_again(app)
    summary = next(m.value for m in app.markdown if m.value.startswith("Top three"))
    assert summary.endswith(f"True digit: **{int(p.labels[third])}**.")
    assert f"**{int(p.predicted[third])}**" in summary.split("·")[0]
    assert alts(app, 1) == [picture_alt(p, third)]
    bars = next(chart.proto.alt for chart in app.get("vega_lite_chart") if chart.proto.alt.startswith("Bar chart of "
                                                                                                    "the network's"))
    assert bars.endswith(f"the answer is {'right' if p.correct[third] else 'wrong'}.")


# --- compare, try it, inside --------------------------------------------------------------------------------


def test_compare_two_runs(app):
    open_tab(app, "Compare two runs")
    card = {"Accuracy", "Loss", "Time per image", "Consistency"}  # the run's report card, above the tabs
    assert card <= {m.label for m in app.metric}
    values = [int(m.value.replace(",", "")) for m in app.metric if m.label not in card]
    assert len(values) == 4 and sum(values) == 10_000
    assert len(gallery_captions(app)) == min(40, values[0])
    assert all(" run A said " in alt and " run B said " in alt for alt in alts(app))
    app.segmented_control(key="mk_compare_kind").set_value("both_wrong")
    run_again(app)
    assert len(gallery_captions(app)) == min(40, values[2])


def test_compare_needs_a_second_run(runs_root, monkeypatch, tmp_path):
    single = tmp_path / "runs"
    source = RunStore(runs_root).list()[0].path
    shutil.copytree(source, single / source.name)
    at = open_tab(open_page(monkeypatch, single), "Compare two runs")
    assert "only one run" in at.info[0].value
    st.cache_resource.clear()


def test_try_it_offers_a_canvas_then_predicts_an_uploaded_digit(app, mnist):
    open_tab(app, "Try it yourself")
    assert app.get("bidi_component")  # the drawing canvas (unknown to AppTest)
    assert "empty" in app.info[0].value
    app.segmented_control(key="mk_source").set_value("upload")
    run_again(app)
    seven = mnist.test_images[0].numpy()  # the first test image is a 7
    app.file_uploader(key="mk_upload").set_value(("seven.png", digit_png(seven), "image/png"))
    run_again(app)
    assert not app.error
    assert "The network says" in texts(app)
    assert "inverted" in app.caption[-1].value  # black on white became white on black
    assert len(app.image) == 2  # the original and the 28x28 input
    assert alts(app) == ["Your uploaded picture, 280 × 280 pixels, light ink on dark (inverted: it was dark on "
                         "light)."]
    assert "Top three: **" in texts(app)


def test_try_it_by_keyboard_with_a_test_digit(app, newest):
    p = newest.predictions()
    open_tab(app, "Try it yourself")
    assert "Without a mouse" in app.caption[0].value  # under the canvas: the keyboard's ways
    app.segmented_control(key="mk_source").set_value("test")
    run_again(app)
    assert app.number_input(key="mk_try_index").value == 0
    app.number_input(key="mk_try_index").set_value(7)
    run_again(app)
    assert f"The network says **{int(p.predicted[7])}**" in texts(app)
    assert alts(app) == ["Test image #7 as the network reads it: 28 × 28 pixels, light ink on dark."]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"this is not a picture", NOT_IMAGE),
        ("empty.png", b"", "empty (0 bytes)"),
        ("blank.png", None, "The drawing is empty"),
        ("tall.png", png_of_black(1, 16_777_216), "each side at most 4,096 pixels"),  # the probe's 32 KB PNG
        ("float.png", TIFF_DIGIT, NOT_IMAGE),  # a float TIFF named .png: the header says what it is
    ],
)
def test_try_it_explains_a_bad_upload(app, name, content, message):
    if content is None:  # a valid picture with nothing on it
        buffer = io.BytesIO()
        Image.new("L", (200, 200), 255).save(buffer, format="PNG")
        content = buffer.getvalue()
    open_tab(app, "Try it yourself")
    app.segmented_control(key="mk_source").set_value("upload")
    run_again(app)
    app.file_uploader(key="mk_upload").set_value((name, content, "application/octet-stream"))
    run_again(app)
    assert message in app.error[0].value
    assert "The network says" not in texts(app)


def test_inside_the_network(app, newest):
    open_tab(app, "Inside the network")
    assert "128 weight pictures" in texts(app)
    app.number_input(key="mk_inside_index").set_value(5)
    run_again(app)
    label = int(newest.predictions().labels[5])
    assert f"test image #5 (a {label}) as each layer of 784 → 128 → 64 → 10 sees it" in texts(app)
    assert any("of 128 neurons active" in c.value for c in app.caption)
    assert alts(app)[0].startswith("128 small pictures, 16 across, one per neuron of the first hidden layer")
    assert "Strongest weights (mean size): neuron " in texts(app)
    assert alts(app, 1) == [f"Test image #5 (a {label}) as the network reads it: 28 × 28 pixels, light ink on dark."]
    layers = [chart.proto.alt for chart in app.get("plotly_chart")]
    assert layers[0].startswith("Hidden layer 1: its 128 neurons as a grid of squares")
    assert all(alt.startswith("The weights of neuron ") for alt in alts(app, 2))
    app.toggle(key="mk_weight_scale").set_value(True)
    run_again(app)
    assert any("each neuron's own largest weight" in c.value for c in app.caption)


def test_inside_shows_the_students_own_digit(app, mnist):
    open_tab(app, "Try it yourself")
    app.segmented_control(key="mk_source").set_value("upload")
    run_again(app)
    app.file_uploader(key="mk_upload").set_value(("two.png", digit_png(mnist.test_images[1].numpy()), "image/png"))
    run_again(app)
    open_tab(app, "Inside the network")
    app.segmented_control(key="mk_inside_source").set_value("mine")
    run_again(app)
    assert "your digit as each layer" in texts(app)


def test_a_run_without_weights_is_explained_on_the_model_tabs(runs_root, monkeypatch, tmp_path):
    copy = tmp_path / "runs"
    source = RunStore(runs_root).list()[0].path
    shutil.copytree(source, copy / source.name)
    (copy / source.name / "model.pt").unlink()
    at = open_page(monkeypatch, copy)
    for title in ("Try it yourself", "Inside the network"):
        open_tab(at, title)
        assert "cannot be loaded" in at.error[0].value
    st.cache_resource.clear()
