"""A run as one standalone Python file: torchvision MNIST, a DataLoader, the model, an Accelerate loop, torchmetrics.

The file imports nothing from the lab. It rebuilds what the lab's Trainer does, step for step: the same initial
weights (core.engine.model.build_mlp: one generator seeded with the run's seed, Linear layers in order, weight
then bias), the same training subset (core.engine.data.subset_indices), the same batch order (one randperm per
epoch from a generator seeded with the seed, as core.engine.data.IndexBatches), the same pixel scaling and the
learning rates changed by hand while the run trained. On the same machine it reaches the run's accuracy.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.engine.config import MOMENTUM, SETTINGS, TrainConfig
from core.engine.data import MNIST_MEAN, MNIST_STD
from core.engine.model import ACTIVATION_MODULES
from core.engine.schema import Setting

_SETTINGS_MARK = "# @SETTINGS@\n"
# How the script writes each activation: the lab's own module, by name (nn.Tanh(), nn.LeakyReLU(), …).
ACTIVATION_CODE = {name: f"nn.{module.__name__}()" for name, module in ACTIVATION_MODULES.items()}

TEMPLATE = '''"""MNIST Lab run @RUN@ as a standalone script, written like the lecture's code.

Trains @ARCHITECTURE@ with the run's settings and seed: the same initial weights, the same batch order and
the same pixel scaling as the lab, so on the same machine it reaches the run's test accuracy. Needs torch,
torchvision, accelerate and torchmetrics; MNIST is read from (or downloaded into) DIR/MNIST/raw.

    python reproduce.py --data-dir DIR

