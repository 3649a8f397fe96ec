"""Inside a trained network: every layer's activations for one digit, and the first layer's weights as pictures;
for a CNN, the first convolutional layer's filters and a digit's feature maps, layer by layer.

Plain numpy + torch, no Streamlit. Works for any network core.engine.model builds: build_mlp's (Flatten, then
Linear+activation blocks) and build_cnn's (Conv2d+activation+pooling blocks in front of those).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.engine.config import SETTINGS
from core.engine.data import to_inputs
from core.engine.model import ACTIVATION_MODULES

SIDE = 28
ACTIVATIONS = tuple(ACTIVATION_MODULES.values())
ACTIVATION_NAMES = {module: SETTINGS["activation"].choice_labels[name] for name, module in ACTIVATION_MODULES.items()}
# Diverging colours (ColorBrewer RdBu ends): blue for negative weights, white for zero, red for positive.
NEGATIVE = np.array([33, 102, 172], dtype=np.float32)
ZERO = np.array([255, 255, 255], dtype=np.float32)
POSITIVE = np.array([178, 24, 43], dtype=np.float32)


@dataclass(frozen=True)
class LayerValues:
    """One layer's values for one input image."""

    name: str  # e.g. "Hidden layer 1"
    description: str  # what the numbers are, for the page
    values: np.ndarray  # float32 [units]


@dataclass(frozen=True)
class FeatureMaps:
    """One convolutional layer's pictures for one input image: what each of its filters found, and where."""

    name: str  # e.g. "Convolutional layer 1"
    description: str  # what the pictures are, for the page
    maps: np.ndarray  # float32 [filters, side, side]


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The network's Linear layers, input side first."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


@torch.no_grad()
def activations(model: nn.Module, image: np.ndarray | torch.Tensor, normalize: str = "plain") -> list[LayerValues]:
    """The input, each hidden layer after its activation, the output logits and probabilities for one 28x28 digit.

    For the lecture's network that is 784 → 128 → 64 → 10 (→ 10 probabilities); a CNN's hidden layers are the
    fully connected ones after its convolutional layers.
    """
    image = torch.as_tensor(np.asarray(image))
    if tuple(image.shape) != (SIDE, SIDE):
        raise ValueError(f"image must be {SIDE}x{SIDE}, got shape {tuple(image.shape)}")
    x = to_inputs(image.to(torch.uint8).unsqueeze(0), normalize)
    layers = [LayerValues("Input", f"{x.shape[1]} pixel values, as the network reads them", x[0].numpy().copy())]
    hidden = 0
    for module in model.children():
        x = module(x)
        if isinstance(module, ACTIVATIONS) and x.dim() == 2:  # a CNN's conv layers are feature_maps' business
            hidden += 1
            description = f"{x.shape[1]} neurons after {ACTIVATION_NAMES[type(module)]}"
            layers.append(LayerValues(f"Hidden layer {hidden}", description, x[0].numpy().copy()))
    logits = x[0]
    layers.append(LayerValues("Output", "10 scores (logits), one per digit", logits.numpy().copy()))
    layers.append(LayerValues("Probabilities", "softmax of the scores", logits.softmax(dim=0).numpy().copy()))
    return layers


@torch.no_grad()
def feature_maps(model: nn.Module, image: np.ndarray | torch.Tensor, normalize: str = "plain") -> list[FeatureMaps]:
    """Each convolutional layer's feature maps for one 28x28 digit, after its activation (before the pooling that
    halves them): [] for a network without convolutional layers."""
    image = torch.as_tensor(np.asarray(image))
    if tuple(image.shape) != (SIDE, SIDE):
        raise ValueError(f"image must be {SIDE}x{SIDE}, got shape {tuple(image.shape)}")
    x = to_inputs(image.to(torch.uint8).unsqueeze(0), normalize)
    found: list[FeatureMaps] = []
    for module in model.children():
        x = module(x)
        if isinstance(module, ACTIVATIONS) and x.dim() == 4:
            filters, side = x.shape[1], x.shape[2]
            found.append(FeatureMaps(
                f"Convolutional layer {len(found) + 1}",
                f"{filters} feature maps of {side}×{side}, after {ACTIVATION_NAMES[type(module)]}",
                x[0].numpy().astype(np.float32, copy=True)))
    return found


def first_conv_filters(model: nn.Module) -> np.ndarray:
    """float32 [filters, k, k]: what each filter of the first convolutional layer multiplies a patch of pixels by."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs or convs[0].in_channels != 1:
        raise ValueError("the network has no convolutional layer that reads the image")
    return convs[0].weight.detach().cpu().numpy()[:, 0].astype(np.float32)


def feature_picture(maps: np.ndarray, cols: int, scale: int = 2) -> np.ndarray:
    """Feature maps [filters, side, side] in one grayscale grid, nearest-neighbour enlarged `scale` times: white
    for 0 (nothing found there), black for the layer's strongest response; a 1-pixel grey gap between maps."""
    maps = np.asarray(maps, dtype=np.float32)
    top = float(maps.max()) if maps.size else 0.0
    strength = np.clip(maps / top, 0.0, 1.0) if top > 0 else np.zeros_like(maps)
    pixels = np.rint(255 * (1 - strength)).astype(np.uint8)
    pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
    return image_grid(pixels, cols=cols, gap=scale, fill=160)


