"""Analysis of a run's test-set predictions: counts, confusion matrix, galleries and run comparisons.

numpy, and torchmetrics for the confusion matrix and per-class accuracy (the metrics the trainer reports);
no Streamlit. Every function is vectorised so it stays fast on the 10,000 MNIST test digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from core.engine.predictions import N_CLASSES, Predictions
from core.engine.words import plural

SORTS = ("confidence", "least_confident", "index")

# Named colours for the gallery's right/wrong marking; any (r, g, b) tuple works too.
COLORS = {"green": (46, 160, 67), "red": (218, 54, 51)}


@dataclass(frozen=True)
class MistakeSummary:
    n_total: int
    n_wrong: int
    accuracy: float  # percent; NaN when there are no predictions


@dataclass(frozen=True)
class ConfusedPair:
    true: int
    predicted: int
    count: int


@dataclass(frozen=True)
class Comparison:
    """Test indices split by which of two runs got them right."""

    a_right_b_wrong: np.ndarray
    a_wrong_b_right: np.ndarray
    both_wrong: np.ndarray
    both_right: np.ndarray


def count_mistakes(p: Predictions) -> MistakeSummary:
    """Count the mistakes and the accuracy in percent."""
    n = len(p)
    n_wrong = int(np.count_nonzero(~p.correct))
    accuracy = 100.0 * (n - n_wrong) / n if n else float("nan")
    return MistakeSummary(n_total=n, n_wrong=n_wrong, accuracy=accuracy)


def headline(p: Predictions) -> str:
    """One sentence for the page, e.g. "312 mistakes out of 10,000 (96.88 % accuracy)"."""
    s = count_mistakes(p)
    if s.n_total == 0:
        return "No test predictions to look at yet."
    percent = _percent(s.accuracy, s.n_wrong, s.n_total)
    return f"{plural(s.n_wrong, 'mistake')} out of {s.n_total:,} ({percent} % accuracy)"


def _percent(accuracy: float, n_wrong: int, n_total: int) -> str:
    # Rounding must not claim a perfect (or a zero) score that the counts contradict.
    text = f"{accuracy:.2f}"
    if text == "100.00" and n_wrong:
        return "99.99"
    if text == "0.00" and n_wrong < n_total:
        return "0.01"
    return text


def confusion(p: Predictions, normalize: bool = False) -> np.ndarray:
    """[10, 10] matrix, rows the true digit, columns the predicted one; optionally each row sums to 1."""
    predicted, labels = torch.from_numpy(p.predicted), torch.from_numpy(p.labels)
    counts = MulticlassConfusionMatrix(num_classes=N_CLASSES)(predicted, labels).numpy().astype(np.int64)
    if not normalize:
        return counts
    totals = counts.sum(axis=1, keepdims=True)
    # Digits absent from the labels keep an all-zero row instead of 0/0 = NaN.
    return np.divide(counts, totals, out=np.zeros(counts.shape, dtype=np.float64), where=totals > 0)


def per_class_accuracy(p: Predictions) -> np.ndarray:
    """Accuracy in percent for each true digit 0-9; NaN for digits with no test images."""
    if not len(p):
        return np.full(N_CLASSES, np.nan)  # torchmetrics cannot score an empty set
    predicted, labels = torch.from_numpy(p.predicted), torch.from_numpy(p.labels)
    accuracy = MulticlassAccuracy(num_classes=N_CLASSES, average=None)(predicted, labels).numpy().astype(np.float64)
    # torchmetrics scores a digit with no test images 0; the page shows it as missing instead.
    totals = np.bincount(p.labels, minlength=N_CLASSES)
    return np.where(totals > 0, 100.0 * accuracy, np.nan)


def most_confused_pairs(p: Predictions, k: int = 5) -> list[ConfusedPair]:
    """The k most frequent (true, predicted) mistakes, largest count first."""
    if k < 0:
        raise ValueError(f"k must be 0 or more, got {k}")
    counts = confusion(p)
    np.fill_diagonal(counts, 0)
    true, pred = np.nonzero(counts)
    c = counts[true, pred]
    # lexsort uses the last key first: count descending, then true digit, then predicted digit.
    order = np.lexsort((pred, true, -c))[:k]
    return [ConfusedPair(int(true[i]), int(pred[i]), int(c[i])) for i in order]


def _check_digit(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value < N_CLASSES:
        raise ValueError(f"{name} must be a digit 0-9 or None, got {value!r}")


def gallery(
    p: Predictions,
    true_digit: int | None = None,
    predicted_digit: int | None = None,
    sort: str = "confidence",
    include_correct: bool = False,
) -> np.ndarray:
    """Test indices to show, filtered by true/predicted digit and sorted; mistakes only by default.

    sort: "confidence" (most confident first), "least_confident", or "index"; ties go by test index.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(repr(s) for s in SORTS)}; got {sort!r}")
    _check_digit("true_digit", true_digit)
    _check_digit("predicted_digit", predicted_digit)

    keep = np.ones(len(p), dtype=bool) if include_correct else ~p.correct
    if true_digit is not None:
        keep &= p.labels == true_digit
    if predicted_digit is not None:
        keep &= p.predicted == predicted_digit
    idx = np.flatnonzero(keep)  # already ascending, which is the "index" order
    if sort == "index" or idx.size == 0:
        return idx
    conf = p.confidence[idx]
    key = -conf if sort == "confidence" else conf
    return idx[np.lexsort((idx, key))]