Prints each epoch's test accuracy, then one line of JSON with "test_accuracy".
"""

import argparse
import json
import math

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, Sampler, Subset
from torchmetrics.classification import MulticlassAccuracy
from torchvision import datasets, transforms

# --- The run's settings ------------------------------------------------------------------------------------
# @SETTINGS@
N_TRAIN = 60_000


# --- The network: 784 -> hidden layers, each with its activation (and dropout) -> 10 --------------------------
def build_model() -> nn.Sequential:
    layers, width = [nn.Flatten()], 784
    for units in HIDDEN:
        layers += [nn.Linear(width, units), @ACTIVATION@]
        if DROPOUT > 0:
            layers.append(nn.Dropout(DROPOUT))  # switches off a random DROPOUT of the units in each training step
        width = units
    layers.append(nn.Linear(width, 10))
    model = nn.Sequential(*layers)
    # PyTorch's default initialisation (uniform in +-1/sqrt(fan_in)), drawn from one generator seeded with
    # SEED, layer by layer, weight then bias: the lab's initial weights exactly.
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                bound = 1 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
    return model


# --- The data ----------------------------------------------------------------------------------------------
class ShuffleEachEpoch(Sampler):
    """A new random order of the training images each epoch: one torch.randperm from a generator seeded once."""

    def __init__(self, n: int, seed: int):
        self.n, self.generator = n, torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=self.generator).tolist())


def mnist(data_dir: str, train: bool) -> datasets.MNIST:
    scaling = [transforms.ToTensor()]  # pixels 0..1
    if NORMALIZE == "standard":
        scaling.append(transforms.Normalize((MNIST_MEAN,), (MNIST_STD,)))  # mean 0, std 1
    return datasets.MNIST(data_dir, train=train, download=True, transform=transforms.Compose(scaling))


def training_images(data_dir: str):
    """The training set, or the fixed random part of it the run trained on."""
    train = mnist(data_dir, train=True)
    keep = None
    if TRAIN_SUBSET is not None and TRAIN_SUBSET < N_TRAIN:
        keep = torch.randperm(N_TRAIN, generator=torch.Generator().manual_seed(SEED))[:TRAIN_SUBSET]
    if OVERFIT_ONE_BATCH:  # one fixed random batch, learnt by heart
        if keep is not None:
            keep = keep[:BATCH_SIZE]
        elif BATCH_SIZE < N_TRAIN:
            keep = torch.randperm(N_TRAIN, generator=torch.Generator().manual_seed(SEED))[:BATCH_SIZE]
    return train if keep is None else Subset(train, keep.tolist())


# --- Training ----------------------------------------------------------------------------------------------
def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    if OPTIMIZER == "adam":
        return torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    momentum = MOMENTUM if OPTIMIZER == "momentum" else 0.0
    return torch.optim.SGD(model.parameters(), lr=LR, momentum=momentum, weight_decay=WEIGHT_DECAY)


@torch.no_grad()
def test_accuracy(model: nn.Module, test_loader, accelerator: Accelerator) -> float:
    model.eval()
    accuracy = MulticlassAccuracy(num_classes=10, average="micro").to(accelerator.device)
    for x, y in test_loader:
        predicted = model(x).float().argmax(dim=1)
        accuracy.update(*accelerator.gather_for_metrics((predicted, y)))
    model.train()
    return accuracy.compute().item() * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", help="the folder holding MNIST/raw (default: data)")
    args = parser.parse_args()

    accelerator = Accelerator(cpu=CPU, mixed_precision=MIXED_PRECISION)
    model = build_model()
    optimizer = make_optimizer(model)
    train_set = training_images(args.data_dir)
    test_loader = DataLoader(mnist(args.data_dir, train=False), batch_size=1000)
    if OVERFIT_ONE_BATCH:
        model, optimizer, test_loader = accelerator.prepare(model, optimizer, test_loader)
        x = torch.stack([train_set[i][0] for i in range(len(train_set))]).to(accelerator.device)
        y = torch.tensor([train_set[i][1] for i in range(len(train_set))]).to(accelerator.device)
        train_loader = [(x, y)] * OVERFIT_STEPS
    else:
        train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, sampler=ShuffleEachEpoch(len(train_set), SEED))
        model, optimizer, train_loader, test_loader = accelerator.prepare(model, optimizer, train_loader, test_loader)
    schedule = None
    if SCHEDULE == "onecycle":  # warm up to LR over 30 % of the steps, then anneal to almost 0
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer.optimizer, max_lr=LR,
                                                       total_steps=len(train_loader) * EPOCHS)

    steps, epochs = 0, []
    torch.manual_seed(SEED)  # dropout's random choices: the lab seeds them the same way, just before training
    model.train()
    for epoch in range(1, EPOCHS + 1):
        for x, y in train_loader:
            if steps in LR_CHANGES:  # the learning rate the student set by hand at this point of the run
                for group in optimizer.param_groups:
                    group["lr"] = LR_CHANGES[steps]
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            accelerator.backward(loss)
            optimizer.step()
            if schedule is not None:
                schedule.step()
            steps += 1
        accuracy = test_accuracy(model, test_loader, accelerator)
        epochs.append({"epoch": epoch, "test_accuracy": accuracy})
        accelerator.print(f"epoch {epoch}: test accuracy {accuracy:.2f} %")
    accelerator.print(json.dumps({"test_accuracy": epochs[-1]["test_accuracy"], "epochs": epochs}))


if __name__ == "__main__":
    main()
'''


def script_line(described: Setting, value) -> str:
    """One setting as the script's constant: its name in capitals, its value as its kind writes it, a comment."""
    comment = f"  # {described.script}" if described.script else ""
    return f"{described.name.upper()} = {described.kind.script(value)}{comment}"


def _settings_block(config: TrainConfig, lr_changes: Iterable[tuple[int, float]]) -> str:
    changes = {int(step): float(lr) for step, lr in lr_changes}
    lines = [script_line(described, getattr(config, name)) for name, described in SETTINGS.items()]
    lines += [
        f"MOMENTUM = {MOMENTUM!r}",
        f"MNIST_MEAN, MNIST_STD = {MNIST_MEAN!r}, {MNIST_STD!r}",
        'CPU = DEVICE == "cpu"  # False: a GPU when there is one',
        f"LR_CHANGES = {changes!r}  # steps done: new learning rate, set by hand while the run trained",
    ]
    return "\n".join(lines) + "\n"


def reproduce_script(config: TrainConfig, run_id: str = "", lr_changes: Iterable[tuple[int, float]] = ()) -> str:
    """The standalone script of a run with these settings (and learning-rate changes: (steps done, new rate))."""
    architecture = SETTINGS["hidden"].kind.script_words(config.hidden)
    return (TEMPLATE.replace("@RUN@", run_id or "(unsaved)").replace("@ARCHITECTURE@", architecture)
            .replace("@ACTIVATION@", ACTIVATION_CODE[config.activation])
            .replace(_SETTINGS_MARK, _settings_block(config, lr_changes)))
