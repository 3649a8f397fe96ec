import pytest
import torch

from core.engine.model import LECTURE_HIDDEN, build_mlp, describe_layers
from core.engine.network_size import count_parameters, parameter_counts


def test_lecture_network_shape_and_parameter_count():
    model = build_mlp()
    assert count_parameters(LECTURE_HIDDEN) == 109_386 == sum(p.numel() for p in model.parameters())
    assert parameter_counts((784, 128, 64, 10)) == [100_480, 8_256, 650]
    rows = [(r.kind, r.output_shape, r.parameters) for r in describe_layers(model)]
    assert rows == [
        ("Flatten", (784,), 0),
        ("Linear", (128,), 100_480),
        ("ReLU", (128,), 0),
        ("Linear", (64,), 8_256),
        ("ReLU", (64,), 0),
        ("Linear", (10,), 650),
    ]
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_any_number_of_hidden_layers():
    assert count_parameters(()) == 784 * 10 + 10
    deep = build_mlp((1, 1024, 3))
    assert [r.output_shape for r in describe_layers(deep) if r.kind == "Linear"] == [(1,), (1024,), (3,), (10,)]


def test_seeded_init_is_private_and_repeatable():
    torch.manual_seed(1)
    a = build_mlp(seed=7)
    torch.manual_seed(2)  # the global generator must not matter
    b = build_mlp(seed=7)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    c = build_mlp(seed=8)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


@pytest.mark.parametrize("hidden", [(), (32,), (128, 64), (256, 128), (1024, 512, 10)])
def test_count_parameters_matches_the_real_network(hidden):
    assert count_parameters(hidden) == sum(p.numel() for p in build_mlp(hidden).parameters())