def page_slice(indices: np.ndarray, page: int, page_size: int) -> tuple[np.ndarray, int]:
    """The indices on a 1-based page (clamped into range) and the number of pages (at least 1)."""
    if page_size < 1:
        raise ValueError(f"page_size must be 1 or more, got {page_size}")
    indices = np.asarray(indices)
    n_pages = max(1, -(-len(indices) // page_size))
    page = min(max(int(page), 1), n_pages)
    start = (page - 1) * page_size
    return indices[start : start + page_size], n_pages


def top_k(values: np.ndarray, k: int = 3) -> list[tuple[int, float]]:
    """The k largest values as (position, value), largest first, ties by position: e.g. the most probable digits."""
    if k < 0:
        raise ValueError(f"k must be 0 or more, got {k}")
    row = np.asarray(values, dtype=np.float64).ravel()
    order = np.lexsort((np.arange(row.size), -row))[:k]
    return [(int(d), float(row[d])) for d in order]


def compare(a: Predictions, b: Predictions) -> Comparison:
    """Split the test indices by which of two runs (on the same test set) got them right."""
    if len(a) != len(b):
        raise ValueError(f"The runs were tested on different sets: {len(a):,} vs {len(b):,} images")
    if not np.array_equal(a.labels, b.labels):
        raise ValueError("The runs were tested on different sets: their true labels differ")
    ra, rb = a.correct, b.correct
    return Comparison(
        a_right_b_wrong=np.flatnonzero(ra & ~rb),
        a_wrong_b_right=np.flatnonzero(~ra & rb),
        both_wrong=np.flatnonzero(~ra & ~rb),
        both_right=np.flatnonzero(ra & rb),
    )


def enlarge(image: np.ndarray, scale: int = 4) -> np.ndarray:
    """Nearest-neighbour upscaling (each pixel becomes a scale x scale block): crisp, never blurred."""
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a whole number 1 or more, got {scale}")
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be [H, W] or [H, W, C], got shape {image.shape}")
    scale = int(scale)
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def with_border(image: np.ndarray, color: str | tuple[int, int, int], width: int = 2) -> np.ndarray:
    """RGB uint8 copy of a grayscale or RGB image framed in a colour ("green", "red" or (r, g, b))."""
    if width < 0:
        raise ValueError(f"width must be 0 or more, got {width}")
    rgb_color = COLORS.get(color) if isinstance(color, str) else tuple(color)
    if rgb_color is None or len(rgb_color) != 3:
        raise ValueError(f"color must be one of {sorted(COLORS)} or an (r, g, b) tuple, got {color!r}")
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be [H, W] or [H, W, 3], got shape {image.shape}")
    h, w = image.shape[:2]
    out = np.empty((h + 2 * width, w + 2 * width, 3), dtype=np.uint8)
    out[:] = np.asarray(rgb_color, dtype=np.uint8)
    out[width : width + h, width : width + w] = image.astype(np.uint8, copy=False)
    return out
