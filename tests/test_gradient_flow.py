"""Gradient flow: the numbers of core.engine.gradient_flow checked by hand, and in real training on MNIST."""

import copy
import math
import pickle

import pytest
import torch
import torch.nn.functional as F

from core.engine.config import TrainConfig
from core.engine.events import EpochEvent, LayerStatsEvent
from core.engine.gradient_flow import GradientFlow, layer_names
from core.engine.model import build_cnn, build_mlp
from core.engine.trainer import Trainer


def sgd_steps(model, flow, steps, lr=0.1, seed=0):
    """Plain SGD steps on random inputs, with the flow's calls where the Trainer makes them."""
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    measured = []
    for step in range(1, steps + 1):
        x, y = torch.rand(32, 784, generator=g), torch.randint(0, 10, (32,), generator=g)
        flow.before_forward(step)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        flow.before_update(step)
        grads = [layer.weight.grad.clone() for layer in flow.linears]
        weights = [layer.weight.detach().clone() for layer in flow.linears]
        optimizer.step()
        layers = flow.after_update(step)
        if layers is not None:
            measured.append((step, layers, grads, weights))
    return measured


def test_layer_names_follow_the_lecture():
    assert layer_names(3) == ["hidden 1", "hidden 2", "output"]
    assert layer_names(1) == ["output"]


def test_grad_norm_and_update_ratio_are_what_sgd_did():
    model = build_mlp((32, 16), seed=0)
    flow = GradientFlow(model, steps_per_epoch=100, every=5, window=2)
    measured = sgd_steps(model, flow, 10, lr=0.1)
    assert [step for step, *_ in measured] == [2, 5, 10]  # once early, then every 5 steps
    for _, layers, grads, weights in measured:
        assert [layer["name"] for layer in layers] == ["hidden 1", "hidden 2", "output"]
        for layer, grad, weight in zip(layers, grads, weights, strict=True):
            assert layer["grad_norm"] == pytest.approx(grad.norm().item(), rel=1e-5)
            # Plain SGD moves the weights by lr * gradient.
            assert layer["update_ratio"] == pytest.approx(0.1 * grad.norm().item() / weight.norm().item(), rel=1e-4)
        assert layers[-1]["dead_fraction"] is None


def test_dead_units_are_the_ones_that_never_fire_and_hooks_come_off():
    model = build_mlp((20, 10), seed=0)
    with torch.no_grad():
        model[1].bias[:5] = -1000.0  # 5 of the 20 first hidden units can never fire
    flow = GradientFlow(model, steps_per_epoch=100, every=4, window=2)
    measured = sgd_steps(model, flow, 4, lr=0.0)
    assert [step for step, *_ in measured] == [2, 4]
    for _, layers, _, _ in measured:
        assert layers[0]["dead_fraction"] == pytest.approx(5 / 20)
    assert all(not relu._forward_hooks for relu in flow.relus)  # watched only inside the window
    means = flow.epoch_means()
    assert means[0]["dead_fraction"] == pytest.approx(0.25) and means[-1]["dead_fraction"] is None
    assert flow.epoch_means()[0]["grad_norm"] is None  # a new epoch starts from nothing


@pytest.mark.parametrize(("activation", "counted"), [("relu", True), ("leaky_relu", False), ("tanh", False),
                                                    ("sigmoid", False), ("gelu", False)])
def test_dead_units_are_counted_only_after_relu(activation, counted):
    model = build_mlp((20, 10), seed=0, activation=activation, dropout=0.5)
    with torch.no_grad():
        model[1].bias[:5] = -1000.0  # 5 of the 20 first hidden units get only huge negative sums
    flow = GradientFlow(model, steps_per_epoch=100, every=4, window=2)
    (_, layers, _, _), *_ = sgd_steps(model, flow, 2, lr=0.0)
    dead = [layer["dead_fraction"] for layer in layers]
    assert dead[-1] is None  # the output layer has no activation
    if counted:  # dropout after the ReLU changes nothing: the ReLU's own output is watched
        assert dead[0] == pytest.approx(5 / 20) and dead[1] is not None
    else:
        assert dead[:2] == [None, None] and flow.relus == [None, None]
    assert all(math.isfinite(layer["grad_norm"]) for layer in layers)


def test_the_dead_units_chart_shows_a_dash_when_no_layer_has_relu():
    from core.views.gradient_flow_charts import NO_DEAD_UNITS, layer_figure

    tanh = [(5, [{"name": "hidden 1", "dead_fraction": None}, {"name": "output", "dead_fraction": None}])]
    figure = layer_figure(tanh, "dead_fraction")
    assert not figure.data and figure.layout.annotations[0].text == NO_DEAD_UNITS
    relu = [(5, [{"name": "hidden 1", "dead_fraction": 0.25}, {"name": "output", "dead_fraction": None}])]
    figure = layer_figure(relu, "dead_fraction")
    assert list(figure.data[0].y) == [25.0] and not figure.layout.annotations


def test_a_short_epoch_is_still_measured():
    flow = GradientFlow(build_mlp((8,), seed=0), steps_per_epoch=3)
    assert flow.every == 3 and flow.window == 3


@pytest.fixture(scope="module")
def flows(mnist):
    """Layer measurements of two 200-step SGD runs on real MNIST: lr 0.01 (the lecture's) and lr 3."""
    runs = {}
    for lr in (0.01, 3.0):
        events = []
        Trainer(TrainConfig(lr=lr, epochs=1, train_subset=12_800, device="cpu"), mnist, callbacks=[events.append]).fit()
        runs[lr] = events
    return runs


