"""core.engine.curves (smoothing, downsampling), core.lab.estimate (epoch time) and core.views.charts (figures)."""

import math

import pytest

from core.engine.config import TrainConfig
from core.engine.curves import MAX_POINTS, bucket_size, downsample, ema, loss_curve
from core.engine.presets import QUICK
from core.engine.words import format_seconds
from core.lab.estimate import (
    MAX_RUN_MINUTES_ENV,
    RUN_BUDGET,
    estimate_epoch,
    estimate_memory_mb,
    measure_speed,
    run_budget,
    steps_per_epoch,
)
from core.views.charts import epoch_figure, loss_figure


def test_ema_starts_at_the_first_value_and_follows_a_constant():
    assert ema([5.0]) == [5.0]
    assert ema([2.0] * 10) == pytest.approx([2.0] * 10)
    smooth = ema([0.0, 10.0], weight=0.5)
    assert smooth[1] == pytest.approx(10 * 0.5 / 0.75)


def test_ema_passes_non_finite_values_without_poisoning_the_rest():
    out = ema([1.0, math.nan, 1.0])
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx(1.0)


def test_short_curves_are_drawn_point_by_point():
    xs, ys, every = downsample([1, 2, 3], [3.0, 2.0, 1.0])
    assert (xs, ys, every) == ([1, 2, 3], [3.0, 2.0, 1.0], 1)


def test_long_curves_stay_light_and_every_point_is_the_mean_of_the_same_number_of_steps():
    # Issue 19: the old curve mixed bucket means with the newest 150 raw steps, so its end looked noisier.
    losses = [1.0 / (i + 1) + (0.5 if i % 2 else -0.5) for i in range(20_005)]
    curve = loss_curve(losses)
    assert len(curve) <= MAX_POINTS and curve.every == 50
    for x, raw in zip(curve.steps, curve.raw, strict=True):
        start = int(x) - 1 - 25  # each point sits at its bucket's middle step
        assert start % 50 == 0 and raw == pytest.approx(sum(losses[start:start + 50]) / 50)
    assert curve.steps[-1] == 19_951 + 25  # the last bucket is steps 19,951-20,000; the 5 after it fill none yet
    assert list(curve.steps) == sorted(curve.steps) and len(curve.smooth) == len(curve.raw)
    smooth = ema(losses)
    assert list(curve.smooth) == [smooth[int(x) - 1] for x in curve.steps]


def test_bucket_sizes_are_round_and_grow_with_the_run():
    assert [bucket_size(n) for n in (400, 401, 2_000, 2_001, 20_000, 20_001, 100_000)] == [1, 2, 5, 5, 50, 50, 500]


def test_bucket_means_preserve_the_average_and_skip_what_is_not_a_number():
    xs, ys, every = downsample(list(range(1000)), [float(i % 2) for i in range(1000)], max_points=60)
    assert every == 20 and len(xs) == 50
    assert all(y == pytest.approx(0.5) for y in ys)
    _, ys, every = downsample(list(range(8)), [math.nan, 1.0, math.nan, math.nan, 3.0, 5.0, 7.0, math.inf], 4)
    assert every == 2 and ys[0] == 1.0 and math.isnan(ys[1]) and ys[2:] == [4.0, 7.0]


def test_the_loss_chart_says_what_its_faint_points_are():
    assert loss_figure([("run", loss_curve([1.0] * 300))]).data[0].name == "loss of each step"
    fig = loss_figure([("run", loss_curve([1.0] * 5000))])
    assert fig.data[0].name == "loss, mean of every 20 steps" and fig.data[1].name == "smoothed"
    overlay = loss_figure([("a", loss_curve([1.0] * 300)), ("b", loss_curve([1.0] * 5000))])
    assert "mean of every 1 / 20 steps, per run" in overlay.layout.xaxis.title.text


def test_the_accuracy_axis_has_round_ticks():
    epochs = [{"epoch": e, "train_loss": 0.1, "test_loss": 0.1, "test_accuracy": acc}
              for e, acc in enumerate([96.281, 96.98, 97.43], start=1)]
    axis = epoch_figure(epochs).layout.yaxis2
    assert axis.tickmode == "linear" and axis.tick0 == 0 and axis.dtick == 0.5 and axis.tickformat == ".1f"
    wide = [{**e, "test_accuracy": acc} for e, acc in zip(epochs, [11.35, 80.0, 95.0], strict=False)]
    assert epoch_figure(wide).layout.yaxis2.dtick == 20 and epoch_figure(wide).layout.yaxis2.tickformat == ".0f"


def test_steps_per_epoch_follow_the_settings():
    assert steps_per_epoch(TrainConfig()) == 938
    assert steps_per_epoch(TrainConfig(batch_size=256, train_subset=1000)) == 4
    assert steps_per_epoch(TrainConfig(overfit_one_batch=True, overfit_steps=30)) == 30


