"""A run as one standalone Python file and as a notebook, built from the same parts: torchvision MNIST, a DataLoader,
the model, an Accelerate loop, torchmetrics.

Neither imports anything from the lab. They rebuild what the lab's Trainer does, step for step: the same initial
weights (core.engine.model.init_weights: one generator seeded with the run's seed, Conv2d and Linear layers in
order, weight then bias), the same training subset (core.engine.data.subset_indices), the same batch order (one
randperm per epoch from a generator seeded with the seed, as core.engine.data.IndexBatches), the same pixel scaling
and the learning rates changed by hand while the run trained. On the same machine they reach the run's accuracy.

Each part is a line of text in the lecture's words and its code: the script writes the line as a comment above the
code, the notebook as a text cell above a code cell. A part may belong to one of them only: the script reads its
data folder from the command line, the notebook names it in a cell and also plots the loss.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.engine.config import MOMENTUM, SETTINGS, TrainConfig
from core.engine.data import MNIST_MEAN, MNIST_STD
from core.engine.model import ACTIVATION_MODULES
from core.engine.schema import Setting

# How the code writes each activation: the lab's own module, by name (nn.Tanh(), nn.LeakyReLU(), …).
ACTIVATION_CODE = {name: f"nn.{module.__name__}()" for name, module in ACTIVATION_MODULES.items()}
SCRIPT, NOTEBOOK = "script", "notebook"
SECTION_WIDTH = 112  # the script's "# --- title ----" lines


@dataclass(frozen=True)
class Part:
    """One step of the run's code: a title (the script's section line), a line of text for students, the code."""

    title: str
    text: str
    code: str
    only: str = ""  # SCRIPT or NOTEBOOK when the other one leaves it out


SCRIPT_DOC = '''"""MNIST Lab run @RUN@ as a standalone script, written like the lecture's code.

Trains the network @LAYERS@,
with the run's settings and seed: the same initial weights, the same batch order and the same pixel scaling as
the lab, so on the same machine it reaches the run's test accuracy. Needs torch, torchvision, accelerate and
torchmetrics; MNIST is read from (or downloaded into) DIR/MNIST/raw. reproduce.ipynb is the same code as a
notebook.

    python reproduce.py --data-dir DIR

Prints each epoch's test accuracy, then one line of JSON with "test_accuracy".
"""'''

NOTEBOOK_TITLE = """# MNIST Lab run @RUN@

This notebook trains **@LAYERS@** again, with the run's settings and seed: the same initial weights, the same
batches in the same order and the same pixel scaling as the lab, so on the same machine it reaches the run's
test accuracy. Run every cell from the top (*Run All*). It needs the lab's requirements and the MNIST files,
nothing of the lab itself."""

IMPORTS = """import json
import math

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, Sampler, Subset
from torchmetrics.classification import MulticlassAccuracy
from torchvision import datasets, transforms"""

COMMAND_LINE = """parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data-dir", default="data", help="the folder holding MNIST/raw (default: data)")
DATA_DIR = parser.parse_args().data_dir"""

DATA_FOLDER = """DATA_DIR = "data"  # the folder holding MNIST/raw: change it if yours is elsewhere"""

DATA = '''class ShuffleEachEpoch(Sampler):
    """A new random order of the training images each epoch: one torch.randperm from a generator seeded once."""

    def __init__(self, n: int, seed: int):
        self.n, self.generator = n, torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=self.generator).tolist())


def mnist(train: bool) -> datasets.MNIST:
    scaling = [transforms.ToTensor()]  # pixels 0..1
    if NORMALIZE == "standard":
        scaling.append(transforms.Normalize((MNIST_MEAN,), (MNIST_STD,)))  # mean 0, std 1
    return datasets.MNIST(DATA_DIR, train=train, download=True, transform=transforms.Compose(scaling))


def training_images():
    """The training set, or the fixed random part of it the run trained on."""
    train = mnist(train=True)
    keep = None
    if TRAIN_SUBSET is not None and TRAIN_SUBSET < N_TRAIN:
        keep = torch.randperm(N_TRAIN, generator=torch.Generator().manual_seed(SEED))[:TRAIN_SUBSET]
    if OVERFIT_ONE_BATCH:  # one fixed random batch, learnt by heart
        if keep is not None:
            keep = keep[:BATCH_SIZE]
        elif BATCH_SIZE < N_TRAIN:
            keep = torch.randperm(N_TRAIN, generator=torch.Generator().manual_seed(SEED))[:BATCH_SIZE]
    return train if keep is None else Subset(train, keep.tolist())


train_set = training_images()
test_set = mnist(train=False)'''

