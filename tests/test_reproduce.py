"""A run as a standalone script (core.engine.reproduce): self-contained, and it reaches the run's accuracy."""

import ast
import json
import os
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import pytest

from core.engine.config import SETTINGS, TrainConfig
from core.engine.data import default_root
from core.engine.reproduce import reproduce_script
from core.engine.run_store import RunStore
from tests.lab_helpers import REPO


def imported(script: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(script)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module.split(".")[0])
    return found


def test_the_script_imports_only_public_libraries_and_carries_the_settings():
    config = TrainConfig(lr=0.05, optimizer="momentum", hidden=(32,), seed=7, train_subset=500, normalize="standard")
    script = reproduce_script(config, "20260101-000000-abcd", [(10, 0.2)])
    assert imported(script) == {"argparse", "json", "math", "torch", "accelerate", "torchmetrics", "torchvision"}
    for line in ("SEED = 7", "HIDDEN = (32,)", "LR = 0.05", 'OPTIMIZER = "momentum"', "TRAIN_SUBSET = 500",
                 'NORMALIZE = "standard"', "LR_CHANGES = {10: 0.2}", "MOMENTUM = 0.9"):
        assert line in script
    assert "20260101-000000-abcd" in script and "784 -> 32 -> 10" in script
    compile(script, "reproduce.py", "exec")


def run_python(*args, cwd=REPO, timeout=600):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": ""})


def train_and_reproduce(flags: list[str], tmp_path: Path) -> tuple[dict, list[str]]:
    """Train with the CLI, then run the run's script from elsewhere: (the CLI's summary, the script's lines)."""
    done = run_python("-m", "core.train", "--json", "--cpu", *flags)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    script = Path(summary["reproduce"])
    assert script.exists() and script.read_text() == RunStore().load(script.parent.name).reproduce_script()
    # Run from elsewhere, as a student would: nothing of the lab is importable there.
    copy = tmp_path / "reproduce.py"
    copy.write_text(script.read_text())
    again = run_python(str(copy), "--data-dir", str(default_root().resolve()), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    return summary, again.stdout.strip().splitlines()


@pytest.mark.parametrize("flags", [
    ["--optimizer", "momentum", "--weight-decay", "0.0001", "--normalize", "--batch-size", "32", "--seed", "3"],
    ["--optimizer", "adam", "--lr", "0.003", "--schedule", "onecycle", "--seed", "5"],
])
def test_the_exported_script_reaches_the_runs_accuracy_on_real_mnist(flags, runs_dir, tmp_path, mnist):
    summary, lines = train_and_reproduce(["--epochs", "2", "--train-subset", "1500", *flags], tmp_path)
    result = json.loads(lines[-1])
    assert lines[0].startswith("epoch 1: test accuracy")
    assert [e["epoch"] for e in result["epochs"]] == [1, 2]
    for mine, theirs in zip(result["epochs"], summary["epochs"], strict=True):
        assert abs(mine["test_accuracy"] - theirs["test_accuracy"]) < 0.1
    assert abs(result["test_accuracy"] - summary["test_accuracy"]) < 0.1


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "leaky_relu"])
def test_the_script_builds_the_runs_activation_and_dropout(activation):
    script = reproduce_script(TrainConfig(activation=activation, dropout=0.3, hidden=(16, 8)))
    module = {"relu": "nn.ReLU()", "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()", "gelu": "nn.GELU()",
              "leaky_relu": "nn.LeakyReLU()"}[activation]
    assert f"layers += [nn.Linear(width, units), {module}]" in script
    assert "DROPOUT = 0.3" in script and "nn.Dropout(DROPOUT)" in script
    compile(script, "reproduce.py", "exec")


def test_the_lectures_script_has_relu_and_no_dropout():
    script = reproduce_script(TrainConfig())
    assert "nn.ReLU()]" in script and "DROPOUT = 0.0" in script


def test_the_script_reproduces_a_tanh_run_with_dropout(runs_dir, tmp_path, mnist):
    # Dropout's masks come from torch's global generator: the lab and the script seed it the same way.
    summary, lines = train_and_reproduce(["--epochs", "1", "--train-subset", "1000", "--activation", "tanh",
                                          "--dropout", "0.3", "--optimizer", "adam", "--lr", "0.002"], tmp_path)
    result = json.loads(lines[-1])
    assert abs(result["test_accuracy"] - summary["test_accuracy"]) < 0.1


def another_value(name: str):
    """A value of the setting other than its default, one that TrainConfig allows."""
    described = SETTINGS[name]
    if described.choices:
        return next(c for c in described.choices if c != described.default)
    if isinstance(described.default, bool):
        return not described.default
    if isinstance(described.default, tuple):
        return (3, 4)
    return described.high if described.default != described.high else described.low


def script_constants(script: str) -> dict:
    """The script's top-level NAME = literal assignments."""
    constants = {}
    for node in ast.parse(script).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue  # computed from other constants, e.g. CPU = DEVICE == "cpu"
    return constants


@pytest.mark.parametrize("name", [f.name for f in fields(TrainConfig)])
def test_every_setting_reaches_the_script_with_its_value(name):
    config = replace(TrainConfig(), **{name: another_value(name)})
    constants = script_constants(reproduce_script(config))
    assert name.upper() in constants, f"the script has no line for {name}"
    assert constants[name.upper()] == getattr(config, name)