def first_layer_weights(model: nn.Module) -> np.ndarray:
    """float32 [units, 28, 28]: what each first-layer neuron multiplies every pixel by."""
    layers = linear_layers(model)
    if any(isinstance(m, nn.Conv2d) for m in model.modules()) or not layers or layers[0].in_features != SIDE * SIDE:
        raise ValueError("the network has no first layer that reads 28x28 pixels")
    return layers[0].weight.detach().cpu().numpy().reshape(-1, SIDE, SIDE).astype(np.float32)


def symmetric_limit(values: np.ndarray, percentile: float = 99.5) -> float:
    """A colour-scale limit ±L that a few extreme values cannot squash: the percentile of |values|."""
    values = np.abs(np.asarray(values, dtype=np.float64))
    limit = float(np.percentile(values, percentile)) if values.size else 0.0
    return limit if limit > 0 else 1.0


def diverging_rgb(values: np.ndarray, limit: float | np.ndarray) -> np.ndarray:
    """uint8 RGB [..., 3]: blue for -limit, white for 0, red for +limit (clipped beyond).

    `limit` may be one number or one per leading item (e.g. [units, 1, 1] to scale each neuron alone).
    """
    limit = np.asarray(limit, dtype=np.float32)
    if np.any(limit <= 0):
        raise ValueError("limit must be positive")
    t = np.clip(np.asarray(values, dtype=np.float32) / limit, -1.0, 1.0)[..., None]
    rgb = np.where(t < 0, ZERO + (ZERO - NEGATIVE) * t, ZERO + (POSITIVE - ZERO) * t)
    return np.rint(rgb).astype(np.uint8)


def image_grid(images: np.ndarray, cols: int, gap: int = 1, fill: int = 255) -> np.ndarray:
    """Images [n, h, w] or [n, h, w, c] laid out in a grid `cols` wide, `gap` pixels of `fill` between them."""
    from torchvision.utils import make_grid  # here: torchvision is slow to import, and few pages draw grids

    images = np.asarray(images)
    if images.ndim not in (3, 4) or cols < 1 or gap < 0:
        raise ValueError(f"need images [n, h, w(, c)] and cols >= 1, got shape {images.shape} and cols={cols}")
    if not len(images):
        return np.full(images.shape[1:], fill, dtype=images.dtype)  # one empty place
    channels = images.shape[3] if images.ndim == 4 else 1
    batch = torch.from_numpy(images.reshape(*images.shape[:3], channels)).permute(0, 3, 1, 2)
    grid = make_grid(batch, nrow=cols, padding=gap, pad_value=fill)
    if len(images) > 1:  # make_grid also frames the grid with the gap: the gaps belong only between images
        grid = grid[:, gap : grid.shape[1] - gap, gap : grid.shape[2] - gap]
    grid = grid[:channels].permute(1, 2, 0).numpy()  # make_grid turns one channel into three
    return grid if images.ndim == 4 else grid[..., 0]


def weight_picture(
    weights: np.ndarray, cols: int = 16, scale: int = 3, per_neuron: bool = False, limit: float | None = None
) -> np.ndarray:
    """All first-layer weight images in one crisp RGB grid (nearest-neighbour enlarged `scale` times).

    By default one colour scale for all neurons, so they can be compared: ±`limit`, or symmetric_limit of
    these weights. per_neuron scales each neuron by its own largest |w| instead.
    """
    weights = np.asarray(weights, dtype=np.float32)
    if per_neuron:
        scales = np.abs(weights).reshape(len(weights), -1).max(axis=1).reshape(-1, 1, 1)
        rgb = diverging_rgb(weights, np.where(scales > 0, scales, 1.0))
    else:
        rgb = diverging_rgb(weights, limit if limit is not None else symmetric_limit(weights))
    rgb = rgb.repeat(scale, axis=1).repeat(scale, axis=2)
    return image_grid(rgb, cols=cols, gap=2, fill=255)


def grid_shape(n: int) -> tuple[int, int]:
    """A (rows, cols) about twice as wide as tall with rows * cols >= n: 128 → (8, 16), 64 → (4, 16)."""
    if n < 1:
        raise ValueError(f"n must be 1 or more, got {n}")
    rows = int(np.floor(np.sqrt(n / 2))) or 1
    while rows > 1 and n % rows:
        rows -= 1  # prefer an exact fit (no empty cells) when one exists near the square
    cols = -(-n // rows)
    return rows, cols


def as_grid(values: np.ndarray, cols: int) -> np.ndarray:
    """A 1-D vector as a [rows, cols] float grid, row by row, padded with NaN (drawn empty)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if cols < 1:
        raise ValueError(f"cols must be 1 or more, got {cols}")
    rows = max(1, -(-values.size // cols))
    out = np.full(rows * cols, np.nan)
    out[: values.size] = values
    return out.reshape(rows, cols)
