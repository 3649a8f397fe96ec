"""core.lessons.mistakes: hand-built cases with known answers, and a random 10,000-image run for consistency."""

import time

import numpy as np
import pytest

from core.lessons.mistakes import (
    ConfusedPair,
    Predictions,
    compare,
    confusion,
    count_mistakes,
    enlarge,
    gallery,
    headline,
    most_confused_pairs,
    page_slice,
    per_class_accuracy,
    top_k,
    with_border,
)


def one_hot_probs(predicted, confidence):
    """Probabilities that put `confidence` on the predicted digit and share the rest evenly."""
    n = len(predicted)
    probs = np.tile(((1 - np.asarray(confidence)) / 9)[:, None], (1, 10)).astype(np.float32)
    probs[np.arange(n), predicted] = confidence
    return probs


@pytest.fixture
def small():
    # index:      0  1  2  3  4  5  6  7
    labels = [3, 3, 5, 5, 5, 8, 8, 1]
    predicted = [3, 5, 5, 3, 3, 8, 3, 1]
    confidence = [0.9, 0.6, 0.8, 0.95, 0.6, 0.7, 0.55, 0.99]
    return Predictions(np.array(labels), np.array(predicted), one_hot_probs(predicted, confidence))


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(7)
    n = 10_000
    labels = rng.integers(0, 10, n)
    logits = rng.normal(size=(n, 10)).astype(np.float32)
    logits[np.arange(n), labels] += 2.5
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return Predictions(labels, probs.argmax(axis=1), probs)


def test_summary_and_headline(small):
    s = count_mistakes(small)
    assert (s.n_total, s.n_wrong) == (8, 4)
    assert s.accuracy == pytest.approx(50.0)
    assert headline(small) == "4 mistakes out of 8 (50.00 % accuracy)"


def test_headline_wording():
    labels = np.zeros(10_000, dtype=np.int64)
    predicted = labels.copy()
    predicted[:312] = 1
    p = Predictions(labels, predicted, one_hot_probs(predicted, np.full(10_000, 0.9)))
    assert headline(p) == "312 mistakes out of 10,000 (96.88 % accuracy)"
    predicted = labels.copy()
    predicted[0] = 1
    one = Predictions(labels, predicted, one_hot_probs(predicted, np.full(10_000, 0.9)))
    assert headline(one) == "1 mistake out of 10,000 (99.99 % accuracy)"
    # One mistake in 20,000 rounds to 100.00: the headline must not claim a perfect score.
    labels = np.zeros(20_000, dtype=np.int64)
    predicted = labels.copy()
    predicted[5] = 2
    rare = Predictions(labels, predicted, one_hot_probs(predicted, np.full(20_000, 0.9)))
    assert headline(rare) == "1 mistake out of 20,000 (99.99 % accuracy)"


def test_confusion(small):
    c = confusion(small)
    assert c.shape == (10, 10) and c.sum() == 8
    assert c[3, 3] == 1 and c[3, 5] == 1
    assert c[5, 5] == 1 and c[5, 3] == 2
    assert c[8, 8] == 1 and c[8, 3] == 1 and c[1, 1] == 1
    norm = confusion(small, normalize=True)
    assert norm[5].tolist()[3] == pytest.approx(2 / 3)
    present = [1, 3, 5, 8]
    assert np.allclose(norm[present].sum(axis=1), 1.0)
    assert not norm[[0, 2, 4, 6, 7, 9]].any()  # absent digits: zero rows, not NaN


def test_per_class_accuracy(small):
    acc = per_class_accuracy(small)
    assert acc[1] == pytest.approx(100.0) and acc[3] == pytest.approx(50.0)
    assert acc[5] == pytest.approx(100 / 3) and acc[8] == pytest.approx(50.0)
    assert np.isnan(acc[[0, 2, 4, 6, 7, 9]]).all()


