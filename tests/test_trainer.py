import threading
import time

import accelerate.optimizer
import pytest
import torch

from core.engine.accelerate_fixes import speed_up_accelerate_optimizer, zero_grad
from core.engine.config import TrainConfig
from core.engine.events import (
    EndEvent,
    EpochEvent,
    LearningRateEvent,
    PauseEvent,
    StartEvent,
    StepEvent,
    as_callback,
)
from core.engine.model import build_mlp, build_model
from core.engine.optimizers import make_optimizer, make_schedule
from core.engine.presets import BEST
from core.engine.trainer import Trainer, predict
from tests.lab_helpers import wait_until


def fit(mnist, **settings):
    events = []
    result = Trainer(TrainConfig(**settings), mnist, callbacks=[events.append]).fit()
    return result, events


def test_one_epoch_of_adam_on_real_mnist_passes_95_percent(mnist):
    result, events = fit(mnist, optimizer="adam", lr=0.001, epochs=1, batch_size=64, normalize="standard")
    assert result.status == "finished"
    assert result.test_accuracy > 95.0
    ev = result.evaluation
    assert ev.n_samples == 10_000 and ev.probs.shape == (10_000, 10)
    assert torch.allclose(ev.probs.sum(1), torch.ones(10_000), atol=1e-4)
    assert torch.equal(ev.labels, mnist.test_labels)  # predictions are in test order
    # Events: a start, a loss for every step, then the epoch's metrics and the end.
    assert isinstance(events[0], StartEvent) and events[0].steps_per_epoch == 938
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [s.step for s in steps] == list(range(1, 939))
    (epoch,) = [e for e in events if isinstance(e, EpochEvent)]
    assert epoch.test_accuracy == result.test_accuracy and epoch.seconds > 0
    assert isinstance(events[-1], EndEvent) and "test accuracy" in events[-1].message
    # The returned model predicts like the evaluation did.
    probs = predict(result.model, mnist.test_images[:50], "standard")
    assert torch.equal(probs.argmax(1), ev.predicted[:50])


def test_same_seed_same_metrics(mnist):
    settings = dict(train_subset=2000, epochs=2, seed=11)
    a, _ = fit(mnist, **settings)
    b, _ = fit(mnist, **settings)
    c, _ = fit(mnist, **{**settings, "seed": 12})
    metrics = lambda r: [(e.train_loss, e.test_loss, e.test_accuracy) for e in r.epochs]  # noqa: E731
    assert metrics(a) == metrics(b)
    assert metrics(a) != metrics(c)


def test_a_huge_learning_rate_is_reported_as_diverged(mnist):
    result, events = fit(mnist, lr=100.0, train_subset=2000)
    assert result.status == "diverged"
    assert "at step" in result.message and "learning rate 100" in result.message
    assert "lower the learning rate" in result.message
    assert result.epochs == [] and events[-1].status == "diverged"


def test_a_blown_up_loss_with_momentum_is_reported_as_diverged(mnist):
    result, _ = fit(mnist, lr=5.0, optimizer="momentum", normalize="standard", train_subset=2000)
    assert result.status == "diverged"
    assert result.message.startswith("the loss ") and "learning rate 5" in result.message


def test_a_nan_loss_is_named_in_words(mnist, monkeypatch):
    import core.engine.trainer

    def poisoned(config, seed=None):
        model = build_model(config, seed=seed)
        with torch.no_grad():
            model[-1].bias.fill_(float("nan"))
        return model

    monkeypatch.setattr(core.engine.trainer, "build_model", poisoned)
    result, _ = fit(mnist, train_subset=500)
    assert result.status == "diverged"
    assert result.message == "the loss became NaN at step 1 with learning rate 0.01: lower the learning rate"


def test_stop_from_another_thread_acts_at_once(mnist):
    steps = []
    trainer = Trainer(TrainConfig(epochs=50, train_subset=5000), mnist, callbacks=[steps.append])
    seen_at_stop = []

    def stop_soon():
        while len(steps) < 30:
            time.sleep(0.005)
        trainer.stop()
        seen_at_stop.append(sum(isinstance(e, StepEvent) for e in list(steps)))

    threading.Thread(target=stop_soon).start()
    result = trainer.fit()
    assert result.status == "stopped"
    assert result.message.startswith("stopped at epoch 1 of 50")
    n_steps = sum(isinstance(e, StepEvent) for e in steps)
    # At most the step already under way when stop() returned is finished; no new one starts.
    assert seen_at_stop[0] <= n_steps <= seen_at_stop[0] + 1 and result.steps == n_steps
    assert result.evaluation is not None  # what it learned so far can still be browsed


