"""TrainConfig: every hyperparameter of a run in one place, each described once and checked when it is made.

Each field carries its Setting (core.engine.schema): range, words for people, CLI flag, run-history text and
widget. The CLI, links, the run history and the Hyperparameters page derive theirs from SETTINGS.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from core.engine.kinds import Choice, ConfigError, Number, Subset, Switch, Whole
from core.engine.layer_sizes import Hidden
from core.engine.network_size import count_cnn_parameters, count_parameters, flat_features
from core.engine.schema import Cli, Setting, SweepValues, Widget, setting, settings_of
from core.engine.tracking import TRACKERS

OPTIMIZERS = ("sgd", "momentum", "adam")
NORMALIZATIONS = ("plain", "standard")
MIXED_PRECISIONS = ("no", "fp16", "bf16")
SCHEDULES = ("constant", "onecycle")
DEVICES = ("auto", "cpu")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu")
ARCHITECTURES = ("mlp", "cnn")
CNN_ONLY = ("architecture", "cnn")  # what a convolutional setting needs to matter
MAX_CONV_LAYERS = 4  # each halves the picture: 28 → 14 → 7 → 3 → 1
MAX_DROPOUT = 0.8  # above it too few units are left in each step for the network to learn
DROPOUTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.8)  # the page's stops and the sweep's values
MOMENTUM = 0.9  # the usual value; "momentum" is plain SGD with it
MAX_HIDDEN_LAYERS = 16
N_TRAIN = 60_000


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run. The defaults are the lecture's setup."""

    lr: float = setting(
        0.01, kind=Number(1e-6, 100.0), in_link=True, label="Learning rate",
        help="How far each step moves the weights along the gradient. **Too high** and the steps overshoot: "
        "the loss jumps around or shoots up to NaN (try 3 with SGD). **Too low** and every step is tiny: the "
        "loss creeps down and the run ends long before the network has learned (try 0.0001 with SGD). "
        "Adam wants smaller rates (around 0.001) than plain SGD (around 0.01-0.1).",
        cli=Cli("learning rate (default {default})"), history="lr {}",
        sweep=SweepValues((0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0), (0.001, 0.01, 0.1)),
        widget=Widget("select_slider", ladder=(0.00001, 0.0001, 0.0003, 0.001, 0.002, 0.003, 0.01, 0.03, 0.1, 0.3,
                                               1.0, 3.0, 10.0)))
    batch_size: int = setting(
        64, kind=Whole(1, 8192), in_link=True, label="Batch size",
        help="Images averaged into one gradient step. Small batches give noisy steps but many of them "
        "per epoch; large batches give smooth, accurate steps but few of them, and each costs more. With a "
        "larger batch you can usually raise the learning rate.",
        cli=Cli("images per step (default {default})"), history="batch {}",
        sweep=SweepValues((8, 16, 32, 64, 128, 256, 512, 1024), (32, 128, 512)),
        widget=Widget("select_slider", ladder=(1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)))
    epochs: int = setting(
        3, kind=Whole(1, 100), in_link=True, label="Epochs",
        help="Passes over the training set. More epochs keep lowering the training loss; watch the test "
        "loss: when it starts rising while the training loss falls, the network is memorising (overfitting).",
        cli=Cli("passes over the training set (default {default})"), history="{} epoch{s}",
        widget=Widget("slider", high=20))
    architecture: str = setting(
        "mlp", kind=Choice(ARCHITECTURES, {"mlp": "fully connected (MLP)", "cnn": "convolutional (CNN)"}),
        label="Network type", script="mlp: the hidden layers only; cnn: convolutional layers, then the hidden layers",
        sweep=SweepValues(ARCHITECTURES, ARCHITECTURES),
        help="**Fully connected (MLP)** is the lecture's network: every neuron of the first layer looks at all 784 "
        "pixels, so a stroke must be learnt again in every place it can appear. **Convolutional (CNN)** first "
        "slides small filters over the image: each filter learns one pattern (an edge, a curve) and finds it "
        "wherever it is, and 2×2 max-pooling then halves the picture, keeping each patch's strongest response. "
        "The hidden layers read those feature maps. Far fewer weights, more arithmetic, and past 99 % on MNIST.",
        cli=Cli("mlp (the lecture's fully connected network) or cnn (convolutional layers, then the hidden layers) "
                "(default {default})"),
        history="{}", widget=Widget("radio"))
    conv_channels: tuple[int, ...] = setting(
        (8, 16), kind=Hidden(1, 64, MAX_CONV_LAYERS, shortest=1, first=1, last=None, layer="convolutional layer",
                             unit="channels", example="8, 16"),
        label="Convolutional layers (filters)", needs=CNN_ONLY, script="filters of each convolutional layer (cnn)",
        help="With a CNN: how many filters (channels) each convolutional layer has, separated by commas. `8, 16` "
        "is 1 → 8 → 16: 8 filters look at the image, then 16 look at those 8 feature maps. Each layer is followed "
        "by the activation and 2×2 max-pooling, so the picture shrinks 28 → 14 → 7. More filters find more "
        "patterns and cost more time. The MLP has none.",
        cli=Cli("with --architecture cnn: filters of each convolutional layer, {low}-{high} each (default: {default})",
                metavar="FILTERS"),
        history="conv {}", widget=Widget("text_input", placeholder="8, 16"),
        sweep=SweepValues(((4,), (8,), (4, 8), (8, 16), (16, 32), (32, 64), (8, 16, 32)), ((8,), (8, 16), (16, 32))))
    kernel_size: int = setting(
        5, kind=Whole(1, 9, step=2), label="Kernel size", needs=CNN_ONLY,
        script="each filter is KERNEL_SIZE x KERNEL_SIZE pixels (cnn)",
        help="With a CNN: the width and height of each filter in pixels, odd (5 means 5×5). A small kernel sees fine "
        "detail, a larger one whole strokes at once and costs more time; the picture keeps its size (padding), "
        "then pooling halves it. The MLP has none.",
        cli=Cli("with --architecture cnn: each filter's width and height in pixels: 1, 3, 5, 7 or 9 "
                "(default {default})"),
        history="{0}×{0} kernels", widget=Widget("select_slider", ladder=(1, 3, 5, 7, 9)),
        sweep=SweepValues((1, 3, 5, 7, 9), (3, 5, 7)))
    hidden: tuple[int, ...] = setting(
        (128, 64), kind=Hidden(1, 1024, MAX_HIDDEN_LAYERS), in_link=True, label="Hidden layers",
        help="Sizes of the hidden layers, separated by commas: `128, 64` is the lecture's "
        "784 → 128 → 64 → 10. Wider or more layers can learn more, cost more time per step and overfit "
        "sooner. `none` trains a linear classifier (about 92 %). In a CNN they follow the convolutional layers.",
        cli=Cli("hidden layer sizes, {low}-{high} each (default: {default})", metavar="UNITS"),
        history="{}", widget=Widget("text_input", placeholder="128, 64"), script="units of each hidden layer",
        sweep=SweepValues(((32,), (64,), (128,), (128, 64), (256, 128), (512, 256), (512, 256, 128)),
                    ((32,), (128, 64), (512, 256))))
    activation: str = setting(
        "relu", label="Activation function",
        kind=Choice(ACTIVATIONS, {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid", "gelu": "GELU",
                                  "leaky_relu": "leaky ReLU"}, labelled_when_short=True),
        script="build_model puts its module after every layer but the last",
        sweep=SweepValues(ACTIVATIONS, ("relu", "tanh", "sigmoid")),
        help="What each hidden unit does to its weighted sum before passing it on. **ReLU** (the lecture's) "
        "keeps positives and zeroes negatives: cheap, and its gradient is 1 wherever it fires. **Leaky ReLU** "
        "lets a little (1 %) of negatives through, so no unit can die. **GELU** is a smooth ReLU. **tanh** "
        "and **sigmoid** squash into -1..1 and 0..1: their slope is at most 1 and 0.25, so in deep networks "
        "the gradient shrinks layer after layer on its way back (vanishing gradients).",
        cli=Cli("relu, tanh, sigmoid, gelu or leaky_relu, after every hidden layer (default {default})"),
        history="{} activation", widget=Widget("selectbox"))
    dropout: float = setting(
        0.0, kind=Number(0.0, MAX_DROPOUT), label="Dropout",
        script="fraction of hidden units dropped in each training step", sweep=SweepValues(DROPOUTS, (0.0, 0.2, 0.5)),
        help="The fraction of hidden units switched off at random in each training step (each hidden layer, "
        "after its activation); the others are scaled up to make up for them. The network cannot rely on any "
        "one unit, which reduces overfitting; too much and it learns slowly. Testing always uses every unit.",
        cli=Cli("fraction of hidden units dropped at random in each training step, {low:g} to {high:g} "
                "(default {default})"),
        history="dropout {}", widget=Widget("select_slider", ladder=DROPOUTS))
    optimizer: str = setting(
        "sgd", kind=Choice(OPTIMIZERS, {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam"}),
        in_link=True, label="Optimizer", script="sgd, momentum (SGD with momentum MOMENTUM) or adam",
        sweep=SweepValues(OPTIMIZERS, OPTIMIZERS),
        help="**SGD** takes the plain gradient step. **Momentum** keeps a running direction (90 % of "
        "the last one), so it rolls through small bumps and speeds up along consistent slopes. **Adam** also "
        "scales each weight's step by how large its gradients usually are: fast and forgiving, the usual "
        "first choice.",
        cli=Cli(f"sgd, momentum (SGD with momentum {MOMENTUM}) or adam (default {{default}})"), history="{}",
        widget=Widget("radio"))
    weight_decay: float = setting(
        0.0, kind=Number(0.0, 1.0), label="Weight decay",
        help="Pulls every weight a little towards 0 at each step (L2 regularisation). A little "
        "(0.0001) can reduce overfitting; too much keeps the network from learning at all.",
        cli=Cli("L2 penalty (default {default})"), history="weight decay {}",
        widget=Widget("select_slider", ladder=(0.0, 0.00001, 0.0001, 0.001, 0.01, 0.1)))
    schedule: str = setting(
        "constant", kind=Choice(SCHEDULES, {"constant": "constant", "onecycle": "one cycle"}),
        label="Learning-rate schedule", script="constant or onecycle",
        help="**Constant** keeps the learning rate the same at every step, as the lecture does. **One cycle** "
        "starts low, warms up to the learning rate over the first 30 % of the steps, then anneals it to "
        "almost zero: big steps while the network is far from good, small careful ones at the end.",
        cli=Cli("constant or onecycle: warm up to --lr, then anneal to almost 0 (default {default})"),
        history="{} schedule", widget=Widget("radio"))
    seed: int = setting(
        0, kind=Whole(0, 2**31 - 1), in_link=True, label="Random seed",
        help="Fixes the random start: the initial weights and the order of the batches. The same seed and "
        "settings give the same run; another seed shows how much of a result is luck.",
        cli=Cli("random seed: same seed, same run (default {default})"), history="seed {}",
        widget=Widget("number_input"))
    normalize: str = setting(
        "plain", kind=Choice(NORMALIZATIONS, {"plain": "0 to 1 (plain)", "standard": "standardised (mean 0, std 1)"}),
        in_link=True, label="Pixel scaling", script="plain (0..1) or standard (mean 0, std 1)",
        help="**Plain** scales pixels to 0..1 as ToTensor does. **Standardised** shifts and scales them "
        "to mean 0, standard deviation 1 (MNIST's mean 0.1307, std 0.3081): the first layer's inputs are then "
        "centred, its gradients better balanced, and training usually converges faster at the same learning "
        "rate.",
        cli=Cli("pixel scaling: plain 0..1 (default) or standard (mean 0.1307, std 0.3081); "
                "--normalize alone means standard", alone="standard"),
        history="{} pixels", widget=Widget("radio"))
    train_subset: int | None = setting(
        None, kind=Subset(1, N_TRAIN), script=f"None: all {N_TRAIN:,} training images",
        label=f"Training images (0 = all {N_TRAIN:,})",
        help=f"Train on a fixed random part of the {N_TRAIN:,} training images (0 = all of them). A few "
        "thousand images train fast and show overfitting clearly: training loss falls, test loss rises.",
        cli=Cli("train on a fixed random N of the {high:,} images (to see overfitting)", metavar="N"),
        history="{} images", widget=Widget("number_input", step=1000))
    overfit_one_batch: bool = setting(
        False, kind=Switch(), label="Overfit one batch",
        help="A debugging classic: train on one fixed batch only. A correct network and "
        "training loop drive its loss near 0; if it does not, something is wrong in the code, not the data.",
        cli=Cli("train on one fixed batch only; its loss should fall near zero"), history="one batch only",
        widget=Widget("checkbox"))
    overfit_steps: int = setting(
        100, kind=Whole(1, 10_000), label="Steps on that batch per epoch", script="steps per epoch on that one batch",
        help="Steps per epoch on that one batch.",
        cli=Cli("steps per epoch with --overfit-one-batch (default {default})"), history="{} overfit steps",
        needs=("overfit_one_batch", True), widget=Widget("number_input", step=10))
    mixed_precision: str = setting(
        "no", kind=Choice(MIXED_PRECISIONS), label="Mixed precision",
        help="Compute in 16-bit floats where it is safe (fp16 or bf16): faster on GPUs with "
        "tensor cores, usually no gain on a CPU. `no` keeps full 32-bit precision.",
        cli=Cli("no, fp16 or bf16 (default {default}): faster on GPUs, slower on most CPUs", group="hardware"),
        history="{} precision", widget=Widget("selectbox"))
    device: str = setting(
        "auto", kind=Choice(DEVICES), label="Device", script="auto: a GPU when there is one; cpu: the CPU even then",
        help="`auto` trains on a GPU when the server has one, else on the CPU; `cpu` forces the CPU.",
        cli=Cli("train on the CPU even if a GPU is present", flag="--cpu", switch="cpu", group="hardware"),
        history="device {}", widget=Widget("selectbox"))
    log_with: str = setting(
        "none", label="Log to", script="the lab logged the run to this tracker too; this script logs nothing",
        kind=Choice(TRACKERS, {"none": "nothing else", "tensorboard": "TensorBoard", "mlflow": "MLflow",
                               "wandb": "Weights & Biases"}),
        help="Also log the run with an experiment tracker, through Accelerate's own trackers, into the "
        "run's folder: `tensorboard --logdir runs` then shows the lab's runs beside your other work. "
        "MLflow and Weights & Biases work the same way once their package is installed.",
        cli=Cli("also log to a tracker through Accelerate: none (default), tensorboard, mlflow or wandb "
                "(their package must be installed); written into the run's folder", group="files and output"),
        history="logged to {}", widget=Widget("selectbox"))

    def __post_init__(self):
        for name in ("hidden", "conv_channels"):
            value = getattr(self, name)
            object.__setattr__(self, name, tuple(value) if isinstance(value, list) else value)
        for name, described in SETTINGS.items():
            described.check(getattr(self, name))

    def to_dict(self) -> dict:
        """Plain JSON-ready values."""
        return {name: SETTINGS[name].kind.to_json(value) for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build from a dict such as to_dict() made; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(unknown[0], values[unknown[0]], f"not a setting (known: {', '.join(sorted(names))})")
        return cls(**values)  # __post_init__ turns JSON's lists into tuples

    def differences(self, other: TrainConfig | None = None) -> dict:
        """The settings that differ from `other` (the lecture's defaults when omitted)."""
        base = (other or TrainConfig()).to_dict()
        return {k: v for k, v in self.to_dict().items() if base[k] != v}

    def layers_text(self) -> str:
        """The layers as the lecture writes them: 784 → 128 → 64 → 10; a CNN's filters first: 1 → 8 → 16 (5×5) → …"""
        dense = replace(SETTINGS["hidden"].kind, first=self.flat_features).words(self.hidden)
        if self.architecture == "mlp":
            return dense
        filters = SETTINGS["conv_channels"].kind.words(self.conv_channels)
        return f"{filters} filters ({self.kernel_size}×{self.kernel_size}) → {dense}"

    @property
    def flat_features(self) -> int:
        """The numbers the first fully connected layer reads: 784 pixels, or a CNN's last feature maps."""
        return 784 if self.architecture == "mlp" else flat_features(self.conv_channels)

    def parameter_count(self) -> int:
        """Weights and biases the network learns: 109,386 for the lecture's."""
        if self.architecture == "mlp":
            return count_parameters(self.hidden)
        return count_cnn_parameters(self.conv_channels, self.kernel_size, self.hidden)


SETTINGS: dict[str, Setting] = settings_of(TrainConfig)


def unused_because(name: str, config: TrainConfig) -> str | None:
    """Why setting `name` changes nothing in `config`, in words ("Kernel size changes nothing unless network type is
    convolutional (CNN)"); None when it matters."""
    described = SETTINGS[name]
    if described.used_by(config):
        return None
    other, value = described.needs
    return (f"{described.label} changes nothing unless {SETTINGS[other].label.lower()} is "
            f"{SETTINGS[other].kind.words(value)}")
