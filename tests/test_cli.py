import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import core.engine.cli_run
from core.engine.cli_args import build_parser, config_from_args, data_dir, folder_problem, parse_args, runs_dir
from core.engine.cli_run import StopNow, StopSignals
from core.engine.data import default_root
from core.engine.folders import default_runs_dir
from core.engine.presets import BEST, LECTURE, QUICK
from core.engine.run_store import RunStore
from tests.lab_helpers import REPO


def run_cli(*args, runner=(sys.executable, "-m", "core.train"), timeout=300):
    return subprocess.run([*runner, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_defaults_are_the_lectures():
    config = config_from_args(build_parser().parse_args([]))
    assert (config.optimizer, config.lr, config.batch_size, config.epochs, config.hidden) == (
        "sgd", 0.01, 64, 3, (128, 64))
    assert config_from_args(build_parser().parse_args(["--normalize"])).normalize == "standard"
    assert config_from_args(build_parser().parse_args(["--hidden"])).hidden == ()


def test_a_preset_is_the_start_and_every_flag_given_changes_it():
    assert config_from_args(parse_args(["--preset", "best"])) == BEST
    assert config_from_args(parse_args([])) == config_from_args(parse_args(["--preset", "lecture"])) == LECTURE
    quick_in_two = replace(QUICK, epochs=2)
    assert config_from_args(parse_args(["--preset", "quick", "--epochs", "2"])) == quick_in_two
    assert config_from_args(parse_args(["--epochs", "2", "--preset", "quick"])) == quick_in_two  # order free
    assert config_from_args(parse_args(["--preset", "best", "--schedule", "constant"])).schedule == "constant"


@pytest.mark.slow  # trains on the real MNIST in a subprocess
def test_json_summary_is_the_last_line_and_the_run_is_saved(runs_dir):
    done = run_cli("--json", "--epochs", "2", "--train-subset", "2000", "--optimizer", "adam", "--lr", "0.001")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["test_samples"] == 10_000
    assert 50 < summary["test_accuracy"] <= 100
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2]
    assert set(summary["epochs"][0]) == {"epoch", "train_loss", "test_loss", "test_accuracy", "seconds", "layers"}
    layers = summary["epochs"][0]["layers"]
    assert [layer["name"] for layer in layers] == ["hidden 1", "hidden 2", "output"]
    assert all(set(layer) == {"name", "grad_norm", "update_ratio", "dead_fraction"} for layer in layers)
    assert layers[-1]["dead_fraction"] is None and 0 <= layers[0]["dead_fraction"] <= 1
    assert 0 < summary["ece"] < 0.5  # the expected calibration error, 0..1
    assert summary["reproduce"] == str(Path(summary["run_dir"]) / "reproduce.py")
    run = RunStore().load(Path(summary["run_dir"]).name)
    assert run.status == "finished" and run.record["test_accuracy"] == pytest.approx(summary["test_accuracy"])
    # The report card and the doctor's diagnosis, as the run store has them.
    assert summary["report_card"] == run.report_card
    assert summary["report_card"]["test_accuracy"] == pytest.approx(summary["test_accuracy"])
    assert summary["diagnosis"] == [d.to_dict() for d in run.diagnosis()]
    assert all(set(d) == {"code", "message", "try"} for d in summary["diagnosis"]) and summary["diagnosis"]


@pytest.mark.slow  # trains on the real MNIST in a subprocess
def test_find_lr_trains_nothing_and_prints_its_suggestion_last(runs_dir):
    done = run_cli("--find-lr", "--json", "--epochs", "1")  # other flags are the settings it tests
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(found) == {"suggested_lr", "reason", "points", "seconds"}
    assert 0.01 <= found["suggested_lr"] <= 1 and f"{found['suggested_lr']:g}" in found["reason"]
    assert len(found["points"]) > 100 and all(len(point) == 2 for point in found["points"])
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # no run was made


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--lr", "-1"], "lr = -1.0 is not allowed"),
        (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["--epochs", "three"], "invalid int value: 'three'"),
        (["--hidden", "128", "5000"], "1 to 1024 units"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--preset", "worst"], "invalid choice: 'worst'"),
        (["--log-with", "wandb"], "logging with wandb needs its package: pip install wandb"),
    ],
)
def test_bad_flags_exit_nonzero_with_a_one_line_reason(args, words, runs_dir):
    done = run_cli(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0]
    assert not runs_dir.exists() or not os.listdir(runs_dir)  # nothing was started


@pytest.mark.slow  # trains on the real MNIST in a subprocess
def test_two_processes_train_with_ddp_and_count_every_test_image_once(runs_dir):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    assert torchrun, "torchrun comes with torch"
    done = run_cli("--cpu", "--json", "--epochs", "1", "--train-subset", "3000",
                   runner=(torchrun, "--nproc_per_node", "2", "-m", "core.train"))
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1  # only the main process prints the summary
    summary = json.loads(lines[0])
    assert summary["test_samples"] == 10_000
    assert "2 processes" in done.stderr  # with --json, progress goes to stderr
    assert len(RunStore().list()) == 1  # and only the main process saves a run


