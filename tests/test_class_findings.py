"""What the class found, in core: the settings ranked by how much they mattered (and no ranking on too few runs),
the parallel-coordinates chart's axes, the live doctor on partial runs and the instructor's counts."""

import math
import random
from dataclasses import replace

import plotly.graph_objects as go

from core.engine.events import StepEvent
from core.engine.presets import LECTURE
from core.engine.status import Status
from core.lab.job import Job
from core.lessons.importance import MIN_RUNS, rank_settings
from core.lessons.live_doctor import (
    DIVERGING,
    LR_TOO_LOW,
    OVERFITTING,
    STILL_LEARNING,
    TOO_EARLY,
    WAITING,
    LiveFinding,
    class_counts,
    live_finding,
)
from core.views.board import BoardEntry
from core.views.class_findings import CURVE_POINTS, FindingsCache, even_curve, parcoords_figure
from core.views.live_class import live_view


def class_runs(count: int, seed: int = 0):
    """Runs where only the learning rate matters: batch size and optimizer vary too, but add nothing but noise."""
    rng = random.Random(seed)
    configs, accuracies = [], []
    for i in range(count):
        config = replace(LECTURE, lr=rng.choice([0.001, 0.01, 0.1, 1.0]), batch_size=rng.choice([32, 64, 128]),
                         optimizer=rng.choice(["sgd", "adam"]), seed=i)
        configs.append(config)
        accuracies.append(90 + 3 * math.log10(config.lr) + rng.gauss(0, 0.3))
    return configs, accuracies


def test_only_the_learning_rate_matters_and_it_is_ranked_first_with_words_that_say_so():
    configs, accuracies = class_runs(40)
    ranking = rank_settings([c.to_dict() for c in configs], accuracies)
    assert [name for name, _ in ranking.shares][0] == "lr" and ranking.shares[0][1] > 0.8
    assert {name for name, _ in ranking.shares} == {"lr", "batch_size", "optimizer"}  # the seed is left out
    words = ranking.words()
    assert words.startswith("Across 40 runs, the learning rate explains most of the spread in test accuracy")
    assert "the batch size" in words and words.endswith("little.")


def test_too_few_runs_or_no_varying_setting_says_so_instead_of_ranking():
    configs, accuracies = class_runs(MIN_RUNS - 1)
    few = rank_settings([c.to_dict() for c in configs], accuracies)
    assert few.shares == () and few.words().startswith(f"{MIN_RUNS - 1} finished runs so far")
    same = [replace(LECTURE, seed=i).to_dict() for i in range(12)]
    flat = rank_settings(same, [90.0 + i / 10 for i in range(12)])
    assert flat.shares == () and "no setting takes two different values" in flat.words()


def test_the_chart_has_an_axis_per_varying_setting_log_lr_and_coded_choices():
    configs, accuracies = class_runs(20)
    entries = [BoardEntry(f"r{i}", f"S{i}", "", acc, c, 1, 1.0, 0.0, 0.0)
               for i, (c, acc) in enumerate(zip(configs, accuracies, strict=True))]
    figure = go.Figure(parcoords_figure([c.to_dict() for c in configs], accuracies))  # a valid Plotly figure
    dims = figure.data[0].dimensions
    assert [d.label for d in dims] == ["Learning rate (log)", "Batch size", "Optimizer", "test accuracy (%)"]
    assert list(dims[0].ticktext) == ["0.001", "0.01", "0.1", "1"] and list(dims[0].tickvals) == [-3, -2, -1, 0]
    assert list(dims[2].ticktext) == ["SGD", "Adam"] and list(figure.data[0].line.color) == accuracies
    cache = FindingsCache()
    first = cache.findings(entries)
    assert cache.findings(list(reversed(entries))) is first  # the same runs: nothing computed again
    assert cache.findings(entries[:-1]) is not first


def losses(start: float, end: float, steps: int) -> list[float]:
    return [start + (end - start) * i / (steps - 1) for i in range(steps)]


def test_the_live_doctor_on_partial_runs():
    config = replace(LECTURE, lr=0.01)
    assert live_finding([], [], config, Status.QUEUED).verdict == WAITING
    assert live_finding(losses(2.3, 2.0, 30), [], config, Status.RUNNING).verdict == TOO_EARLY
    assert live_finding([2.3, 2.5, math.nan], [], config, Status.RUNNING).verdict == DIVERGING
    climbing = losses(2.3, 0.5, 150) + losses(0.5, 2.2, 150)
    assert live_finding(climbing, [], replace(config, lr=2.0), Status.RUNNING).verdict == DIVERGING
    creeping = live_finding(losses(2.30, 2.25, 300), [], replace(config, lr=0.0001), Status.RUNNING)
    assert creeping.verdict == LR_TOO_LOW and "0.0001" in creeping.words
    falling = live_finding(losses(2.3, 0.4, 300), [], config, Status.RUNNING)
    assert falling.verdict == STILL_LEARNING
    epochs = [{"epoch": 1, "train_loss": 0.30, "test_loss": 0.20, "test_accuracy": 94.0},
              {"epoch": 2, "train_loss": 0.10, "test_loss": 0.30, "test_accuracy": 93.0}]
    assert live_finding(losses(2.3, 0.1, 300), epochs, config, Status.RUNNING).verdict == OVERFITTING


def test_the_live_doctor_judges_a_long_run_by_its_steps_not_its_curves_points():
    # 20,000 steps: the live curve has 400 points, each the mean of 50 steps. The loss falls to 0.33 in 100 steps
    # and stays there: a run that learned, not one that creeps.
    config = replace(LECTURE, lr=0.01, batch_size=64, epochs=22)
    job = Job(config, "ann")
    job.mark_running()
    for step in range(1, 20_001):
        loss = 2.3 - (2.3 - 0.33) * step / 100 if step <= 100 else 0.33 + 0.01 * (step % 2)
        job(StepEvent(1, step, step, 938, loss, 64 * step, step / 1000))
    view = live_view([(job.snapshot(), "Ann")])
    (row,) = view.rows
    assert row["doctor"] == STILL_LEARNING and row["why"].endswith("in 20,000 steps"), row


def test_the_instructors_counts_say_what_each_group_shares():
    def finding(verdict):
        return LiveFinding(verdict, "")

    findings = [(finding(DIVERGING), replace(LECTURE, lr=lr)) for lr in (1.0, 2.0, 3.0, 1.0)]
    findings += [(finding(STILL_LEARNING), replace(LECTURE, lr=lr)) for lr in (0.01, 0.1)]
    findings += [(finding(WAITING), LECTURE)]
    assert class_counts(findings) == ("4 diverging, all with learning rate ≥ 1; "
                                      "2 still learning, all with learning rate ≤ 0.1; 1 waiting")
    assert class_counts([]) == ""


def test_an_overlaid_curve_covers_the_whole_run_in_few_points():
    curve = even_curve([2.3 / (1 + i / 10) for i in range(375)])
    assert len(curve) <= CURVE_POINTS and curve.steps[0] < 5 and curve.steps[-1] > 370
