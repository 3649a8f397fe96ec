"""The words beside the charts, against known figures: a curve that falls, one that diverges, epochs that overfit."""

import math

from core.engine.curves import loss_curve
from core.views.chart_words import even_rows, joined, number, thinned, trend
from core.views.charts import epoch_words, loss_words


def test_a_falling_curve_says_where_it_started_and_ended():
    words = loss_words([("this run", loss_curve([2.3 * 0.998**i + 0.05 for i in range(1200)]))])
    assert words.summary == "The loss fell from 2.35 to 0.26 over 1,200 steps."
    assert words.alt.startswith("Line chart of the training loss") and words.summary in words.alt
    assert len(words.numbers["step"]) == 200 and words.numbers["step"][0] == 3 and words.numbers["step"][-1] == 1198


def test_a_diverging_curve_says_where_it_stopped_being_a_number():
    losses = [2.3 * 1.05**i for i in range(300)] + [math.nan] * 5
    words = loss_words([("calm", loss_curve([2.3] * 305)), ("hot", loss_curve(losses))])
    assert "calm: the loss stayed about the same from 2.30 to 2.30 over 305 steps." in words.summary
    assert "hot: the loss rose from 2.30 to 3.49e+06 over 305 steps; from step 301 on it is not a number" \
        in words.summary
    assert words.numbers["run"].count("hot") == 200 and words.numbers["smoothed"][-1] is None


def test_a_curve_with_no_point_yet():
    assert loss_words([("x", loss_curve([]))]).summary == "The loss has no point yet."


def test_epochs_name_the_last_accuracy_and_a_sign_of_overfitting():
    epochs = [dict(epoch=1, train_loss=0.5, test_loss=0.30, test_accuracy=91.0),
              dict(epoch=2, train_loss=0.3, test_loss=0.35, test_accuracy=96.2)]
    words = epoch_words(epochs)
    assert words.summary.startswith("After epoch 2 the test accuracy is 96.2 %, the train loss 0.30")
    assert "a sign of overfitting" in words.summary
    assert "overfitting" not in epoch_words(epochs[:1]).summary
    assert words.numbers["test accuracy (%)"] == [91.0, 96.2]
    assert epoch_words([]).summary == "No epoch has ended yet."


def test_number_words():
    assert number(2.3) == "2.30" and number(0.0004) == "0.0004" and number(3.49e6) == "3.49e+06"
    assert number(math.nan) == "undefined (not a number)" and number(math.inf) == "infinite"
    assert trend(1.0, 0.5) == "fell" and trend(1.0, 1.01) == "stayed about the same" and trend(1, math.nan) != "fell"
    assert joined(["a"]) == "a" and joined(["a", "b", "c"]) == "a, b and c" and joined([]) == ""
    assert even_rows(5) == [0, 1, 2, 3, 4] and even_rows(1000, 10)[-1] == 999
    assert thinned({"x": list(range(1000))}, 3) == {"x": [0, 500, 999]}
