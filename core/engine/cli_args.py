"""The CLI's flags and their help, and what the flags say: the settings, and folders checked before torch loads."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Mapping
from pathlib import Path

from core.engine.config import SETTINGS, Setting, TrainConfig
from core.engine.folders import default_root, default_runs_dir
from core.engine.presets import PRESETS

USAGE = """Command line: train the lecture's network and save the run.

    python -m core.train                                  # the lecture: SGD, lr 0.01, batch 64, 3 epochs
    python -m core.train --optimizer adam --lr 0.001 --json   # also writes the run's reproduce.py
    python -m core.train --find-lr --json                 # suggest a learning rate; trains nothing
    python -m core.train --log-with tensorboard           # then: tensorboard --logdir runs
    python -m core.train --preset cnn                     # a convolutional network: past 99 %
    torchrun --nproc_per_node 2 -m core.train --cpu       # two processes on CPUs (DDP over gloo)
    accelerate launch --multi_gpu -m core.train           # several GPUs
"""

EXIT_CODES = """exit codes: 0 finished, 1 diverged or failed, 2 bad flag or unusable folder,
130 stopped by Ctrl+C, 143 stopped by SIGTERM (what kill sends)

The first Ctrl+C (or SIGTERM) stops after the current step and saves the run as stopped;
a second one stops at once."""


class _OneLineErrors(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"error: {message} (see --help)\n")


PRESET_FLAGS = {name.lower(): config for name, config in PRESETS.items()}  # --preset lecture, quick, best, cnn


def build_parser(
    settings: Mapping[str, Setting] = SETTINGS, base: TrainConfig | None = None
) -> argparse.ArgumentParser:
    """The CLI's flags: a preset, one flag per setting, then files and output; defaults are `base`'s.

    Without a base the defaults are each setting's own: the lecture's setup.
    """
    p = _OneLineErrors(prog="python -m core.train", description=USAGE, epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=PRESET_FLAGS,
                   help="start from a named setup: lecture (the default), quick, best or cnn; the other flags change "
                   "it")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for described in settings.values():
        if described.cli.group not in groups:
            groups[described.cli.group] = p.add_argument_group(described.cli.group)
        add_flag(groups[described.cli.group], described)
    out = groups.get("files and output") or p.add_argument_group("files and output")
    out.add_argument("--data-dir", default=None, help="MNIST folder (default $MNIST_LAB_DATA or data/)")
    out.add_argument("--runs-dir", default=None, help="where runs are saved (default $MNIST_LAB_RUNS or runs/)")
    out.add_argument("--label", default="", help="a name for this run in the run history")
    out.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    out.add_argument("--find-lr", action="store_true",
                     help="train nothing: run the learning-rate range test for these settings and suggest a rate")
    out.add_argument("--no-progress", action="store_true", help="plain lines even on a terminal")
    if base is not None:
        p.set_defaults(**{name: value for name, value in base.to_dict().items() if name in settings})
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags, on top of the preset named by --preset (if any): a flag given always wins."""
    first = argparse.ArgumentParser(add_help=False)  # reads --preset alone; the full parser checks it
    first.add_argument("--preset")
    known, _ = first.parse_known_args(argv)
    return build_parser(base=PRESET_FLAGS.get(known.preset)).parse_args(argv)


def add_flag(group, described: Setting) -> None:
    """The flag of one setting, its value stored under the setting's name."""
    cli, kind = described.cli, described.kind
    words = {"dest": described.name, "help": cli.help.format(
        default=kind.cli_text(described.default), low=described.low, high=described.high)}
    if cli.switch is not None:
        group.add_argument(described.flag, action="store_const", const=cli.switch, default=described.default, **words)
        return
    if cli.metavar is not None:
        words["metavar"] = cli.metavar
    group.add_argument(described.flag, default=described.default, **value_words(described), **words)


def value_words(described: Setting) -> dict:
    """add_argument's words for a setting's flag: what its kind asks for, and the value meant by the flag alone."""
    words = described.kind.cli_words()
    if described.cli.alone is not None:
        words.update(nargs="?", const=described.cli.alone)
    return words


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the flags describe (raises ConfigError on a bad value)."""
    return TrainConfig(**{name: getattr(args, name) for name in SETTINGS})


def data_dir(args: argparse.Namespace) -> Path:
    """The MNIST folder: --data-dir, else the default (folders.default_root)."""
    return Path(args.data_dir) if args.data_dir else default_root()


def runs_dir(args: argparse.Namespace) -> Path:
    """The runs folder: --runs-dir, else the default (folders.default_runs_dir)."""
    return Path(args.runs_dir) if args.runs_dir else default_runs_dir()


def folder_problem(path: Path) -> str | None:
    """Why files cannot be written into `path`, or None when they can; a missing folder is created."""
    if path.exists() and not path.is_dir():
        return "it is a file, not a folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"the folder cannot be created ({exc.strerror or exc})"
    try:
        # Only writing tells: permission bits say nothing for root, nor for a read-only disk.
        with tempfile.NamedTemporaryFile(dir=path, prefix=".mnist-lab-check-"):
            pass
    except OSError as exc:
        return f"nothing can be written there ({exc.strerror or exc})"
    return None


def folders_error(args: argparse.Namespace) -> str | None:
    """One line saying which folder is unusable and why, or None when both are fine."""
    data = data_dir(args)
    # MNIST already built needs only reading (a shared read-only copy is fine); a missing one is built here.
    if not (data / "MNIST" / "raw").is_dir() and (problem := folder_problem(data)):
        return f"error: cannot build MNIST in {data}: {problem}"
    if problem := folder_problem(runs_dir(args)):
        return f"error: cannot save runs in {runs_dir(args)}: {problem}"
    return None
