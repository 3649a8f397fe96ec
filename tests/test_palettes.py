"""The lab's colours for students who see colours differently, and their contrast on the white page.

The distance rule: two colours that a chart draws together must lie at least MIN_DELTA = 10 apart in CAM02-UCS
(ΔE', Luo et al. 2006; about 1 is a just-noticeable difference), for normal vision and for deuteranopia,
protanopia and tritanopia as colorspacious simulates them (Machado et al. 2009, severity 100). Plotly's default
categories, which the charts used before, fall to 0.7 (protanopia) and 2.9 (deuteranopia).
A scale for quantities must grow lighter (CAM02-UCS J') at every stop, for every vision: its order never
depends on hue. Contrast is WCAG 2.1's ratio, computed here through colorspacious's sRGB linearisation (not the
lab's own function): 3:1 for chart marks against the white page (1.4.11), 4.5:1 for text (1.4.3).
"""

import itertools
import tomllib
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go
import pytest
from colorspacious import cspace_convert
from plotly.colors import qualitative

from core.engine.calibration import Calibration
from core.engine.curves import loss_curve
from core.engine.presets import LECTURE
from core.engine.status import Status
from core.lessons.experiment import Experiment
from core.lessons.inside import NEGATIVE, POSITIVE, ZERO, diverging_rgb
from core.lessons.mistakes import Predictions
from core.views import (
    charts,
    class_findings,
    gradient_flow_charts,
    mistakes_charts,
    mistakes_view,
    one_step_view,
    palettes,
)
from core.views.network_diagram import network_dot
from tests.lab_helpers import REPO

MIN_DELTA = 10.0
VISIONS = {"normal": None, "deuteranopia": "deuteranomaly", "protanopia": "protanomaly", "tritanopia": "tritanomaly"}
WHITE = "#ffffff"
CONFIG = REPO / ".streamlit" / "config.toml"


def srgb(colour: str) -> np.ndarray:
    return np.array(palettes.rgb(colour), dtype=float) / 255


def seen(colour: str, vision: str) -> np.ndarray:
    """The colour in CAM02-UCS as someone with `vision` sees it."""
    rgb = srgb(colour)
    if VISIONS[vision]:
        space = {"name": "sRGB1+CVD", "cvd_type": VISIONS[vision], "severity": 100}
        rgb = np.clip(cspace_convert(rgb, space, "sRGB1"), 0, 1)
    return cspace_convert(rgb, "sRGB1", "CAM02-UCS")


def closest_pair(colours, vision: str) -> tuple[float, str, str]:
    """The two colours that `vision` sees closest, and how far apart (ΔE')."""
    return min((float(np.linalg.norm(seen(a, vision) - seen(b, vision))), a, b)
               for a, b in itertools.combinations(dict.fromkeys(colours), 2))


def wcag_contrast(a: str, b: str = WHITE) -> float:
    luminance = [float(cspace_convert(srgb(c), "sRGB1", "sRGB1-linear") @ [0.2126, 0.7152, 0.0722]) for c in (a, b)]
    return (max(luminance) + 0.05) / (min(luminance) + 0.05)


def over_white(colour: str, opacity: float) -> str:
    """What a mark drawn at `opacity` looks like on the white page."""
    return palettes.tint(colour, opacity)


# --- the colours the charts draw together ---------------------------------------------------------------------
def plotly_colours(figure: go.Figure) -> list[str]:
    found = []
    for trace in figure.data:
        for part in (getattr(trace, "line", None), getattr(trace, "marker", None)):
            colour = getattr(part, "color", None) if part is not None else None
            found += [colour] if isinstance(colour, str) else list(colour) if colour is not None else []
    return found


def layer_stats(layers: int) -> list:
    names = [f"hidden {i + 1}" for i in range(layers - 1)] + ["output"]
    return [(step, [{"name": n, "grad_norm": 0.1 * (i + 1), "update_ratio": 1e-3, "dead_fraction": 0.1}
                    for i, n in enumerate(names)]) for step in (1, 2, 3)]


def experiment():
    return Experiment.new("lr", (0.001, 0.01, 0.1, 1.0, 3.0), LECTURE.to_dict(), 0.0)


