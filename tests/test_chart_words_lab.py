"""The words beside the Train page's gradient flow, the finder's curve, the Class page's charts and Home's pictures,
against known figures: healthy, vanishing and exploding gradients, dying ReLUs, a finder's valley, a class's runs."""

import math
from dataclasses import replace

from core.engine.curves import loss_curve
from core.engine.presets import LECTURE, QUICK
from core.engine.status import Status
from core.lessons.experiment import Experiment
from core.views.board import BoardEntry
from core.views.charts import lr_finder_words
from core.views.class_findings import curves_words, experiment_words, parcoords_words
from core.views.gradient_flow_charts import layer_words
from core.views.network_diagram import network_words
from core.views.samples import strip_words

LAYERS = ("hidden 1", "hidden 2", "output")


def measured(step, grad_norm, update_ratio=(0.001, 0.001, 0.001), dead=(0.0, 0.0, None)):
    """One gradient-flow measurement, as the Trainer emits it."""
    return step, [dict(name=name, grad_norm=g, update_ratio=u, dead_fraction=d)
                  for name, g, u, d in zip(LAYERS, grad_norm, update_ratio, dead, strict=True)]


def test_healthy_gradients_name_the_largest_and_smallest_layer():
    stats = [measured(5, (0.2, 0.15, 0.1)), measured(50, (0.5, 0.4, 0.3), dead=(0.02, 0.03, None))]
    words = layer_words(stats, "grad_norm")
    assert words.summary == ("At step 50 the gradient norm is largest in hidden 1 (0.5) and smallest in output "
                             "(0.3), within a factor of 1.7 of each other: healthy.")
    assert words.alt == ("Line chart of the gradient norm per layer (hidden 1, hidden 2 and output) against the step, "
                         "2 measurements. " + words.summary)
    assert words.numbers == {"step": [5, 50], "hidden 1": [0.2, 0.5], "hidden 2": [0.15, 0.4], "output": [0.1, 0.3]}
    assert layer_words(stats, "dead_fraction").summary == (
        "At step 50 the share of dead ReLUs is 2.0 % in hidden 1 and 3.0 % in hidden 2: few, healthy.")
    assert layer_words(stats, "update_ratio").summary.endswith("about 0.001 is healthy, and every layer is near it.")


def test_vanishing_gradients_shrink_towards_the_input():
    words = layer_words([measured(5, (1e-5, 1e-3, 0.5), update_ratio=(1e-6, 1e-4, 0.001))], "grad_norm")
    assert words.summary == ("At step 5 the gradient norm is largest in output (0.5) and smallest in hidden 1 (1e-05); "
                             "it shrinks 50,000 times from output back to hidden 1: the gradients vanish towards the "
                             "input.")
    slow = layer_words([measured(5, (1e-5, 1e-3, 0.5), update_ratio=(1e-6, 1e-4, 0.001))], "update_ratio")
    assert "tiny steps in hidden 1 (under 0.0001): slow learning." in slow.summary


def test_exploding_gradients_grow_by_powers_of_ten_and_kill_the_relus():
    stats = [measured(5, (0.2, 0.15, 0.1)),
             measured(100, (40.0, 30.0, 80.0), update_ratio=(0.3, 0.2, 0.5), dead=(0.9, 0.7, None))]
    assert layer_words(stats, "grad_norm").summary.endswith(
        "; it grew 400 times since step 5: the gradients are exploding.")
    assert "steps too big in hidden 1, hidden 2 and output (over 0.01)" in layer_words(stats, "update_ratio").summary
    dead = layer_words(stats, "dead_fraction")
    assert dead.summary == ("At step 100 the share of dead ReLUs is 90.0 % in hidden 1 and 70.0 % in hidden 2; most "
                            "units of hidden 1 and hidden 2 are dead (since step 5) and pass no gradient: a learning "
                            "rate far too high kills them.")
    assert dead.numbers == {"step": [5, 100], "hidden 1 (%)": [0.0, 90.0], "hidden 2 (%)": [0.0, 70.0]}


