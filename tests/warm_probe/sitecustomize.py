"""A probe for tests/test_warm_pool.py, put on PYTHONPATH by it: every Python process started with
$MNIST_LAB_PROBE_LOG set notes its start, and every MNIST load it makes, in that file (forked processes start no
new Python, so they note only what they load)."""

import os

_LOG = os.environ.get("MNIST_LAB_PROBE_LOG")


def _note(what: str) -> None:
    with open(_LOG, "a") as log:
        log.write(f"{what} {os.getpid()}\n")


if _LOG:
    _note("python")
    from core.engine import data as _data

    _load_mnist = _data.load_mnist

    def _counted_load_mnist(root=None):
        _note("load_mnist")
        return _load_mnist(root)

    _data.load_mnist = _counted_load_mnist