def drawn_together() -> dict[str, list[str]]:
    """Chart name -> the colours of its marks that appear side by side (opacity already laid over white)."""
    epochs = [{"epoch": e, "train_loss": 1 / e, "test_loss": 1.1 / e, "test_accuracy": 90 + e} for e in (1, 2, 3)]
    calibration = Calibration(np.linspace(0, 1, 11), np.ones(10, dtype=int), np.linspace(0.05, 0.95, 10),
                              np.full(10, 0.5), 0.25)  # sure of 5 % to 95 %, always right half the time
    step = SimpleNamespace(probabilities=np.full(10, 0.1), probabilities_after=np.full(10, 0.1), label=3)
    curves = [(lr, loss_curve([2.0, 1.0, 0.5])) for lr in experiment().values]
    return {
        "loss curves of five runs": plotly_colours(charts.loss_figure([(f"run {i}", loss_curve([2.0, 1.0, 0.5]))
                                                                         for i in range(5)]))[1::2],  # bold lines
        "epochs": plotly_colours(charts.epoch_figure(epochs)),
        "gradient flow of five layers": plotly_colours(gradient_flow_charts.layer_figure(layer_stats(5), "grad_norm")),
        "learning-rate finder": plotly_colours(charts.lr_finder_figure([[1e-3, 2.0], [1e-2, 1.0]], 1e-2)),
        "probabilities, a wrong answer": list(mistakes_charts.probability_chart(
            np.array([0.1, 0.6, 0.3] + [0.0] * 7), true=2).data["color"]),
        "probabilities, no true digit": list(mistakes_charts.probability_chart(np.full(10, 0.1)).data["color"]),
        "accuracy per digit": list(mistakes_charts.accuracy_chart(np.linspace(80, 99, 10)).data["color"]),
        "reliability": plotly_colours(mistakes_charts.reliability_figure(calibration)),
        "one step's probabilities": plotly_colours(one_step_view.probability_figure(step)),
        "class experiment's curves": plotly_colours(class_findings.curves_figure(experiment(), curves)),
        "class experiment's runs": [over_white(palettes.BLUE, 0.7), palettes.VERMILLION],  # see the next test
    }


def test_the_class_experiment_draws_what_drawn_together_says():
    entries = [SimpleNamespace(config=LECTURE, test_accuracy=95.0, student="S", status=Status.FINISHED)]
    figure = class_findings.experiment_figure(experiment(), entries)
    assert (figure.data[0].marker.color, figure.data[0].marker.opacity) == (palettes.BLUE, 0.7)
    assert figure.data[1].line.color == palettes.VERMILLION


def test_the_distance_rule_would_reject_plotlys_default_categories():
    assert closest_pair(qualitative.Plotly, "protanopia")[0] < 1
    assert closest_pair(qualitative.Plotly, "deuteranopia")[0] < 3


@pytest.mark.parametrize("vision", VISIONS)
def test_colours_drawn_together_stay_apart_for_every_vision(vision):
    too_close = {}
    for chart, colours in drawn_together().items():
        if len(set(colours)) > 1:
            distance, a, b = closest_pair(colours, vision)
            if distance < MIN_DELTA:
                too_close[chart] = (round(distance, 1), a, b)
    assert too_close == {}


@pytest.mark.parametrize("vision", VISIONS)
def test_the_palettes_themselves_stay_apart(vision):
    sets = {
        "categories": palettes.CATEGORICAL,
        "right, wrong and the other digits": (palettes.RIGHT, palettes.WRONG, palettes.NEUTRAL),
        "the two sides of a signed picture": (palettes.SIGNED[0], palettes.SIGNED[2]),
        "a right and a wrong confusion cell, full": (palettes.RIGHT_SCALE[1][1], palettes.WRONG_SCALE[1][1]),
        "a right and a wrong confusion cell, half": (palettes.tint(palettes.RIGHT, 0.5),
                                                     palettes.tint(palettes.WRONG, 0.5)),
    }
    assert {name: round(closest_pair(c, vision)[0], 1) for name, c in sets.items()
            if closest_pair(c, vision)[0] < MIN_DELTA} == {}


