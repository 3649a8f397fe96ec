"""The architecture setting (mlp or cnn, conv channels, kernel size) through everything a setting reaches: the CLI,
links, the history's words, the script, estimates and the budget, sweeps, class experiments, the doctor and the
challenge; and a CNN run trained, saved, reloaded and reproduced by its script."""

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from core.engine.cli_args import config_from_args, parse_args
from core.engine.config import ConfigError, TrainConfig, unused_because
from core.engine.data import to_inputs
from core.engine.doctor import Code, vanishing_gradients
from core.engine.model import build_model
from core.engine.presets import CNN, PRESETS, QUICK, preset_name
from core.engine.reproduce import reproduce_script
from core.engine.run_store import RunStore
from core.engine.trainer import Trainer
from core.lab.estimate import RUN_BUDGET, estimate_epoch, estimate_memory_mb, model_step_seconds
from core.lab.sweep import SWEEPABLE, sweep_configs
from core.lab.urlconfig import from_query, to_query
from core.lessons.challenge import Challenge
from core.lessons.experiment import Experiment
from core.views.doctor_view import try_label
from core.views.history import network_words, settings_text
from tests.lab_helpers import REPO
from tests.test_reproduce import script_constants, train_and_reproduce

SMALL_CNN = TrainConfig(architecture="cnn", conv_channels=(4, 8), kernel_size=3, hidden=(32,))


def test_the_lecture_stays_an_mlp_and_a_cnn_is_filters_then_the_hidden_layers():
    assert TrainConfig().architecture == "mlp" and TrainConfig().layers_text() == "784 → 128 → 64 → 10"
    assert SMALL_CNN.layers_text() == "1 → 4 → 8 filters (3×3) → 392 → 32 → 10"
    assert SMALL_CNN.flat_features == 8 * 7 * 7
    assert TrainConfig(architecture="cnn", conv_channels=(2, 2, 2, 2)).flat_features == 2  # 28 → 14 → 7 → 3 → 1


@pytest.mark.parametrize(("values", "allowed"), [
    ({"architecture": "rnn"}, "one of mlp, cnn"),
    ({"kernel_size": 4}, "one of 1, 3, 5, 7, 9"),
    ({"kernel_size": 11}, "one of 1, 3, 5, 7, 9"),
    ({"conv_channels": ()}, "a list of 1 to 4 layer sizes"),
    ({"conv_channels": (8, 16, 32, 64, 128)}, "a list of 1 to 4 layer sizes"),
    ({"conv_channels": (8, 0)}, "each convolutional layer must have 1 to 64 channels"),
])
def test_a_bad_network_is_refused_in_words(values, allowed):
    with pytest.raises(ConfigError, match=allowed):
        TrainConfig(**values)


def test_the_command_line_sets_a_cnn_and_the_cnn_preset():
    config = config_from_args(parse_args(["--architecture", "cnn", "--conv-channels", "4", "8", "--kernel-size", "3",
                                          "--hidden", "32"]))
    assert config == replace(TrainConfig(), architecture="cnn", conv_channels=(4, 8), kernel_size=3, hidden=(32,))
    assert config_from_args(parse_args(["--preset", "cnn"])) == CNN == PRESETS["CNN"]
    assert config_from_args(parse_args(["--preset", "cnn", "--kernel-size", "3"])).kernel_size == 3
    assert preset_name(CNN) == "CNN"
    help_text = subprocess.run([sys.executable, "-m", "core.train", "--help"], cwd=REPO, capture_output=True,
                               text=True, timeout=60).stdout
    assert "--architecture {mlp,cnn}" in help_text and "--conv-channels" in help_text and "cnn" in help_text