# The fully connected layers, after the 784 pixels (MLP) or the flattened feature maps (CNN); @ACTIVATION@ is
# the run's activation.
DENSE = """    for units in HIDDEN:
        layers += [nn.Linear(width, units), @ACTIVATION@]
        if DROPOUT > 0:
            layers.append(nn.Dropout(DROPOUT))  # switches off a random DROPOUT of the units in each training step
        width = units
    layers.append(nn.Linear(width, 10))
    model = nn.Sequential(*layers)"""

INIT = """    # PyTorch's default initialisation (uniform in +-1/sqrt(fan_in)), drawn from one generator seeded with
    # SEED, layer by layer, weight then bias: the lab's initial weights exactly.
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, @LEARNS@):
                bound = 1 / math.sqrt(@FAN_IN@)
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
    return model


model = build_model()"""

MLP = f"""def build_model() -> nn.Sequential:
    layers, width = [nn.Flatten()], 784
{DENSE}
{INIT.replace("@LEARNS@", "nn.Linear").replace("@FAN_IN@", "layer.in_features")}"""

CNN = f"""def build_model() -> nn.Sequential:
    layers, depth, side = [], 1, 28  # the image: 1 channel of 28 x 28 pixels
    for filters in CONV_CHANNELS:
        # `filters` filters of KERNEL_SIZE x KERNEL_SIZE slide over the picture (the padding keeps its size), then
        # 2 x 2 max-pooling keeps each patch's strongest response: the side halves
        layers += [nn.Conv2d(depth, filters, KERNEL_SIZE, padding="same"), @ACTIVATION@, nn.MaxPool2d(2)]
        depth, side = filters, side // 2
    layers.append(nn.Flatten())
    width = depth * side * side  # the last feature maps, one after the other
{DENSE}
{INIT.replace("@LEARNS@", "nn.Conv2d | nn.Linear").replace("@FAN_IN@", "layer.weight[0].numel()")}"""

EVALUATION = '''@torch.no_grad()
def test_accuracy(model: nn.Module, test_loader, accelerator: Accelerator) -> float:
    model.eval()
    accuracy = MulticlassAccuracy(num_classes=10, average="micro").to(accelerator.device)
    for x, y in test_loader:
        predicted = model(x).float().argmax(dim=1)
        accuracy.update(*accelerator.gather_for_metrics((predicted, y)))
    model.train()
    return accuracy.compute().item() * 100'''

TRAINING = """def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    if OPTIMIZER == "adam":
        return torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    momentum = MOMENTUM if OPTIMIZER == "momentum" else 0.0
    return torch.optim.SGD(model.parameters(), lr=LR, momentum=momentum, weight_decay=WEIGHT_DECAY)


accelerator = Accelerator(cpu=CPU, mixed_precision=MIXED_PRECISION)
optimizer = make_optimizer(model)
test_loader = DataLoader(test_set, batch_size=1000)
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

steps, losses, epochs = 0, [], []
torch.manual_seed(SEED)  # dropout's random choices: the lab seeds them the same way, just before training
model.train()
for epoch in range(1, EPOCHS + 1):
    for x, y in train_loader:
        if steps in LR_CHANGES:  # the learning rate the student set by hand at this point of the run
            for group in optimizer.param_groups:
                group["lr"] = LR_CHANGES[steps]
        loss = F.cross_entropy(model(x), y)  # guess, and check: how wrong was the guess?
        optimizer.zero_grad()
        accelerator.backward(loss)  # which way each weight should move
        optimizer.step()  # adjust: one small step that way
        if schedule is not None:
            schedule.step()
        steps += 1
        losses.append(loss.item())
    accuracy = test_accuracy(model, test_loader, accelerator)
    epochs.append({"epoch": epoch, "test_accuracy": accuracy})
    accelerator.print(f"epoch {epoch}: test accuracy {accuracy:.2f} %")"""

LOSS_PLOT = """import altair as alt
import pandas as pd

# At most about 1,000 points: each one the mean loss of `every` steps in a row.
every = max(1, math.ceil(len(losses) / 1000))
curve = pd.DataFrame({"step": range(1, len(losses) + 1), "loss": losses}).groupby(lambda i: i // every).mean()
alt.Chart(curve, title="Training loss").mark_line().encode(
    x=alt.X("step", title="step"), y=alt.Y("loss", title="loss (cross-entropy)"))"""

SUMMARY = """accelerator.print(json.dumps({"test_accuracy": epochs[-1]["test_accuracy"], "epochs": epochs}))"""


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
        "N_TRAIN = 60_000",
    ]
    return "\n".join(lines)