def test_sgd_with_learning_rate_3_kills_its_relus(flows):
    def dead(lr, layer):
        return [e.layers[layer]["dead_fraction"] for e in flows[lr] if isinstance(e, LayerStatsEvent)]

    for layer in (0, 1):
        fast, slow = dead(3.0, layer), dead(0.01, layer)
        assert len(fast) == 5  # at step 5, then every 50 steps
        assert fast[0] < 0.1 and fast[-1] > 0.5  # rising from almost none to most of them
        assert max(slow) < 0.1  # the lecture's rate keeps nearly all of them alive


def test_epochs_carry_the_means_of_their_measurements(flows):
    events = flows[0.01]
    measured = [e for e in events if isinstance(e, LayerStatsEvent)]
    (epoch,) = [e for e in events if isinstance(e, EpochEvent)]
    assert [layer["name"] for layer in epoch.layers] == ["hidden 1", "hidden 2", "output"]
    for i, layer in enumerate(epoch.layers):
        values = [m.layers[i]["grad_norm"] for m in measured]
        assert layer["grad_norm"] == pytest.approx(sum(values) / len(values))
        assert 0 < layer["update_ratio"] < 0.1 and math.isfinite(layer["grad_norm"])
    assert epoch.layers[-1]["dead_fraction"] is None and epoch.lr == 0.01
    # Plain data: the events cross process boundaries pickled.
    assert pickle.loads(pickle.dumps(measured[0])) == measured[0]
    assert pickle.loads(pickle.dumps(epoch)).to_dict() == epoch.to_dict()


def test_a_cnns_layers_are_named_conv_first():
    assert layer_names(3, 2) == ["conv 1", "conv 2", "hidden 1", "hidden 2", "output"]
    flow = GradientFlow(build_cnn((4, 6), 3, (8,), seed=0), steps_per_epoch=10)
    assert flow.names == ["conv 1", "conv 2", "hidden 1", "output"]
    assert [type(relu) for relu in flow.relus] == [torch.nn.ReLU] * 3  # after each conv and the hidden layer


def test_conv_layers_grad_norm_and_update_ratio_match_torchs_own_gradients():
    # The oracle: torch.autograd.grad on a copy of the network, for the same batch, before the step.
    model = build_cnn((4, 6), 3, (8,), seed=0)
    flow = GradientFlow(model, steps_per_epoch=100, every=3, window=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1)
    checked = 0
    for step in range(1, 7):
        x, y = torch.rand(16, 784, generator=g), torch.randint(0, 10, (16,), generator=g)
        twin = copy.deepcopy(model)
        twin_layers = [m for m in twin.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
        expected = torch.autograd.grad(F.cross_entropy(twin(x), y), [layer.weight for layer in twin_layers])
        sizes = [layer.weight.detach().norm().item() for layer in twin_layers]
        flow.before_forward(step)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        flow.before_update(step)
        optimizer.step()
        layers = flow.after_update(step)
        if layers is None:
            continue
        checked += 1
        assert [layer["name"] for layer in layers] == ["conv 1", "conv 2", "hidden 1", "output"]
        for layer, grad, size in zip(layers, expected, sizes, strict=True):
            norm = torch.linalg.vector_norm(grad).item()
            assert layer["grad_norm"] == pytest.approx(norm, rel=1e-4), layer["name"]
            assert layer["update_ratio"] == pytest.approx(0.05 * norm / size, rel=1e-3), layer["name"]
    assert checked == 3  # steps 1 (the early one), 3 and 6


def test_a_conv_filter_is_dead_when_it_never_fires_anywhere():
    model = build_cnn((4, 6), 3, (8,), seed=0)
    conv1 = model[1]
    with torch.no_grad():
        conv1.bias[:1] = -1000.0  # filter 0 of 4 can never fire
    flow = GradientFlow(model, steps_per_epoch=100, every=2, window=2)
    g = torch.Generator().manual_seed(2)
    batches = [torch.rand(8, 784, generator=g) for _ in range(2)]
    for step, x in enumerate(batches, start=1):
        flow.before_forward(step)
        F.cross_entropy(model(x), torch.zeros(8, dtype=torch.long)).backward()
        flow.before_update(step)
        layers = flow.after_update(step)
    # The oracle: each filter's largest ReLU output over both batches, every position, straight from torch.
    with torch.no_grad():
        fired = torch.stack([model[:3](x).amax(dim=(0, 2, 3)) for x in batches]).amax(dim=0)
    assert layers[0]["dead_fraction"] == pytest.approx((fired <= 0).float().mean().item())
    assert layers[0]["dead_fraction"] >= 0.25 and layers[-1]["dead_fraction"] is None
    assert not conv1._forward_hooks and all(not relu._forward_hooks for relu in flow.relus)


def test_a_cnn_run_reports_its_conv_layers_each_epoch(make_random_mnist):
    events = []
    config = TrainConfig(architecture="cnn", conv_channels=(2, 4), kernel_size=3, hidden=(8,), epochs=1,
                         batch_size=50, device="cpu")
    Trainer(config, make_random_mnist(200, 50), callbacks=[events.append]).fit()
    (epoch,) = [e for e in events if isinstance(e, EpochEvent)]
    assert [layer["name"] for layer in epoch.layers] == ["conv 1", "conv 2", "hidden 1", "output"]
    assert all(math.isfinite(layer["grad_norm"]) and layer["grad_norm"] > 0 for layer in epoch.layers)
