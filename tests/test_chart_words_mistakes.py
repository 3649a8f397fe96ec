"""The Mistakes page's charts and pictures in words, against known figures: a confusion matrix with known mistakes,
accuracies, probabilities, activations, a calibration and weights."""

import numpy as np
import pytest

from core.engine.calibration import calibration
from core.engine.predictions import Predictions
from core.views.mistakes_charts import (
    accuracy_words,
    activation_words,
    confusion_words,
    neuron_weights_alt,
    probability_words,
    reliability_words,
    weights_words,
)
from core.views.mistakes_view import compare_alt, digit_alt, original_alt, picture_alt

MISTAKES = {(4, 9): 23, (7, 2): 15, (3, 5): 12, (8, 3): 5}  # (true, predicted): how many, of 100 of each digit


def predictions(mistakes=MISTAKES, sure: float = 0.9) -> Predictions:
    """100 test images of each digit, right but for `mistakes`; each answer `sure` sure."""
    labels = np.repeat(np.arange(10), 100)
    predicted = labels.copy()
    for (true, said), n in mistakes.items():
        predicted[np.flatnonzero(labels == true)[:n]] = said
    probs = np.full((len(labels), 10), (1 - sure) / 9, dtype=np.float32)
    probs[np.arange(len(labels)), predicted] = sure
    return Predictions(labels, predicted, probs)


def test_a_confusion_matrix_names_its_most_common_mistakes_and_how_many_are_right():
    words = confusion_words(predictions())
    assert words.summary == ("The most common mistake: 4 read as 9, 23 times (23.0 % of the 4s); then 7 read as 2 "
                             "(15 times) and 3 read as 5 (12 times). 945 of 1,000 right.")
    assert words.alt.startswith("Confusion matrix: rows the true digit, columns the network's answer")
    assert words.summary in words.alt
    assert words.numbers["true digit"] == list(range(10)) and words.numbers["test images"] == [100] * 10
    assert words.numbers["read as 9"][4] == 23 and words.numbers["read as 4"][4] == 77
    assert sum(sum(column) for name, column in words.numbers.items() if name.startswith("read as")) == 1000


def test_the_percent_view_tables_each_true_digits_share():
    words = confusion_words(predictions(), normalize=True)
    assert "the % of each true digit" in words.alt
    assert words.numbers["read as 9 (%)"][4] == 23.0 and words.numbers["read as 0 (%)"][0] == 100.0


def test_a_matrix_without_mistakes_or_predictions():
    assert confusion_words(predictions({})).summary == "No mistakes: all 1,000 right."
    empty = Predictions(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 10)))
    assert confusion_words(empty).summary == "There are no test predictions yet."


def test_accuracy_per_digit_names_the_best_and_the_weakest():
    accuracy = np.array([99.0, 99.5, 97.0, 96.0, 77.0, 98.0, 98.0, 85.0, 95.0, 99.5])
    words = accuracy_words(accuracy)
    assert words.summary == "Best recognised: 1 (99.5 % right); weakest: 4 (77.0 %)."
    accuracy[5] = np.nan
    words = accuracy_words(accuracy)
    assert words.summary.endswith("No test images of 5.") and words.numbers["% right"][5] is None
    assert accuracy_words(np.full(10, np.nan)).summary == "No digit has test images."


def test_probability_bars_say_the_answer_and_whether_it_is_right():
    probs = np.array([0.0, 0.62, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.0, 0.08])
    words = probability_words(probs, true=7)
    assert words.summary == "Top three: **1**: 62.0 % · **7**: 30.0 % · **9**: 8.0 %. True digit: **7**."
    assert words.alt == ("Bar chart of the network's probability for each digit: it says 1, 62.0 % sure; then "
                         "7 (30.0 %) and 9 (8.0 %). The true digit is 7, with 30.0 %: the answer is wrong.")
    assert "True digit" not in probability_words(probs).summary
    assert words.numbers["probability (%)"][1] == 62.0


def test_activations_count_the_active_neurons_and_name_the_strongest():
    values = np.zeros(128)
    values[[3, 40, 90, 100]] = [0.5, 2.25, 1.5, 0.1]
    words = activation_words(values, "Hidden layer 1")
    assert words.summary == "Most active: neuron 40 (2.25), neuron 90 (1.50) and neuron 3 (0.50)."
    assert "4 of 128 active" in words.alt and len(words.numbers["activation"]) == 128
    assert activation_words(np.zeros(64), "Hidden layer 2").summary == "No neuron is active."


def test_a_calibration_says_where_most_answers_fall_and_how_they_lean():
    words = reliability_words(calibration(predictions()))  # every answer 90 % sure, 94.5 % right
    assert words.summary == ("Most answers, 1,000 of 1,000, were given 87–93 % sure, and 94.5 % of them were right. "
                             "Bands below the diagonal (surer than right): 0 of 1.")
    assert words.numbers == {"how sure (band)": ["87–93 %"], "answers": [1000], "mean confidence (%)": [90.0],
                             "% right": [94.5]}
    over = reliability_words(calibration(predictions({(4, 9): 100, (7, 2): 100}, sure=0.99)))  # 80 % right
    assert over.summary.endswith("and 80.0 % of them were right. Bands below the diagonal (surer than right): 1 of 1.")


def test_weights_name_the_strongest_and_faintest_neurons():
    weights = np.zeros((4, 28, 28), dtype=np.float32)
    weights[0] += 0.01
    weights[1] += 0.05
    weights[2, 14, 14] = -1.0
    words = weights_words(weights, per_neuron=False, limit=0.05, across=16)
    assert words.summary == ("Strongest weights (mean size): neuron 1 (0.050), neuron 0 (0.010) and neuron 2 "
                             "(0.001); faintest: neuron 3 (0.000).")
    assert "4 small pictures, 16 across" in words.alt and "full colour at ±0.050" in words.alt
    assert words.numbers["smallest weight"][2] == -1.0
    assert "own colour scale" in weights_words(weights, per_neuron=True, limit=0.05, across=16).alt
    assert neuron_weights_alt(40, 2.25).startswith("The weights of neuron 40, which fires at 2.25 for this digit")


def test_each_gallery_picture_says_what_it_shows():
    p = predictions()
    wrong = int(np.flatnonzero(p.labels == 4)[0])
    assert picture_alt(p, wrong) == "Test digit 400: a 4; the network said 9, 90 % sure (wrong)."
    assert picture_alt(p, 999) == "Test digit 999: a 9; the network said 9, 90 % sure (right)."
    assert compare_alt(p, predictions({}), wrong) == ("Test digit 400: a 4; run A said 9 (wrong), run B said 4 "
                                                      "(right).")
    assert digit_alt("test image #5 (a 1)") == "Test image #5 (a 1) as the network reads it: 28 × 28 pixels, light " \
        "ink on dark."
    assert original_alt(False, (300, 200), True) == ("Your uploaded picture, 200 × 300 pixels, light ink on dark "
                                                    "(inverted: it was dark on light).")


@pytest.mark.parametrize("normalize", [False, True])
def test_the_table_of_a_matrix_has_columns_of_one_length(normalize):
    numbers = confusion_words(predictions(), normalize).numbers
    assert {len(column) for column in numbers.values()} == {10}
