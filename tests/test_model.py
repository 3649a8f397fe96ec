import pytest
import torch

from core.engine.config import TrainConfig
from core.engine.model import LECTURE_HIDDEN, build_cnn, build_mlp, build_model, describe_layers
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


def test_the_cnn_is_filters_then_pooling_then_the_hidden_layers():
    model = build_cnn((8, 16), 5, (128, 64), seed=0)
    rows = [(r.kind, r.output_shape) for r in describe_layers(model)]
    assert rows[:8] == [("Unflatten", (1, 28, 28)), ("Conv2d", (8, 28, 28)), ("ReLU", (8, 28, 28)),
                        ("MaxPool2d", (8, 14, 14)), ("Conv2d", (16, 14, 14)), ("ReLU", (16, 14, 14)),
                        ("MaxPool2d", (16, 7, 7)), ("Flatten", (784,))]
    assert [r.output_shape for r in describe_layers(model) if r.kind == "Linear"] == [(128,), (64,), (10,)]
    assert model(torch.zeros(5, 784)).shape == (5, 10)


@pytest.mark.parametrize(("channels", "kernel", "hidden"), [((8, 16), 5, (128, 64)), ((4,), 1, ()),
                                                            ((16, 32, 8, 2), 9, (10,)), ((3, 5, 7), 3, (20,))])
def test_the_cnns_sizes_without_torch_match_the_real_network(channels, kernel, hidden):
    config = TrainConfig(architecture="cnn", conv_channels=channels, kernel_size=kernel, hidden=hidden)
    model = build_model(config)
    assert config.parameter_count() == sum(p.numel() for p in model.parameters())
    (flat,) = [r.output_shape for r in describe_layers(model) if r.kind == "Flatten"]
    assert flat == (config.flat_features,)


def test_the_default_architecture_is_the_lectures_network_and_the_cnns_init_is_seeded():
    lecture = build_model(TrainConfig(), seed=3)
    for pa, pb in zip(lecture.parameters(), build_mlp(LECTURE_HIDDEN, seed=3).parameters(), strict=True):
        assert torch.equal(pa, pb)
    torch.manual_seed(1)
    a = build_cnn(seed=7)
    torch.manual_seed(2)  # the global generator must not matter
    for pa, pb in zip(a.parameters(), build_cnn(seed=7).parameters(), strict=True):
        assert torch.equal(pa, pb)
    bound = 1 / (1 * 5 * 5) ** 0.5  # PyTorch's default for a conv layer: ±1/sqrt(in_channels × kernel²)
    assert a[1].weight.abs().max() <= bound and a[1].weight.abs().max() > 0.9 * bound