def test_pause_holds_the_loop_and_resume_lets_it_go_on(mnist):
    events = []
    trainer = Trainer(TrainConfig(epochs=1, train_subset=3000), mnist, callbacks=[events.append])
    trainer.pause()
    thread = threading.Thread(target=trainer.fit)
    thread.start()
    wait_until(lambda: any(isinstance(e, PauseEvent) for e in events), what="the pause event")
    time.sleep(0.3)
    assert trainer.paused and not any(isinstance(e, StepEvent) for e in events)
    trainer.resume()
    thread.join(timeout=60)
    assert not thread.is_alive()
    pauses = [e.paused for e in events if isinstance(e, PauseEvent)]
    assert pauses == [True, False]
    assert events[-1].status == "finished"
    (epoch,) = [e for e in events if isinstance(e, EpochEvent)]
    assert epoch.seconds < 30  # the paused time is not counted as training time


def test_a_new_learning_rate_applies_from_the_next_step(mnist):
    events = []
    trainer = Trainer(TrainConfig(epochs=1, train_subset=640), mnist, callbacks=[events.append])

    def at_step(event):
        if isinstance(event, StepEvent) and event.step == 3:
            trainer.set_lr(0.2)
    trainer.callbacks.append(as_callback(at_step))
    result = trainer.fit()
    (change,) = [e for e in events if isinstance(e, LearningRateEvent)]
    assert change == LearningRateEvent(3, 0.2)
    assert [group["lr"] for group in trainer.optimizer.param_groups] == [0.2]
    assert result.status == "finished"


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "fast"])
def test_a_bad_learning_rate_is_refused(bad):
    with pytest.raises(ValueError, match="above 0"):
        Trainer(TrainConfig(), data=object()).set_lr(bad)


def test_a_scheduled_run_keeps_its_schedule():
    with pytest.raises(ValueError, match="one-cycle"):
        Trainer(TrainConfig(schedule="onecycle"), data=object()).set_lr(0.1)


def test_overfit_one_batch_drives_its_loss_near_zero(mnist):
    result, events = fit(mnist, overfit_one_batch=True, optimizer="adam", lr=0.001, epochs=2, overfit_steps=100)
    assert result.status == "finished"
    assert events[0].n_train == 64 and events[0].steps_per_epoch == 100
    losses = [e.loss for e in events if isinstance(e, StepEvent)]
    assert losses[0] > 2.0 and losses[-1] < 0.01
    assert result.epochs[-1].train_loss < 0.05
    # A network that learnt 64 images by heart does far worse on the 10,000 it never saw.
    assert result.test_accuracy < 80


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_every_optimizer_learns(mnist, optimizer):
    lr = {"sgd": 0.1, "momentum": 0.02, "adam": 0.001}[optimizer]
    result, _ = fit(mnist, optimizer=optimizer, lr=lr, train_subset=3000, weight_decay=1e-4)
    assert result.status == "finished" and result.test_accuracy > 75


def test_the_accelerate_workarounds_are_in_place_once_and_clear_the_same_gradients():
    speed_up_accelerate_optimizer()  # the trainer's import already did: a second call must not wrap again
    check = accelerate.optimizer.is_lomo_available
    assert hasattr(check, "cache_info") and not hasattr(check.__wrapped__, "cache_info")
    model = build_mlp((8,), seed=0)
    model(torch.zeros(2, 784)).sum().backward()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    zero_grad(model)
    assert all(p.grad is None for group in optimizer.param_groups for p in group["params"])


def test_a_one_cycle_schedule_warms_up_to_the_rate_then_anneals_to_almost_zero():
    config = TrainConfig(lr=0.1, optimizer="adam", schedule="onecycle")
    optimizer = make_optimizer(config, build_mlp((8,)).parameters())
    schedule = make_schedule(config, optimizer, total_steps=100)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert max(rates) == pytest.approx(0.1) and 25 <= rates.index(max(rates)) <= 35
    assert rates[0] < 0.01 and rates[-1] < 1e-4
    assert make_schedule(TrainConfig(), optimizer, total_steps=100) is None  # constant: no schedule


@pytest.mark.parametrize("config", [
    TrainConfig(schedule="onecycle", epochs=2, train_subset=500, batch_size=50),
    TrainConfig(schedule="onecycle", epochs=2, overfit_one_batch=True, overfit_steps=5),
])
def test_one_cycle_training_runs_to_its_last_step(mnist, config):
    # One step past the cycle's total makes torch raise: the schedule must count the steps the loop takes.
    assert Trainer(config, mnist).fit().status == "finished"


def test_the_best_preset_passes_98_percent_on_real_mnist(mnist):
    assert Trainer(BEST, mnist).fit().test_accuracy >= 98.0