def test_a_bad_kernel_on_the_command_line_is_one_line_and_exit_2():
    done = subprocess.run([sys.executable, "-m", "core.train", "--architecture", "cnn", "--kernel-size", "4"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.strip() == (
        "error: kernel_size = 4 is not allowed: one of 1, 3, 5, 7, 9")


def test_a_cnn_survives_a_link_and_bad_values_in_one_are_explained():
    assert to_query(CNN)["architecture"] == "cnn" and "architecture" not in to_query(QUICK)
    assert from_query(to_query(SMALL_CNN)) == (SMALL_CNN, [])
    config, warnings = from_query({"architecture": "cnn", "kernel_size": "4", "conv_channels": "none"})
    assert config == replace(QUICK, architecture="cnn")
    assert warnings == [
        "The link's conv_channels='none' was ignored (a list of 1 to 4 layer sizes); using 8-16 instead.",
        "The link's kernel_size='4' was ignored (one of 1, 3, 5, 7, 9); using 5 instead.",
    ]
    _, warnings = from_query({"conv_channels": "8,x"})
    assert "convolutional layer sizes must be whole numbers separated by commas, such as 8, 16" in warnings[0]


def test_the_history_words_a_cnn():
    assert settings_text(SMALL_CNN) == "cnn · conv 1 → 4 → 8 · 3×3 kernels · 392 → 32 → 10"
    assert settings_text(TrainConfig(architecture="cnn")) == "cnn"
    assert network_words(SMALL_CNN) == ("with ReLU and 2×2 max-pooling after each convolutional layer, and ReLU "
                                        "after every hidden layer")
    assert network_words(TrainConfig()) == "with ReLU after every hidden layer"  # the lecture's words, unchanged


def test_the_script_builds_the_cnn_and_only_the_cnn():
    script = reproduce_script(replace(SMALL_CNN, activation="tanh"), "x")
    constants = script_constants(script)
    assert (constants["ARCHITECTURE"], constants["CONV_CHANNELS"], constants["KERNEL_SIZE"]) == ("cnn", (4, 8), 3)
    assert 'nn.Conv2d(depth, filters, KERNEL_SIZE, padding="same"), nn.Tanh(), nn.MaxPool2d(2)' in script
    assert "1 -> 4 -> 8 filters (3x3) -> 392 -> 32 -> 10" in script
    assert "nn.Conv2d" not in reproduce_script(TrainConfig())
    # The settings and the network, run alone: the script's network holds the lab's initial weights exactly.
    network = script[script.index("def build_model"):script.index("# --- Evaluation")]
    namespace = {}
    exec(compile(script.split("# --- Where MNIST is")[0] + network, "reproduce.py", "exec"), namespace)
    lab = build_model(replace(SMALL_CNN, activation="tanh"), seed=0)
    for mine, theirs in zip(namespace["model"].parameters(), lab.parameters(), strict=True):
        assert torch.equal(mine, theirs)


def test_estimates_grow_with_the_filters_and_the_budget_refuses_a_huge_cnn_in_words():
    mlp = replace(QUICK, hidden=(32,))
    cnn = replace(mlp, architecture="cnn", conv_channels=(4, 8), kernel_size=3)
    assert model_step_seconds(cnn) > model_step_seconds(mlp)
    assert model_step_seconds(replace(cnn, kernel_size=7)) > model_step_seconds(cnn)
    assert model_step_seconds(replace(cnn, conv_channels=(16, 32))) > model_step_seconds(cnn)
    assert estimate_epoch(cnn).eval_seconds > estimate_epoch(mlp).eval_seconds
    assert estimate_memory_mb(replace(cnn, conv_channels=(64, 64))) > estimate_memory_mb(cnn) > estimate_memory_mb(mlp)
    assert RUN_BUDGET.problem(CNN) is None
    huge = replace(CNN, conv_channels=(64, 64, 64, 64), kernel_size=9, epochs=20)
    assert "one run may take at most 10 min" in RUN_BUDGET.problem(huge)
    assert "a smaller network" in RUN_BUDGET.problem(replace(huge, epochs=1, batch_size=4096))


def test_a_sweep_compares_architectures_and_a_kernel_sweep_trains_cnns():
    assert {"architecture", "conv_channels", "kernel_size"} <= set(SWEEPABLE)
    both = sweep_configs(QUICK, "architecture", ["mlp", "cnn"])
    assert [c.architecture for c in both] == ["mlp", "cnn"]
    kernels = sweep_configs(QUICK, "kernel_size", [3, 5, 7])
    assert [(c.architecture, c.kernel_size) for c in kernels] == [("cnn", 3), ("cnn", 5), ("cnn", 7)]
    assert unused_because("kernel_size", QUICK) == (
        "Kernel size changes nothing unless network type is convolutional (CNN)")
    assert unused_because("kernel_size", CNN) is None and unused_because("lr", QUICK) is None


def test_a_class_experiment_can_set_mlp_against_cnn():
    experiment = Experiment.new("architecture", ["mlp", "cnn"], QUICK.to_dict(), now=0.0)
    assert experiment.values == ("mlp", "cnn") and "architecture" not in experiment.fixed_settings
    assert experiment.fixed_settings["conv_channels"] == [8, 16]


def test_the_doctor_sees_a_deep_cnns_fading_gradient_and_names_its_cure():
    config = replace(CNN, conv_channels=(8, 16, 32), activation="sigmoid")
    names = ["conv 1", "conv 2", "conv 3", "hidden 1", "output"]
    layers = [{"name": n, "grad_norm": g, "update_ratio": 0.0, "dead_fraction": None}
              for n, g in zip(names, (1e-7, 1e-5, 1e-3, 1e-2, 0.1), strict=True)]
    found = vanishing_gradients([{"epoch": 1, "layers": layers}], config)
    assert found.code == Code.VANISHING_GRADIENTS
    assert found.try_settings == {"activation": "relu", "conv_channels": [8, 16]}
    assert "3 convolutional layers are many to go back through" in found.message
    assert try_label(found.try_settings) == "Try ReLU and convolutional layers (filters) 8-16"


def test_a_challenge_counts_a_cnns_filters_as_parameters():
    challenge = Challenge(max_parameters=100_000)
    assert "this one has 105,194" in challenge.broken_rule(CNN)
    assert challenge.broken_rule(replace(CNN, hidden=(64,))) is None


def test_a_cnn_trains_saves_and_comes_back_with_the_same_predictions(make_random_mnist, runs_dir):
    data = make_random_mnist(300, 100)
    config = replace(SMALL_CNN, epochs=1, batch_size=50, optimizer="adam", lr=0.003, device="cpu")
    recorder = RunStore().create(config)
    result = Trainer(config, data, callbacks=[recorder]).fit()
    run = RunStore().load(recorder.id)
    assert run.config == config and result.status == "finished"
    with torch.no_grad():
        predicted = run.model()(to_inputs(data.test_images, config.normalize)).argmax(dim=1).numpy()
    assert (predicted == run.predictions().predicted).all()
    assert math.isfinite(run.record["test_accuracy"])


def test_the_script_reproduces_a_cnn_run_on_real_mnist(mnist, runs_dir, tmp_path):
    summary, lines = train_and_reproduce(["--epochs", "1", "--train-subset", "1000", "--architecture", "cnn",
                                          "--conv-channels", "4", "8", "--kernel-size", "3", "--hidden", "16",
                                          "--optimizer", "adam", "--lr", "0.003", "--normalize"], tmp_path)
    result = json.loads(lines[-1])
    assert abs(result["test_accuracy"] - summary["test_accuracy"]) < 0.1
    assert Path(summary["notebook"]).exists()