def test_most_confused_pairs(small):
    assert most_confused_pairs(small, k=5) == [
        ConfusedPair(5, 3, 2),
        ConfusedPair(3, 5, 1),  # equal counts: smaller true digit first
        ConfusedPair(8, 3, 1),
    ]
    assert most_confused_pairs(small, k=1) == [ConfusedPair(5, 3, 2)]
    assert most_confused_pairs(small, k=0) == []


def test_gallery_sorts_and_filters(small):
    assert gallery(small).tolist() == [3, 1, 4, 6]  # 0.95, then the 0.6 tie by index, then 0.55
    assert gallery(small, sort="least_confident").tolist() == [6, 1, 4, 3]
    assert gallery(small, sort="index").tolist() == [1, 3, 4, 6]
    assert gallery(small, true_digit=5).tolist() == [3, 4]
    assert gallery(small, predicted_digit=3).tolist() == [3, 4, 6]
    assert gallery(small, true_digit=8, predicted_digit=3).tolist() == [6]
    assert gallery(small, true_digit=1).tolist() == []
    assert gallery(small, true_digit=1, include_correct=True).tolist() == [7]
    assert gallery(small, include_correct=True, sort="index").tolist() == list(range(8))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sort": "random"}, "sort must be one of"),
        ({"true_digit": 10}, "true_digit must be a digit 0-9"),
        ({"predicted_digit": -1}, "predicted_digit must be a digit 0-9"),
        ({"true_digit": 2.0}, "true_digit must be a digit 0-9"),
        ({"true_digit": True}, "true_digit must be a digit 0-9"),
    ],
)
def test_gallery_rejects_bad_arguments(small, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gallery(small, **kwargs)


def test_page_slice():
    idx = np.arange(100, 125)
    page, n_pages = page_slice(idx, 1, 10)
    assert page.tolist() == list(range(100, 110)) and n_pages == 3
    assert page_slice(idx, 3, 10)[0].tolist() == list(range(120, 125))
    assert page_slice(idx, 99, 10)[0].tolist() == list(range(120, 125))  # clamped to the last page
    assert page_slice(idx, 0, 10)[0].tolist() == list(range(100, 110))  # clamped to the first page
    empty, n_pages = page_slice(np.array([], dtype=np.int64), 4, 10)
    assert empty.size == 0 and n_pages == 1
    with pytest.raises(ValueError, match="page_size"):
        page_slice(idx, 1, 0)


def test_top_k():
    row = np.array([0.05, 0.6, 0.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.15, 0.0], dtype=np.float32)
    got = top_k(row, k=3)
    assert [d for d, _ in got] == [1, 3, 8]
    assert [pr for _, pr in got] == pytest.approx([0.6, 0.2, 0.15])
    assert [d for d, _ in top_k(np.full(10, 0.1), k=2)] == [0, 1]  # ties: smaller digit first
    assert top_k(np.array([0.5, 2.0, 0.5, 1.0]), k=3) == [(1, 2.0), (3, 1.0), (0, 0.5)]  # any values, e.g. neurons
    assert top_k(np.array([1.0]), k=0) == []


def test_compare(small):
    labels = small.labels
    predicted_b = labels.copy()
    predicted_b[[0, 1, 5]] = 0  # b misses 0, 1, 5: 0 and 5 are a's, and b gets 3, 4, 6 that a missed
    b = Predictions(labels, predicted_b, one_hot_probs(predicted_b, np.full(8, 0.8)))
    c = compare(small, b)
    assert c.a_right_b_wrong.tolist() == [0, 5]
    assert c.a_wrong_b_right.tolist() == [3, 4, 6]
    assert c.both_wrong.tolist() == [1]
    assert c.both_right.tolist() == [2, 7]
    flipped = compare(b, small)
    assert flipped.a_wrong_b_right.tolist() == [0, 5]


def test_compare_rejects_different_test_sets(small):
    shorter = Predictions(small.labels[:5], small.predicted[:5], small.probs[:5])
    with pytest.raises(ValueError, match="different sets"):
        compare(small, shorter)
    relabelled = Predictions(small.labels[::-1], small.predicted, small.probs)
    with pytest.raises(ValueError, match="labels differ"):
        compare(small, relabelled)


def test_predictions_validates_shapes():
    with pytest.raises(ValueError, match="probs"):
        Predictions(np.zeros(3), np.zeros(3), np.zeros((3, 9)))
    with pytest.raises(ValueError, match="digits 0-9"):
        Predictions(np.array([10]), np.array([0]), np.zeros((1, 10)))


def test_enlarge_and_border():
    img = np.array([[0, 255], [128, 7]], dtype=np.uint8)
    big = enlarge(img, scale=3)
    assert big.shape == (6, 6) and big.dtype == np.uint8
    assert (big[:3, :3] == 0).all() and (big[3:, 3:] == 7).all()  # crisp blocks, nothing blended
    assert set(np.unique(big)) == {0, 7, 128, 255}
    framed = with_border(big, "green", width=2)
    assert framed.shape == (10, 10, 3) and framed.dtype == np.uint8
    assert tuple(framed[0, 0]) == tuple(framed[-1, -1]) != (0, 0, 0)
    assert (framed[2:-2, 2:-2, 0] == big).all()
    assert tuple(with_border(img, (255, 0, 0), width=1)[0, 0]) == (255, 0, 0)
    with pytest.raises(ValueError):
        enlarge(img, scale=0)
    with pytest.raises(ValueError, match="color"):
        with_border(img, "purple")


def test_random_run_is_consistent(big):
    s = count_mistakes(big)
    wrong = big.labels != big.predicted
    assert s.n_total == 10_000 and s.n_wrong == wrong.sum()
    assert (
        headline(big) == f"{s.n_wrong:,} mistakes out of 10,000 ({100 * (1 - wrong.mean()):.2f} % accuracy)"
    )

    c = confusion(big)
    assert c.sum() == 10_000 and np.trace(c) == 10_000 - s.n_wrong
    assert np.array_equal(c.sum(axis=1), np.bincount(big.labels, minlength=10))
    assert np.allclose(per_class_accuracy(big), 100 * np.diag(c) / c.sum(axis=1))

    pairs = most_confused_pairs(big, k=10)
    counts = [pair.count for pair in pairs]
    assert counts == sorted(counts, reverse=True) and all(pair.true != pair.predicted for pair in pairs)
    assert counts[0] == (c - np.diag(np.diag(c))).max()

    conf = big.probs[np.arange(10_000), big.predicted]
    shown = gallery(big)
    assert set(shown.tolist()) == set(np.flatnonzero(wrong).tolist())
    assert np.all(np.diff(conf[shown]) <= 0)
    assert np.all(np.diff(conf[gallery(big, sort="least_confident")]) >= 0)

    for t, pr in [(4, 9), (7, 1), (3, None), (None, 8)]:
        expected = wrong.copy()
        if t is not None:
            expected &= big.labels == t
        if pr is not None:
            expected &= big.predicted == pr
        assert gallery(big, true_digit=t, predicted_digit=pr, sort="index").tolist() == (
            np.flatnonzero(expected).tolist()
        )
    both = compare(big, big)
    assert both.a_right_b_wrong.size == 0 and both.both_wrong.size == s.n_wrong


def test_fast_on_the_full_test_set(big):
    calls = [
        lambda: headline(big),
        lambda: confusion(big, normalize=True),
        lambda: per_class_accuracy(big),
        lambda: most_confused_pairs(big),
        lambda: gallery(big, include_correct=True, sort="least_confident"),
        lambda: gallery(big, true_digit=4),
        lambda: compare(big, big),
    ]
    for call in calls:
        start = time.perf_counter()
        call()
        assert time.perf_counter() - start < 0.05