def _layers(config: TrainConfig) -> str:
    """The network in plain ASCII: "784 -> 128 -> 64 -> 10", "1 -> 8 -> 16 filters (5x5) -> 784 -> … -> 10"."""
    return config.layers_text().replace("→", "->").replace("×", "x")


def parts(config: TrainConfig, lr_changes: Iterable[tuple[int, float]] = ()) -> list[Part]:
    """The run's code, step by step, for the script and the notebook."""
    cnn = config.architecture == "cnn"
    network = (CNN if cnn else MLP).replace("@ACTIVATION@", ACTIVATION_CODE[config.activation])
    activation = SETTINGS["activation"].kind.words(config.activation)
    network_text = (
        f"**The network**, {config.layers_text()}: small filters slide over the image and respond to a stroke "
        f"wherever it is, each followed by {activation} and 2×2 max-pooling, which halves the picture; then fully "
        "connected layers turn the feature maps into one score per digit." if cnn else
        f"**The network**, {config.layers_text()}: each layer multiplies its inputs by weights, adds a bias and "
        f"passes the sum through {activation}; the last layer gives one score (logit) per digit.")
    return [
        Part("The tools", "**The tools**: PyTorch builds and trains the network, torchvision reads MNIST, Accelerate "
             "runs the loop on a CPU or a GPU, and torchmetrics counts the right answers.", IMPORTS),
        Part("The run's settings", "**The run's settings**, as the lab trained it: the same seed gives the same "
             "initial weights and the same order of batches.", _settings_block(config, lr_changes)),
        Part("Where MNIST is", "**Where MNIST is**: the command line's --data-dir.", COMMAND_LINE, only=SCRIPT),
        Part("Where MNIST is", "**Where MNIST is**: the folder that holds `MNIST/raw` (it is downloaded there if it "
             "is missing).", DATA_FOLDER, only=NOTEBOOK),
        Part("The data", "**The data**: 60,000 handwritten digits to learn from and 10,000 test digits the network "
             "never trains on, each 28×28 pixels, scaled as in the lab.", DATA),
        Part(f"The network: {_layers(config)}", network_text, network),
        Part("Evaluation", "**Evaluation**: the test accuracy is the share of the 10,000 test digits whose highest "
             "score is the right one.", EVALUATION),
        Part("Training", "**Training**: for every batch, guess (the forward pass), check (the loss, cross-entropy), "
             "adjust (the backward pass and one optimizer step), repeat; after each epoch, test.", TRAINING),
        Part("The loss", "**The loss, step by step**: it falls fast at first, then levels off as the network "
             "learns.", LOSS_PLOT, only=NOTEBOOK),
        Part("The summary", "**The summary**: the same line of JSON the script prints last, with every epoch's "
             "test accuracy.", SUMMARY),
    ]


def reproduce_script(config: TrainConfig, run_id: str = "", lr_changes: Iterable[tuple[int, float]] = ()) -> str:
    """The standalone script of a run with these settings (and learning-rate changes: (steps done, new rate))."""
    header = SCRIPT_DOC.replace("@RUN@", run_id or "(unsaved)").replace("@LAYERS@", _layers(config))
    sections = [f"{header}\n\nimport argparse"]
    for part in parts(config, lr_changes):
        if part.only == NOTEBOOK:
            continue
        if part.title == "The tools":
            sections[0] += "\n" + part.code
            continue
        sections.append(f"# --- {part.title} ".ljust(SECTION_WIDTH, "-") + "\n" + part.code)
    return "\n\n\n".join(sections) + "\n"


def reproduce_notebook(config: TrainConfig, run_id: str = "", lr_changes: Iterable[tuple[int, float]] = ()) -> str:
    """The same run as a Jupyter notebook (JSON text): a line of text above each step's code cell."""
    import nbformat  # here: only building a notebook needs it

    title = NOTEBOOK_TITLE.replace("@RUN@", run_id or "(unsaved)").replace("@LAYERS@", config.layers_text())
    cells = [nbformat.v4.new_markdown_cell(title, id="title")]
    for i, part in enumerate(p for p in parts(config, lr_changes) if p.only != SCRIPT):
        # Ids of our own: the same run gives the same file (nbformat would draw random ones).
        cells += [nbformat.v4.new_markdown_cell(part.text, id=f"text-{i}"),
                  nbformat.v4.new_code_cell(part.code, id=f"code-{i}")]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.validate(notebook)
    return nbformat.writes(notebook)