def test_a_layer_without_gradient_and_gradients_that_are_not_numbers():
    assert layer_words([measured(9, (0.0, 0.2, 0.3), update_ratio=(0.0, 0.001, 0.001))], "grad_norm").summary \
        .endswith("; no gradient reaches hidden 1 (0), so it stopped learning.")
    broken = layer_words([measured(9, (math.nan, 0.2, math.inf))], "grad_norm")
    assert broken.summary == ("At step 9 the gradient norm of hidden 1 and output is not a number: "
                              "the gradients exploded.")
    assert broken.numbers["hidden 1"] == [None] and broken.numbers["output"] == [None]


def test_no_relu_and_no_measurement_say_so():
    tanh = [measured(5, (0.1, 0.1, 0.1), dead=(None, None, None))]
    words = layer_words(tanh, "dead_fraction")
    assert words.summary == "Dead units are counted only after ReLU, and no layer of this network has one."
    assert words.numbers == {}
    assert layer_words([], "grad_norm").summary == "No measurement yet."


def test_a_long_run_keeps_a_light_table():
    stats = [measured(50 * i, (0.1, 0.1, 0.1)) for i in range(1, 1001)]
    numbers = layer_words(stats, "grad_norm").numbers
    assert len(numbers["step"]) == 200 and numbers["step"][0] == 50 and numbers["step"][-1] == 50_000


def finder_points():
    rates = [1e-5 * 10 ** (i / 40) for i in range(201)]  # 0.00001 to 1e0
    losses = [2.3 - 2.0 * i / 150 if i <= 150 else 0.3 + 0.2 * (i - 150) for i in range(201)]
    return [[r, loss] for r, loss in zip(rates, losses, strict=True)]


def test_the_finders_curve_says_where_the_loss_was_lowest_and_what_is_suggested():
    words = lr_finder_words(finder_points(), 0.0056, "Because the loss blew up past 0.056.")
    assert words.summary == ("The smoothed loss fell from 2.30 at learning rate 1e-05 to its lowest, 0.30, at 0.056, "
                             "then rose to 10.30 at 1. The star marks the suggested rate, 0.0056. "
                             "Because the loss blew up past 0.056.")
    assert words.alt.startswith("Line chart of the loss against the learning rate, on a log scale. The smoothed")
    assert "Because" not in words.alt
    assert len(words.numbers["learning rate"]) == 200 and words.numbers["smoothed loss"][0] == 2.3


def test_a_finder_whose_loss_only_rises_or_kept_nothing():
    rising = [[1e-5 * 10 ** i, 2.3 + i] for i in range(4)]
    assert lr_finder_words(rising, 1e-6).summary.startswith(
        "The smoothed loss was lowest at the start, 2.30 at learning rate 1e-05, then rose to 5.30 at 0.01.")
    assert lr_finder_words([], 0.01).summary == "The finder kept no point of its curve. It suggests 0.01."


def entry(i, config, accuracy, student=None):
    return BoardEntry(f"r{i}", student or f"S{i}", "", accuracy, config, 1, 1.0, 100.0 + i, 100.0 + i)


def test_the_class_chart_names_the_spread_and_what_the_best_runs_share():
    configs = [replace(LECTURE, lr=lr, optimizer=opt, seed=i) for i, (lr, opt) in enumerate(
        [(0.1, "adam"), (0.1, "sgd"), (0.01, "adam"), (0.01, "sgd"), (1.0, "sgd"), (0.001, "sgd"), (0.1, "adam"),
         (1.0, "adam")])]
    accuracy = [97.0, 95.0, 96.0, 92.0, 11.0, 85.0, 96.5, 9.8]
    words = parcoords_words([c.to_dict() for c in configs], accuracy)
    assert words.summary == (
        "8 finished runs, one line each through the settings that differ between them (learning rate and "
        "optimizer), to a test accuracy from 9.8 % to 97.0 %. The best run (97.0 %) had learning rate 0.1 and "
        "optimizer Adam; the worst (9.8 %) learning rate 1 and optimizer Adam. The 2 best runs all had learning "
        "rate 0.1 and optimizer Adam.")
    assert words.numbers["test accuracy (%)"][:2] == [97.0, 96.5] and words.numbers["Optimizer"][0] == "Adam"
    assert "S0" not in words.alt + words.summary  # no names: the chart has none
    same = parcoords_words([replace(LECTURE, seed=i).to_dict() for i in range(2)], [90.0, 91.0])
    assert same.summary.endswith("No setting differs between them but the seed.")


