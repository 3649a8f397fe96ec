"""Command line: train the lecture's network and save the run.

    python -m core.train                                  # the lecture: SGD, lr 0.01, batch 64, 3 epochs
    python -m core.train --optimizer adam --lr 0.001 --json
    torchrun --nproc_per_node 2 -m core.train --cpu       # two processes on CPUs (DDP over gloo)
    accelerate launch --multi_gpu -m core.train           # several GPUs
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from core.config import MIXED_PRECISIONS, NORMALIZATIONS, OPTIMIZERS, ConfigError, TrainConfig

# torch and accelerate take seconds to import: they are imported only once the flags are known to be good,
# so a typo is answered at once.


class _OneLineErrors(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The CLI's flags; defaults are the lecture's."""
    d = TrainConfig()
    p = _OneLineErrors(prog="python -m core.train", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    hyper = p.add_argument_group("hyperparameters")
    hyper.add_argument("--epochs", type=int, default=d.epochs,
                       help=f"passes over the training set (default {d.epochs})")
    hyper.add_argument("--lr", type=float, default=d.lr, help=f"learning rate (default {d.lr})")
    hyper.add_argument("--batch-size", type=int, default=d.batch_size, help=f"images per step (default {d.batch_size})")
    hyper.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer,
                       help="sgd, momentum (SGD with momentum 0.9) or adam (default sgd)")
    hyper.add_argument("--hidden", type=int, nargs="*", default=list(d.hidden), metavar="UNITS",
                       help="hidden layer sizes, 1-1024 each (default: 128 64)")
    hyper.add_argument("--weight-decay", type=float, default=d.weight_decay, help="L2 penalty (default 0)")
    hyper.add_argument("--seed", type=int, default=d.seed, help="random seed: same seed, same run (default 0)")
    hyper.add_argument("--normalize", nargs="?", choices=NORMALIZATIONS, const="standard", default=d.normalize,
                       help="pixel scaling: plain 0..1 (default) or standard (mean 0.1307, std 0.3081); "
                       "--normalize alone means standard")
    hyper.add_argument("--train-subset", type=int, default=None, metavar="N",
                       help="train on a fixed random N of the 60,000 images (to see overfitting)")
    hyper.add_argument("--overfit-one-batch", action="store_true",
                       help="train on one fixed batch only; its loss should fall near zero")
    hyper.add_argument("--overfit-steps", type=int, default=d.overfit_steps,
                       help=f"steps per epoch with --overfit-one-batch (default {d.overfit_steps})")
    hw = p.add_argument_group("hardware")
    hw.add_argument("--cpu", action="store_true", help="train on the CPU even if a GPU is present")
    hw.add_argument("--mixed-precision", choices=MIXED_PRECISIONS, default=d.mixed_precision,
                    help="no, fp16 or bf16 (default no): faster on GPUs, slower on most CPUs")
    out = p.add_argument_group("files and output")
    out.add_argument("--data-dir", default=None, help="MNIST folder (default $MNIST_LAB_DATA or data/)")
    out.add_argument("--runs-dir", default=None, help="where runs are saved (default $MNIST_LAB_RUNS or runs/)")
    out.add_argument("--label", default="", help="a name for this run in the run history")
    out.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    out.add_argument("--no-progress", action="store_true", help="plain lines even on a terminal")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the flags describe (raises ConfigError on a bad value)."""
    return TrainConfig(
        lr=args.lr, batch_size=args.batch_size, epochs=args.epochs, hidden=tuple(args.hidden),
        optimizer=args.optimizer, weight_decay=args.weight_decay, seed=args.seed, normalize=args.normalize,
        train_subset=args.train_subset, overfit_one_batch=args.overfit_one_batch,
        overfit_steps=args.overfit_steps, mixed_precision=args.mixed_precision,
        device="cpu" if args.cpu else "auto",
    )


class ConsoleReport:
    """Progress for people: a redrawn bar on a terminal, plain lines otherwise."""

    def __init__(self, stream, bar: bool):
        self.stream, self.bar, self.total, self.last_draw = stream, bar, 0, 0.0

    def __call__(self, event) -> None:
        from core.trainer import EndEvent, EpochEvent, StartEvent, StepEvent

        if isinstance(event, StartEvent):
            cfg = event.config
            self._line(f"training {cfg.architecture()} with {cfg.optimizer} lr {cfg.lr:g}, batch {cfg.batch_size}, "
                       f"{cfg.epochs} epoch{'s' * (cfg.epochs != 1)} on {event.n_train:,} images ({event.device}, "
                       f"{event.num_processes} process{'es' if event.num_processes > 1 else ''})")
            self.total = event.total_steps
        elif isinstance(event, StepEvent) and self.bar:
            now = time.monotonic()
            if now - self.last_draw > 0.1 or event.batch == event.steps_per_epoch:
                self.last_draw = now
                filled = int(30 * event.step / max(self.total, 1))
                self.stream.write(f"\repoch {event.epoch} "
                                  f"[{'#' * filled}{'.' * (30 - filled)}] step {event.step}/{self.total} "
                                  f"loss {event.loss:.4f}")
                self.stream.flush()
        elif isinstance(event, EpochEvent):
            self._line(f"epoch {event.epoch}: train loss {event.train_loss:.4f}, test loss {event.test_loss:.4f}, "
                       f"test accuracy {event.test_accuracy:.2f} %, {event.seconds:.2f} s")
        elif isinstance(event, EndEvent):
            self._line(event.message)

    def _line(self, text: str) -> None:
        if self.bar:
            self.stream.write("\r\033[K")
        print(text, file=self.stream, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Parse flags, train, save the run; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from core.data import MNISTUnavailable, default_root, load_mnist
    from core.runs import RunStore, default_runs_dir
    from core.trainer import Trainer, make_accelerator

    accelerator = make_accelerator(config)
    main_process = accelerator.is_main_process
    try:
        # The main process builds the IDX files if needed; the others then just read them.
        with accelerator.main_process_first():
            data = load_mnist(args.data_dir or default_root())
    except MNISTUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    listeners = []
    recorder = None
    if main_process:
        recorder = RunStore(args.runs_dir or default_runs_dir()).create(config, label=args.label)
        listeners += [recorder, ConsoleReport(sys.stderr if args.json else sys.stdout,
                                              bar=not args.no_progress and sys.stdout.isatty() and not args.json)]
    trainer = Trainer(config, data, listeners=listeners, accelerator=accelerator)

    def on_interrupt(signum, frame):
        # First Ctrl+C stops cleanly (the run is saved as stopped); a second one ends at once.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        trainer.stop()

    signal.signal(signal.SIGINT, on_interrupt)
    result = trainer.fit()
    if args.json and main_process:
        ev = result.evaluation
        print(json.dumps({
            "status": result.status,
            "message": result.message,
            "run_dir": str(recorder.path),
            "test_accuracy": round(result.test_accuracy, 4) if result.test_accuracy is not None else None,
            "test_samples": ev.n_samples if ev is not None else 0,
            "epochs": [
                {k: e.to_dict()[k] for k in ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds")}
                for e in result.epochs
            ],
        }))
    return {"finished": 0, "stopped": 130}.get(result.status, 1)


if __name__ == "__main__":
    sys.exit(main())
