"""core.views.mistakes_view and core.views.mistakes_charts: run choice, gallery tiles, captions, comparisons."""

from types import SimpleNamespace

import numpy as np
import pytest

from core.lessons.mistakes import Predictions, compare, confusion
from core.views.mistakes_charts import (
    MATRIX_SELECTION,
    WEAKEST_MARK,
    _shade,
    accuracy_chart,
    activation_figure,
    confusion_chart,
    probability_chart,
)
from core.views.mistakes_view import (
    NBSP,
    caption,
    choice_label,
    compare_caption,
    comparison_counts,
    default_run,
    gallery_tile,
    run_option_line,
    viewable,
)
from core.views.palettes import RIGHT, RIGHT_MARK, RIGHT_SCALE, VERMILLION, WRONG, WRONG_MARK, WRONG_SCALE, rgb


def fake_run(run_id, status="finished", predictions=True, label="", accuracy=97.5):
    record = {
        "id": run_id, "label": label, "created": 1_700_000_000, "status": status, "test_accuracy": accuracy,
        "config": {"optimizer": "adam", "lr": 0.001, "epochs": 1},
    }  # fmt: skip
    return SimpleNamespace(id=run_id, status=status, has_predictions=predictions, record=record)


@pytest.fixture
def preds():
    labels = np.array([3, 3, 5, 8, 1])
    probs = np.full((5, 10), 0.02, dtype=np.float32)
    for i, d in enumerate([3, 5, 5, 3, 1]):
        probs[i, d] = 0.82
    return Predictions(labels, probs.argmax(axis=1), probs)


# --- which run --------------------------------------------------------------------------------------------


def test_default_run_is_the_newest_finished_one():
    runs = [fake_run("c", status="stopped"), fake_run("b", predictions=False), fake_run("a"), fake_run("z")]
    assert default_run(runs).id == "a"
    assert [r.id for r in viewable(runs)] == ["c", "a", "z"]


def test_default_run_falls_back_to_any_run_with_predictions_then_none():
    assert default_run([fake_run("s", status="stopped"), fake_run("f", status="failed", predictions=False)]).id == "s"
    assert default_run([fake_run("f", status="failed", predictions=False)]) is None
    assert default_run([]) is None


def test_run_option_line_names_label_accuracy_settings_and_unusual_status():
    title = run_option_line(fake_run("20250101-120000-abcd", label="wide net"))
    assert title.startswith("wide net · 97.50 % · adam lr 0.001, 1 epoch · ")
    assert "finished" not in title
    stopped = run_option_line(fake_run("20250101-120000-abcd", status="stopped", accuracy=None))
    assert stopped.startswith("Run 20250101-120000-abcd · no accuracy")
    assert stopped.endswith(" · stopped")


def test_run_option_line_of_a_real_run(mnist, runs_dir):
    from core.engine.config import TrainConfig
    from core.engine.run_store import RunStore
    from core.engine.trainer import Trainer

    store = RunStore(runs_dir)
    config = TrainConfig(epochs=1, train_subset=256, batch_size=64)
    Trainer(config, mnist, callbacks=[store.create(config, label="tiny")]).fit()
    run = store.list()[0]
    assert default_run(store.list()).id == run.id
    assert run_option_line(run).startswith("tiny · ")
    assert "sgd lr 0.01, 1 epoch" in run_option_line(run)


# --- gallery tiles and captions ---------------------------------------------------------------------------


def test_tile_is_crisp_and_framed_by_correctness():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[0, 0] = 255
    right, wrong = gallery_tile(image, True, scale=3), gallery_tile(image, False, scale=3)
    assert right.shape == wrong.shape == (28 * 3 + 6, 28 * 3 + 6, 3)
    assert tuple(right[0, 0]) == rgb(RIGHT) and tuple(wrong[0, 0]) == rgb(WRONG)
    assert (right[3:6, 3:6] == 255).all() and (right[6, 6] == 0).all()  # pixel (0, 0) is a solid 3x3 block


