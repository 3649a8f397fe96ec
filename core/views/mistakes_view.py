"""What the Mistakes page shows, decided without Streamlit: which runs to offer, gallery tiles, captions, comparisons.

Plain Python + numpy; the page only lays these out.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.engine.status import Status
from core.lessons.mistakes import Comparison, Predictions, enlarge, with_border
from core.views.palettes import RIGHT, RIGHT_MARK, WRONG, WRONG_MARK, rgb

NBSP = "\u00a0"
TILE_SCALE = 3  # 28 px → 84 px: big enough to read, small enough for 48 on a screen
TILE_LEGEND = (f"Under each digit: true digit → the network's answer, {RIGHT_MARK} right or {WRONG_MARK} wrong · its "
               "confidence · test image number. Blue frame: right; orange frame: wrong.")


def viewable(runs: Sequence) -> list:
    """The runs that saved test predictions (finished, or stopped after an evaluation), in the given order."""
    return [run for run in runs if run.has_predictions]


def default_run(runs: Sequence):
    """The newest finished run with predictions; else the newest run with predictions; else None.

    `runs` must be newest first, as RunStore.list() returns them.
    """
    shown = viewable(runs)
    return next((run for run in shown if run.status == Status.FINISHED), shown[0] if shown else None)


def run_option_line(run) -> str:
    """One line naming a run for a selectbox: label, accuracy, key settings, when, and status if unusual."""
    record = run.record
    config = record.get("config")
    config = config if isinstance(config, dict) else {}  # run.json keeps its settings as written, even damaged
    accuracy = record.get("test_accuracy")
    epochs = config.get("epochs", "?")
    parts = [
        record.get("label") or f"Run {run.id}",
        f"{accuracy:.2f} %" if isinstance(accuracy, int | float) else "no accuracy",
        f"{config.get('optimizer', '?')} lr {config.get('lr', '?')}, {epochs} epoch{'' if epochs == 1 else 's'}",
        time.strftime("%d %b %H:%M", time.localtime(record.get("created", 0))),
    ]
    if run.status != Status.FINISHED:
        parts.append(run.status)
    return " · ".join(str(part) for part in parts)


def gallery_tile(image: np.ndarray, correct: bool, scale: int = TILE_SCALE) -> np.ndarray:
    """A gallery picture: the 28x28 digit enlarged pixel by pixel (crisp), framed blue if right, orange if wrong
    (its caption says so too: colour never carries it alone)."""
    return with_border(enlarge(image, scale), rgb(RIGHT if correct else WRONG), width=3)


def caption(p: Predictions, index: int) -> str:
    """Short text under a gallery picture: "true → predicted ✓ (or ✗) · confidence", then "#test index"."""
    index = int(index)
    label, predicted = int(p.labels[index]), int(p.predicted[index])
    mark = RIGHT_MARK if label == predicted else WRONG_MARK
    # No-break spaces inside each part: a narrow caption wraps between the parts, never inside one.
    return _keep(f"{label} → {predicted} {mark} · {100 * _sure(p, index):.0f} %") + f" #{index}"


def picture_alt(p: Predictions, index: int) -> str:
    """What a gallery picture shows, for a screen reader: "Test digit 1,234: a 7; the network said 1, 62 % sure
    (wrong)." """
    index = int(index)
    label, predicted = int(p.labels[index]), int(p.predicted[index])
    return (f"Test digit {index:,}: a {label}; the network said {predicted}, "
            f"{100 * _sure(p, index):.0f} % sure ({_verdict(label, predicted)}).")


def digit_alt(title: str) -> str:
    """The alt of a digit drawn as the network reads it; `title` names it ("test image #5 (a 7)", "your digit")."""
    return f"{title[:1].upper()}{title[1:]} as the network reads it: 28 × 28 pixels, light ink on dark."


def original_alt(drawn: bool, shape: tuple[int, ...], inverted: bool) -> str:
    """The alt of the student's own picture, as drawn or uploaded (shown light on dark)."""
    height, width = shape[:2]
    what = "Your drawing" if drawn else "Your uploaded picture"
    return f"{what}, {width} × {height} pixels, light ink on dark{' (inverted: it was dark on light)' * inverted}."


def _sure(p: Predictions, index: int) -> float:
    # One image's confidence, without computing p.confidence for all 10,000 (40 pictures a page).
    return float(p.probs[index, p.predicted[index]])


def _verdict(label: int, predicted: int) -> str:
    return "right" if label == predicted else "wrong"


def _keep(text: str) -> str:
    return text.replace(" ", NBSP)


def choice_label(p: Predictions, index: int) -> str:
    """Longer text for picking one image from a list."""
    index = int(index)
    label, predicted = int(p.labels[index]), int(p.predicted[index])
    return (
        f"Test image #{index}: a {label}, predicted {predicted} with {100 * _sure(p, index):.1f} % "
        f"({_verdict(label, predicted)})"
    )


@dataclass(frozen=True)
class CompareKind:
    key: str
    title: str  # for the control, with A and B filled in by the page


COMPARE_KINDS = (
    CompareKind("a_right_b_wrong", "A right, B wrong"),
    CompareKind("a_wrong_b_right", "A wrong, B right"),
    CompareKind("both_wrong", "Both wrong"),
)


def comparison_counts(c: Comparison) -> dict[str, int]:
    """How many test images fall in each group, keyed like Comparison's fields."""
    names = ("a_right_b_wrong", "a_wrong_b_right", "both_wrong", "both_right")
    return {name: int(len(getattr(c, name))) for name in names}


def compare_caption(a: Predictions, b: Predictions, index: int) -> str:
    """Under a comparison picture: the true digit and what each run said."""
    index = int(index)
    return _keep(f"{int(a.labels[index])}: A {int(a.predicted[index])}, B {int(b.predicted[index])}") + f" #{index}"


def compare_alt(a: Predictions, b: Predictions, index: int) -> str:
    """What a comparison picture shows: the true digit and each run's answer, right or wrong."""
    index = int(index)
    label, said_a, said_b = int(a.labels[index]), int(a.predicted[index]), int(b.predicted[index])
    return (f"Test digit {index:,}: a {label}; run A said {said_a} ({_verdict(label, said_a)}), run B said {said_b} "
            f"({_verdict(label, said_b)}).")