def test_estimates_grow_with_the_work_and_scale_with_the_machine():
    lecture, quick = estimate_epoch(TrainConfig()), estimate_epoch(QUICK)
    # Measured on the lab machine: about 1.1 s (lecture) and 1.4 s (Quick) per epoch when idle.
    assert 0.5 < lecture.seconds < 3 and 0.5 < quick.seconds < 3
    assert estimate_epoch(TrainConfig(hidden=(1024, 1024))).seconds > 5 * lecture.seconds
    assert estimate_epoch(TrainConfig(train_subset=6000)).train_seconds == pytest.approx(lecture.train_seconds / 10,
                                                                                         rel=0.01)
    assert estimate_epoch(QUICK, speed=2.0).seconds == pytest.approx(2 * quick.seconds)


def test_dropout_costs_time_and_memory_in_the_budget_and_activations_do_not():
    lecture = TrainConfig()
    dropped = TrainConfig(dropout=0.5)
    # Measured: dropout adds 13-35 % to a step of the lecture's network (core.lab.estimate's comment).
    assert 1.1 < estimate_epoch(dropped).step_seconds / estimate_epoch(lecture).step_seconds < 1.4
    assert estimate_memory_mb(dropped) > estimate_memory_mb(lecture)
    assert estimate_epoch(TrainConfig(activation="gelu")) == estimate_epoch(lecture)
    assert RUN_BUDGET.problem(TrainConfig(dropout=0.8, activation="tanh")) is None
    # The most epochs of a wide network that fit the budget without dropout no longer fit with it.
    wide = TrainConfig(hidden=(1024, 1024), batch_size=256)
    epochs = int(RUN_BUDGET.seconds // estimate_epoch(wide).seconds)
    assert RUN_BUDGET.problem(TrainConfig(hidden=(1024, 1024), batch_size=256, epochs=epochs)) is None
    assert "at most 10 min" in RUN_BUDGET.problem(TrainConfig(hidden=(1024, 1024), batch_size=256, epochs=epochs,
                                                              dropout=0.3))


def test_a_host_sets_how_long_one_run_may_train_and_a_wrong_setting_keeps_ten_minutes(caplog):
    wide = TrainConfig(hidden=(1024, 1024), batch_size=256)
    fifteen_minutes = TrainConfig(hidden=(1024, 1024), batch_size=256,
                                  epochs=round(900 / estimate_epoch(wide).seconds))
    assert run_budget({}) == RUN_BUDGET and run_budget({}).seconds == 600
    assert "at most 10 min" in run_budget({}).problem(fifteen_minutes)
    assert run_budget({MAX_RUN_MINUTES_ENV: "20"}).problem(fifteen_minutes) is None
    assert "at most 5 min" in run_budget({MAX_RUN_MINUTES_ENV: " 5 "}).problem(fifteen_minutes)
    for wrong in ("0", "-3", "ten", "nan", "inf"):
        assert run_budget({MAX_RUN_MINUTES_ENV: wrong}).seconds == 600
        assert f"{MAX_RUN_MINUTES_ENV}={wrong!r}" in caplog.text


def test_measuring_the_machine_gives_a_plausible_factor():
    assert 0.1 <= measure_speed() <= 10


def test_durations_read_well():
    assert [format_seconds(s) for s in (0.42, 12.4, 65, 3600 + 120, math.nan, -1)] == [
        "0.4 s", "12 s", "1 min 5 s", "1 h 2 min", "unknown", "unknown"]


def test_loss_figure_draws_raw_faint_and_smooth_and_no_nan():
    curve = loss_curve([2.0, 1.0, math.nan, 0.5])
    fig = loss_figure([("run", curve)])
    raw, smooth = fig.data
    assert raw.opacity < 0.5 and smooth.line.width > raw.line.width
    assert None in raw.y and all(v is None or math.isfinite(v) for v in smooth.y)


def test_loss_figure_overlays_runs_and_switches_to_a_log_axis_when_the_loss_explodes():
    fig = loss_figure([("a", loss_curve([2.0, 1.0])), ("b", loss_curve([2.0, 5000.0]))])
    assert len(fig.data) == 4 and {t.name for t in fig.data} == {"a", "b"}
    assert fig.layout.yaxis.type == "log"


def test_epoch_figure_has_losses_and_accuracy_on_its_own_axis():
    epochs = [{"epoch": 1, "train_loss": 0.5, "test_loss": 0.4, "test_accuracy": 90.0}]
    fig = epoch_figure(epochs)
    assert [t.name for t in fig.data] == ["train loss", "test loss", "test accuracy (%)"]
    assert fig.data[2].yaxis == "y2"