def test_captions_say_true_predicted_confidence_and_index(preds):
    assert caption(preds, 1) == f"3{NBSP}→{NBSP}5{NBSP}{WRONG_MARK}{NBSP}·{NBSP}82{NBSP}% #1"
    assert f"{NBSP}{RIGHT_MARK}{NBSP}" in caption(preds, 0)
    assert choice_label(preds, 1) == "Test image #1: a 3, predicted 5 with 82.0 % (wrong)"
    assert choice_label(preds, 0).endswith("(right)")


def test_comparison_counts_and_captions(preds):
    other = Predictions(preds.labels, np.array([3, 3, 1, 8, 1]), preds.probs)
    split = compare(preds, other)
    counts = comparison_counts(split)
    assert counts == {"a_right_b_wrong": 1, "a_wrong_b_right": 2, "both_wrong": 0, "both_right": 2}
    assert sum(counts.values()) == len(preds)
    assert compare_caption(preds, other, 2) == f"5:{NBSP}A{NBSP}5,{NBSP}B{NBSP}1 #2"


# --- figures ----------------------------------------------------------------------------------------------


def test_confusion_chart_cells_carry_their_digits_and_counts_and_are_clickable(preds):
    chart = confusion_chart(preds)
    cells = chart.data
    assert len(cells) == 100
    counts = confusion(preds)
    for row in cells.itertuples():  # y the true digit, x the predicted one; right answers also marked ✓
        mark = f"{RIGHT_MARK} " if row.true == row.predicted else ""
        assert row.label == mark + str(counts[row.true, row.predicted])
    spec = chart.to_dict()
    params = spec.get("params", []) + [param for layer in spec["layer"] for param in layer.get("params", [])]
    named = [(param["name"], param["select"]["fields"]) for param in params]
    assert named == [(MATRIX_SELECTION, ["true", "predicted"])]
    # Mistakes in the orange scale, right answers in the blue one, the fullest cell of each at its scale's end.
    diagonal, off = cells[cells.true == cells.predicted], cells[cells.true != cells.predicted]
    assert set(off.fill) <= {_shade(WRONG_SCALE, f / 100) for f in range(101)} and WRONG_SCALE[1][1] in set(off.fill)
    assert RIGHT_SCALE[1][1] in set(diagonal.fill) and not set(diagonal.fill) & set(off.fill)
    assert _shade(RIGHT_SCALE, 0.0) == RIGHT_SCALE[0][1]


def test_confusion_chart_percent_view(preds):
    cells = confusion_chart(preds, normalize=True).data.set_index(["true", "predicted"])
    assert cells.loc[(3, 5), "label"] == "50.0"
    assert cells.loc[(3, 3), "label"] == f"{RIGHT_MARK} 50.0" and cells.loc[(1, 1), "label"] == f"{RIGHT_MARK} 100.0"


def test_accuracy_chart_marks_the_weakest_digit(preds):
    accuracy = np.array([np.nan, 100, np.nan, 50, np.nan, 100, np.nan, np.nan, 0, np.nan])
    bars = accuracy_chart(accuracy).data
    assert list(bars["color"]).count(VERMILLION) == 1 and bars["color"][8] == VERMILLION
    assert bars["label"][0] == "–" and bars["label"][3] == "50.0" and bars["label"][8] == f"{WEAKEST_MARK} 0.0"


def test_probability_chart_colours_true_and_wrong_answer():
    probs = np.array([0.05, 0.8, 0.15] + [0.0] * 7)
    colors = probability_chart(probs, true=2).data["color"]
    assert colors[1] == WRONG and colors[2] == RIGHT
    assert probability_chart(probs, true=1).data["color"][1] == RIGHT
    assert probability_chart(probs).data["value"][1] == pytest.approx(80)


def test_activation_figure_numbers_the_neurons_and_leaves_padding_empty():
    grid = np.array([[1.0, 2.0, 3.0], [4.0, np.nan, np.nan]])
    heat = activation_figure(grid, "layer").data[0]
    numbers = np.asarray(heat.customdata, dtype=float)
    assert numbers[1, 0] == 3 and np.isnan(numbers[1, 1])
