"""The learning-rate range test on real MNIST: a sensible, stable pick for the lecture's setup, quickly."""

import math
import threading

import pytest

from core.engine.config import TrainConfig
from core.engine.lr_finder import END_LR, STEPS, FinderStopped, find_lr, learning_rates, pick


def test_the_lectures_setup_gets_a_stable_pick_near_what_works(mnist):
    result = find_lr(TrainConfig(), mnist)
    assert 0.03 <= result.suggested_lr <= 0.3  # SGD on this network learns well around 0.1 (doctor.GOOD_LR)
    assert result.stable and len(result.picks) == 3 and max(result.picks) / min(result.picks) <= 3
    assert f"{result.suggested_lr:g}" in result.reason and "agree" in result.reason
    rates = [lr for lr, _ in result.points]
    assert rates == sorted(rates) and rates[-1] < END_LR  # stopped when the loss blew up, before the end
    assert all(math.isfinite(loss) for _, loss in result.points)
    assert set(result.to_dict()) == {"suggested_lr", "reason", "points", "seconds"}


def test_the_first_steps_are_never_picked():
    rates = learning_rates(STEPS)
    noisy_start = [0.1] + [2.3 - i / STEPS for i in range(1, STEPS)]  # one lucky batch at the very start
    assert pick(rates, noisy_start) == rates[-1] / 10


def test_a_set_stop_flag_ends_the_finder_between_two_steps(make_random_mnist):
    stop = threading.Event()
    stop.set()
    with pytest.raises(FinderStopped):
        find_lr(TrainConfig(train_subset=500), make_random_mnist(1000, 100), stop=stop)
