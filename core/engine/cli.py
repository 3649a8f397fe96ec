"""`python -m core.train`'s entry: check the flags and folders (core.engine.cli_args), then train or find a
learning rate (core.engine.cli_run). Flags: `python -m core.train --help`."""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

from core.engine.cli_args import config_from_args, folders_error, parse_args
from core.engine.config import ConfigError
from core.engine.tracking import tracker_problem

# torch and accelerate take seconds to import: they are imported only once the flags and folders are known
# to be good, so a typo is answered at once.


def main(argv: list[str] | None = None) -> int:
    """Parse flags, train, save the run; returns the exit code."""
    args = parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if error := folders_error(args):
        print(error, file=sys.stderr)
        return 2
    # Only now: the training side imports torch and Accelerate, which take seconds.
    from core.engine.cli_run import StopNow, StopSignals, find_learning_rate, mark_stopped, train

    if args.find_lr:
        return find_learning_rate(args, config)
    if problem := tracker_problem(config.log_with):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    signals = StopSignals()
    signals.install()
    try:
        return train(args, config, signals)
    except StopNow:
        mark_stopped(signals.recorder)
        print("stopped at once; the run is saved as stopped" if signals.recorder
              else "stopped at once" if signals.trainer else "stopped before training started", file=sys.stderr)
        return signals.exit_code


def run(argv: list[str] | None = None) -> NoReturn:
    """The process's entry, for both `python -m core.train` and `python -m core.engine.cli`: main, then exit."""
    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # Nothing is left to stop or save: a late Ctrl+C or SIGTERM ends the process at once, with the same code.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: os._exit(code))
    sys.exit(code)


if __name__ == "__main__":
    run()
