"""core.lessons.one_step: the step worked out by hand equals what torch.autograd and torch.optim.SGD compute."""

import pytest
import torch
import torch.nn.functional as F

from core.engine.config import ACTIVATIONS
from core.engine.model import build_mlp
from core.lessons.one_step import digit_inputs, fresh_weights, network_weights, top_units, train_step

TOLERANCE = {"atol": 1e-6, "rtol": 1e-6}


def oracle(model, x, label, lr):
    """Autograd's numbers for the same step: logits, softmax, loss, each layer's gradients, the update, the new loss."""
    model = model.double()
    logits = model(x.double()[None])[0]
    loss = F.cross_entropy(logits[None], torch.tensor([label]))
    loss.backward()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    grads = [(m.weight.grad.clone(), m.bias.grad.clone()) for m in linears]
    torch.optim.SGD(model.parameters(), lr=lr).step()
    with torch.no_grad():
        loss_after = F.cross_entropy(model(x.double()[None]), torch.tensor([label]))
    return logits.detach(), logits.softmax(0).detach(), loss.item(), grads, network_weights(model), loss_after.item()


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("hidden", [(128, 64), (16,), (12, 10, 8)])
def test_the_hand_made_step_equals_autograd(activation, hidden):
    generator = torch.Generator().manual_seed(3)
    image = torch.randint(0, 256, (28, 28), dtype=torch.uint8, generator=generator)
    x, label, lr = digit_inputs(image, "standard"), 7, 0.5
    model = build_mlp(hidden, seed=1, activation=activation)
    step = train_step(network_weights(model), x, label, activation, lr)
    logits, probabilities, loss, grads, new_weights, loss_after = oracle(model, x, label, lr)

    torch.testing.assert_close(step.logits, logits, **TOLERANCE)
    torch.testing.assert_close(step.probabilities, probabilities, **TOLERANCE)
    assert step.loss == pytest.approx(loss, abs=1e-6)
    assert [layer.name for layer in step.layers] == [*(f"hidden {i}" for i in range(1, len(hidden) + 1)), "output"]
    for layer, (grad_weight, grad_bias) in zip(step.layers, grads, strict=True):
        torch.testing.assert_close(layer.grad_weight, grad_weight, **TOLERANCE)
        torch.testing.assert_close(layer.grad_bias, grad_bias, **TOLERANCE)
    for (weight, bias), (their_weight, their_bias) in zip(step.new_weights, new_weights, strict=True):
        torch.testing.assert_close(weight, their_weight, **TOLERANCE)
        torch.testing.assert_close(bias, their_bias, **TOLERANCE)
    assert step.loss_after == pytest.approx(loss_after, abs=1e-6)


def test_a_step_on_a_real_digit_makes_the_right_answer_more_likely(mnist):
    image, label = mnist.test_images[0], int(mnist.test_labels[0])
    step = train_step(fresh_weights(seed=0), digit_inputs(image), label, "relu", lr=0.1)
    assert step.loss == pytest.approx(-torch.log(step.probabilities[label]).item())
    assert step.loss_after < step.loss and step.probabilities_after[label] > step.probabilities[label]
    first = step.layers[0].grad_weight
    units = top_units(first, 4)
    assert first.shape == (128, 784) and len(units) == 4
    assert first[units[0]].norm() == first.norm(dim=1).max()
    # A pixel without ink multiplies its weight by 0: its gradient is exactly 0 (plain pixel scaling).
    assert torch.all(first[:, image.reshape(-1) == 0] == 0)


def test_the_same_seed_gives_the_runs_first_weights():
    torch.testing.assert_close(fresh_weights(5)[0][0], build_mlp(seed=5)[1].weight.detach())
    assert [w.shape for w, _ in fresh_weights(0)] == [(128, 784), (64, 128), (10, 64)]


def test_bad_input_is_refused_in_words():
    with pytest.raises(ValueError, match="28×28"):
        digit_inputs(torch.zeros(27, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="digit 0-9"):
        train_step(fresh_weights(0), torch.zeros(784), 10)
