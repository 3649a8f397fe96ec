import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.runs import RunStore
from core.train import build_parser, config_from_args

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args, runner=(sys.executable, "-m", "core.train"), timeout=300):
    return subprocess.run([*runner, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_defaults_are_the_lectures():
    config = config_from_args(build_parser().parse_args([]))
    assert (config.optimizer, config.lr, config.batch_size, config.epochs, config.hidden) == (
        "sgd", 0.01, 64, 3, (128, 64))
    assert config_from_args(build_parser().parse_args(["--normalize"])).normalize == "standard"
    assert config_from_args(build_parser().parse_args(["--hidden"])).hidden == ()


def test_json_summary_is_the_last_line_and_the_run_is_saved(runs_dir):
    done = run_cli("--json", "--epochs", "2", "--train-subset", "2000", "--optimizer", "adam", "--lr", "0.001")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["test_samples"] == 10_000
    assert 50 < summary["test_accuracy"] <= 100
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2]
    assert set(summary["epochs"][0]) == {"epoch", "train_loss", "test_loss", "test_accuracy", "seconds"}
    run = RunStore().load(Path(summary["run_dir"]).name)
    assert run.status == "finished" and run.record["test_accuracy"] == pytest.approx(summary["test_accuracy"])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--lr", "-1"], "lr = -1.0 is not allowed"),
        (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["--epochs", "three"], "invalid int value: 'three'"),
        (["--hidden", "128", "5000"], "1 to 1024 units"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_flags_exit_nonzero_with_a_one_line_reason(args, words, runs_dir):
    done = run_cli(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0]
    assert not runs_dir.exists() or not os.listdir(runs_dir)  # nothing was started


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