def lr_experiment():
    return Experiment.new("lr", (0.001, 0.03, 1.0), QUICK.to_dict(), now=0.0)


def test_the_experiment_chart_gives_each_values_accuracies_and_the_best_median():
    runs = [entry(0, replace(QUICK, lr=0.001), 88.0, "<b>Ann</b>"), entry(1, replace(QUICK, lr=0.001), 90.0),
            entry(2, replace(QUICK, lr=0.03), 96.2), entry(3, replace(QUICK, lr=1.0), 9.8)]
    words = experiment_words(lr_experiment(), runs)
    assert words.summary == ("Test accuracy by learning rate: 0.001: 2 runs, 88.0 % to 90.0 %, median 89.0 %; "
                             "0.03: 1 run, 96.2 %; 1: 1 run, 9.8 %. The best median is 0.03 (96.2 %), the worst 1 "
                             "(9.8 %).")
    assert words.numbers == {"learning rate": ["0.001", "0.001", "0.03", "1"],
                             "student": ["<b>Ann</b>", "S1", "S2", "S3"], "test accuracy (%)": [88.0, 90.0, 96.2, 9.8],
                             "status": ["finished"] * 4}
    assert "Ann" not in words.summary + words.alt  # names only in the table, which shows them as text
    assert experiment_words(lr_experiment(), []).summary == "No run yet."


def test_the_experiment_chart_names_the_runs_that_diverged():
    hot = replace(entry(3, replace(QUICK, lr=1.0), None), status=Status.DIVERGED)
    runs = [entry(0, replace(QUICK, lr=0.03), 96.2), replace(hot, run_id="r4"), hot,
            replace(entry(5, replace(QUICK, lr=0.03), None), status=Status.DIVERGED)]
    words = experiment_words(lr_experiment(), runs)
    assert words.summary == "Test accuracy by learning rate: 0.03: 1 run, 96.2 %; 1 diverged; 1: all diverged."
    assert words.numbers["test accuracy (%)"] == [96.2, None, None, None]
    assert words.numbers["status"] == ["finished", "diverged", "diverged", "diverged"]


def test_the_experiment_curves_say_where_each_values_loss_ended():
    calm = loss_curve([2.3 * 0.99**i for i in range(300)])
    hot = loss_curve([2.3 * 1.1**i for i in range(50)] + [math.inf])
    calmer = loss_curve([2.3 * 0.98**i for i in range(300)])
    words = curves_words(lr_experiment(), [(0.001, calm), (0.001, calmer), (1.0, hot), (0.03, calm), (0.03, hot)])
    assert words.summary == ("Where each run's smoothed loss ended, by learning rate: 0.001 (2 runs): 0.0067 to 0.13; "
                             "0.03 (2 runs): 0.13 and 1 run not a number (diverged); 1 (1 run): not a number "
                             "(diverged).")
    assert words.numbers["steps"] == [300, 300, 51, 300, 51] and words.numbers["last loss"][2] is None
    assert words.alt.startswith("Line chart of the smoothed loss against the step, one line per run (5 runs), one "
                                "colour per learning rate.")


def test_home_says_what_the_network_diagram_and_the_digits_show():
    words = network_words()
    assert words.alt.startswith("Diagram of the network, left to right: Input (784 neurons), Hidden 1 (128 neurons), "
                                "Hidden 2 (64 neurons) and Output (10 neurons). Each layer is fully connected to the "
                                "next, with 100,480 weights and biases between Input and Hidden 1, 8,256 between")
    assert words.summary.startswith("784 → 128 → 64 → 10, with ReLU between the layers: 109,386 weights and biases")
    assert words.numbers["Neurons"] == [784, 128, 64, 10]
    assert strip_words(list(range(10))).alt == \
        "Ten test digits, 0 to 9, one of each, handwritten, dark on white, side by side."
    assert strip_words([0, 1, 3]).alt.startswith("Test digits 0, 1 and 3, one of each")
