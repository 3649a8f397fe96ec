"""The seam for what training says: Callback hooks called by name, in order, from a light module."""

import subprocess
import sys

from core.engine.config import TrainConfig
from core.engine.events import Callback, EpochEvent, Relay, StepEvent
from core.engine.trainer import Trainer
from tests.lab_helpers import REPO

TWO_STEPS = TrainConfig(epochs=1, batch_size=64, train_subset=128)
IN_PROCESS_HOOKS = ("setup", "on_before_forward", "on_before_update", "on_finished", "teardown")


class HookNames(Callback):
    """Writes down the name of every hook the Trainer calls."""

    def __init__(self):
        self.names: list[str] = []

    def on_event(self, event) -> None:
        self.names.append(event.hook)

    def __getattribute__(self, name):
        if name in IN_PROCESS_HOOKS:
            return lambda *args: object.__getattribute__(self, "names").append(name)
        return object.__getattribute__(self, name)


class EpochsOnly(Callback):
    def __init__(self):
        self.epochs: list[EpochEvent] = []

    def on_epoch(self, event: EpochEvent) -> None:
        self.epochs.append(event)


def test_the_trainer_calls_each_hook_by_name_in_order(make_random_mnist):
    heard = HookNames()
    Trainer(TWO_STEPS, make_random_mnist(500, 100), callbacks=[heard]).fit()
    one_step = ["on_before_forward", "on_before_update", "on_step"]
    assert heard.names == ["setup", "on_start", *one_step, *one_step, "on_layer_stats", "on_epoch", "on_finished",
                           "on_report_card", "teardown", "on_end"]


def test_a_listener_that_overrides_only_on_epoch_hears_only_epochs(make_random_mnist):
    epochs = EpochsOnly()
    result = Trainer(TrainConfig(epochs=2, batch_size=64, train_subset=128), make_random_mnist(500, 100),
                     callbacks=[epochs]).fit()
    assert [e.epoch for e in epochs.epochs] == [1, 2] and epochs.epochs == result.epochs


def test_calling_a_callback_calls_the_hook_the_event_names_and_a_relay_passes_every_event():
    step = StepEvent(epoch=1, step=3, batch=3, steps_per_epoch=10, loss=2.0, samples=192, seconds=0.1)
    seen = []
    Relay(seen.append)(step)
    epochs = EpochsOnly()
    epochs(step)  # not a hook it overrides: nothing happens
    assert seen == [step] and epochs.epochs == []


def test_the_events_module_imports_neither_torch_nor_accelerate():
    check = "import sys, core.engine.events; assert not {'torch', 'accelerate'} & set(sys.modules), sys.modules.keys()"
    subprocess.run([sys.executable, "-c", check], cwd=REPO, check=True)
