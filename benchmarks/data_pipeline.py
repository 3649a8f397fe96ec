"""Epoch time of the lecture's pipeline, a bare in-memory loop, and our Trainer, on the same machine.

Same network (784-128-64-10), optimizer (SGD lr 0.01) and batch size in all three; prints each epoch
time (the best of --repeats epochs), test accuracy, and the ratios. Run: python -m benchmarks.data_pipeline
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from core.engine.config import TrainConfig
from core.engine.data import default_root, ensure_mnist, load_mnist, to_inputs
from core.engine.model import build_mlp
from core.engine.trainer import Trainer


def accuracy(model, data) -> float:
    """Test accuracy in percent, plain scaling."""
    with torch.no_grad():
        predicted = model(to_inputs(data.test_images)).argmax(1)
    return (predicted == data.test_labels).float().mean().item() * 100


def lecture_pipeline(epochs: int, batch_size: int, root) -> tuple[list[float], float]:
    """The lecture's code: torchvision MNIST with ToTensor, a DataLoader, a plain loop."""
    from torchvision import datasets, transforms

    train = datasets.MNIST(str(root), train=True, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(train, batch_size=batch_size, shuffle=True)
    model = build_mlp(seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    times = []
    for _ in range(epochs):
        began = time.perf_counter()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - began)
    return times, accuracy(model, load_mnist(root))


def bare_loop(epochs: int, batch_size: int, root) -> tuple[list[float], float]:
    """The floor: tensors in memory, batches sliced from a random permutation, nothing else."""
    data = load_mnist(root)
    x_all, y_all = to_inputs(data.train_images), data.train_labels
    model = build_mlp(seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(0)
    times = []
    for _ in range(epochs):
        began = time.perf_counter()
        order = torch.randperm(len(y_all), generator=generator)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - began)
    return times, accuracy(model, data)


def our_trainer(epochs: int, batch_size: int, root) -> tuple[list[float], float]:
    """core.engine.trainer.Trainer: Accelerate, events, per-epoch torchmetrics evaluation (not timed)."""
    steps = []
    config = TrainConfig(epochs=epochs, batch_size=batch_size, device="cpu")
    result = Trainer(config, load_mnist(root), callbacks=[steps.append]).fit()
    return [e.seconds for e in result.epochs], result.test_accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per pipeline and round (the best is reported)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of all three pipelines, alternated so that a busy moment hits all of them")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size for all three pipelines")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--data-dir", default=None, help="MNIST root folder (default: $MNIST_LAB_DATA or data/)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = ensure_mnist(args.data_dir or default_root())
    load_mnist(root)  # reading the files is not part of any epoch
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, batch {args.batch_size}, {args.epochs} epochs")
    times: dict[str, list[float]] = {}
    accuracy_of: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, run in (("lecture", lecture_pipeline), ("bare", bare_loop), ("trainer", our_trainer)):
            epoch_times, accuracy_of[name] = run(args.epochs, args.batch_size, root)
            times.setdefault(name, []).extend(epoch_times)
    results = {name: min(t) for name, t in times.items()}
    for name, t in times.items():
        epochs = ", ".join(f"{x:.2f}" for x in t)
        print(f"{name:8s} best epoch {min(t):6.2f} s  (epochs: {epochs})  test accuracy {accuracy_of[name]:.2f} %")
    print(f"trainer is {results['lecture'] / results['trainer']:.1f}x faster than the lecture's pipeline")
    print(f"trainer / bare loop = {results['trainer'] / results['bare']:.2f}")


if __name__ == "__main__":
    main()