# Runs main() and fails if torch was imported: bad folders must be answered before that slow import.
WITHOUT_TORCH = ("import sys; from core.engine.cli import main; c = main(); "
                 "assert 'torch' not in sys.modules; sys.exit(c)")


@pytest.mark.parametrize(("flag", "where", "words"), [
    ("--runs-dir", "a-file", "it is a file, not a folder"),
    ("--runs-dir", "/proc/mnist-lab-x", "the folder cannot be created"),
    ("--data-dir", "a-file", "it is a file, not a folder"),
    ("--data-dir", "/proc/mnist-lab-x", "the folder cannot be created"),
    ("--data-dir", "/proc/self", "nothing can be written there"),  # a folder, but not one for files
])
def test_an_unusable_folder_is_named_in_one_line_before_torch_loads(flag, where, words, tmp_path, runs_dir):
    if where == "a-file":
        where = tmp_path / "a-file"
        where.write_text("not a folder")
    done = run_cli(flag, str(where), runner=(sys.executable, "-c", WITHOUT_TORCH))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("error: cannot ") and str(where) in done.stderr and words in done.stderr


def test_missing_folders_are_created_and_the_defaults_match_the_library(tmp_path, monkeypatch):
    assert folder_problem(tmp_path / "new" / "runs") is None and (tmp_path / "new" / "runs").is_dir()
    monkeypatch.setenv("MNIST_LAB_RUNS", str(tmp_path / "r"))
    args = build_parser().parse_args([])
    assert (data_dir(args), runs_dir(args)) == (default_root(), default_runs_dir())


def start_long_run(runs_dir):
    """A CLI run far too long to finish during the test, returned once it has printed that it trains."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.train", "--epochs", "50", "--batch-size", "1", "--train-subset", "2000",
         "--cpu", "--runs-dir", str(runs_dir)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("training"):
            return proc
    raise AssertionError(f"the run never started: {proc.communicate()[1][-2000:]}")


@pytest.mark.slow  # trains on the real MNIST in a subprocess
@pytest.mark.parametrize(("signals", "code"), [
    ([signal.SIGINT], 130),
    ([signal.SIGINT, signal.SIGINT], 130),  # the second lands while the first stop is being saved
    ([signal.SIGTERM], 143),
])
def test_signals_stop_the_run_and_save_it_as_stopped(signals, code, runs_dir):
    proc = start_long_run(runs_dir)
    # Some steps in, whatever the machine's load: the first epoch's line (a fixed sleep once landed before the first
    # step on a loaded machine, and the run was saved with 0 steps).
    next(line for line in proc.stdout if line.startswith("epoch 1:"))
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.02)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err[-2000:]
    assert "Traceback" not in err and "terminate called" not in err
    (run,) = RunStore(runs_dir).list()
    assert run.status == "stopped" and run.record["steps"] > 0


class FakeTrainer:
    stopped = False

    def stop(self):
        self.stopped = True


def test_the_first_signal_asks_to_stop_and_the_second_stops_at_once(monkeypatch):
    monkeypatch.setattr(core.engine.cli_run.signal, "signal", lambda *args: None)  # leave this process's handlers be
    signals = StopSignals()
    signals.trainer = FakeTrainer()
    signals._received(signal.SIGTERM, None)
    assert signals.trainer.stopped and signals.exit_code == 143
    with pytest.raises(StopNow):
        signals._received(signal.SIGINT, None)
    assert signals.exit_code == 143  # the first signal says how the run ended


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "leaky_relu"])
@pytest.mark.parametrize("dropout", ["0", "0.2", "0.5", "0.8"])
def test_every_activation_and_dropout_parse_from_the_command_line(activation, dropout):
    config = config_from_args(parse_args(["--activation", activation, "--dropout", dropout]))
    assert (config.activation, config.dropout) == (activation, float(dropout))


def test_activation_and_dropout_have_help_and_refuse_bad_values(capsys):
    text = build_parser().format_help()
    assert "--activation {relu,tanh,sigmoid,gelu,leaky_relu}" in text and "hidden units dropped" in text
    with pytest.raises(SystemExit):
        parse_args(["--activation", "swish"])
    with pytest.raises(ValueError, match="dropout = 0.9 is not allowed: a number from 0 to 0.8"):
        config_from_args(parse_args(["--dropout", "0.9"]))


# Loaded by the CLI's interpreter through PYTHONPATH: once main has returned and the process is on its way out,
# SIGTERM arrives twice; a process that outlives it says so.
LATE_SIGNAL = """import atexit, os, signal, sys

def _late_signal():
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGTERM)
    sys.stderr.write("still running after a late SIGTERM\\n")

atexit.register(_late_signal)
"""


@pytest.mark.slow
@pytest.mark.parametrize("module", ["core.train", "core.engine.cli"])
def test_a_late_sigterm_ends_either_entry_at_once_with_the_runs_exit_code(module, runs_dir, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(LATE_SIGNAL)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    done = subprocess.run([sys.executable, "-m", module, "--epochs", "1", "--train-subset", "200", "--cpu",
                           "--no-progress", "--runs-dir", str(runs_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "still running" not in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
    (run,) = RunStore(runs_dir).list()
    assert run.status == "finished"