@pytest.mark.parametrize("vision", VISIONS)
def test_scales_for_quantities_grow_lighter_at_every_stop(vision):
    sequential = [seen(c, vision)[0] for c in palettes.SEQUENTIAL]
    assert np.all(np.diff(sequential) > 0)
    # The signed pictures (weights, gradients): from either end towards 0 (white), lighter at every step.
    ramp = diverging_rgb(np.linspace(-1, 1, 21), 1.0)
    lightness = [seen(palettes.hex_colour(c), vision)[0] for c in ramp]
    assert np.all(np.diff(lightness[:11]) > 0) and np.all(np.diff(lightness[10:]) < 0)
    # The activations' heatmap runs the other way (light: quiet, dark: strongly active).
    scale = [seen(c, vision)[0] for _, c in mistakes_charts.ACTIVATION_SCALE]
    assert np.all(np.diff(scale) < 0)


def test_chart_marks_keep_3_to_1_against_the_white_page():
    marks = {colour for colours in drawn_together().values() for colour in colours}
    marks |= set(palettes.CATEGORICAL) | {palettes.RIGHT, palettes.WRONG, palettes.NEUTRAL}
    saved = [replace(LECTURE, lr=lr).to_dict() for lr in (0.1, 0.01)]
    marks |= {c for _, c in class_findings.parcoords_figure(saved, [90.0, 95.0])["data"][0]["line"]["colorscale"]}
    for correct in (True, False):  # the gallery's frames
        marks.add(palettes.hex_colour(mistakes_view.gallery_tile(np.zeros((28, 28), np.uint8), correct)[0, 0]))
    weak = {c: round(wcag_contrast(c), 2) for c in marks if wcag_contrast(c) < palettes.MARK_CONTRAST}
    assert weak == {}
    assert f'edge [color="{palettes.NEUTRAL}"' in network_dot()


def test_text_in_charts_keeps_4_5_to_1():
    # The learning-rate note on the loss chart.
    figure = charts.loss_figure([("run", loss_curve([2.0, 1.0]))], lr_changes=[(1, 0.05)])
    assert wcag_contrast(figure.layout.annotations[0].font.color) >= palettes.TEXT_CONTRAST
    # The counts on the confusion matrix, on every shade a cell can take.
    fills = [mistakes_charts._shade(scale, f / 100) for scale in (palettes.RIGHT_SCALE, palettes.WRONG_SCALE)
             for f in range(101)]
    worst = min(wcag_contrast(palettes.ink_on(fill), fill) for fill in fills)
    assert worst >= palettes.TEXT_CONTRAST


def test_right_and_wrong_carry_a_mark_as_well_as_a_colour():
    labels = np.array([3, 3, 5])
    probs = np.full((3, 10), 0.02)
    probs[[0, 1, 2], [3, 5, 5]] = 0.82  # the first and last right, the second a 3 taken for a 5
    preds = Predictions(labels, probs.argmax(axis=1), probs)
    cells = mistakes_charts.confusion_chart(preds).data
    diagonal = cells[cells.true == cells.predicted]
    assert diagonal.label.str.startswith(palettes.RIGHT_MARK).all()
    assert not cells[cells.true != cells.predicted].label.str.contains(palettes.RIGHT_MARK).any()
    bars = mistakes_charts.probability_chart(np.array([0.1, 0.6, 0.3] + [0.0] * 7), true=2).data
    assert bars.label[2].startswith(palettes.RIGHT_MARK) and bars.label[1].startswith(palettes.WRONG_MARK)
    assert palettes.RIGHT_MARK in mistakes_view.caption(preds, 0)
    assert palettes.WRONG_MARK in mistakes_view.caption(preds, 1)


def test_the_lab_contrast_agrees_with_wcag():
    for colour in (*palettes.CATEGORICAL, palettes.NEUTRAL, "#797f85", "#29b09d"):
        assert palettes.contrast(colour) == pytest.approx(wcag_contrast(colour), abs=0.01)
    assert palettes.contrast("#767676") == pytest.approx(4.54, abs=0.01)  # the known boundary grey


def test_streamlit_theme_holds_the_same_palettes():
    theme = tomllib.loads(CONFIG.read_text())["theme"]
    assert theme["chartCategoricalColors"] == list(palettes.CATEGORICAL)
    assert theme["chartSequentialColors"] == list(palettes.SEQUENTIAL)
    assert theme["backgroundColor"] == palettes.BACKGROUND


def test_the_signed_pictures_draw_the_signed_palette():
    assert tuple(palettes.hex_colour(c) for c in (NEGATIVE, ZERO, POSITIVE)) == palettes.SIGNED
