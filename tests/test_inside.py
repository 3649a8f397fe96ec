"""core.lessons.inside: layer activations, first-layer weight pictures, grids and colours, on small known networks."""

import numpy as np
import pytest
import torch

from core.engine.data import to_inputs
from core.engine.model import build_mlp
from core.engine.trainer import predict
from core.lessons.inside import (
    NEGATIVE,
    POSITIVE,
    activations,
    as_grid,
    diverging_rgb,
    first_layer_weights,
    grid_shape,
    image_grid,
    symmetric_limit,
    weight_picture,
)


@pytest.fixture
def digit():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(28, 28), dtype=np.uint8)


@pytest.mark.parametrize("hidden", [(128, 64), (), (32, 16, 8)])
def test_activations_walk_every_layer_of_any_mlp(hidden, digit):
    model = build_mlp(hidden, seed=1).eval()
    layers = activations(model, digit)
    assert [layer.values.size for layer in layers] == [784, *hidden, 10, 10]
    assert [layer.name for layer in layers] == [
        "Input", *[f"Hidden layer {k}" for k in range(1, len(hidden) + 1)], "Output", "Probabilities"
    ]
    for layer in layers[1:-2]:
        assert (layer.values >= 0).all()  # after ReLU
    with torch.no_grad():
        logits = model(to_inputs(torch.from_numpy(digit).unsqueeze(0)))[0].numpy()
    np.testing.assert_allclose(layers[-2].values, logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layers[-1].values.sum(), 1.0, rtol=1e-5)


@pytest.mark.parametrize(("activation", "words"), [("tanh", "after tanh"), ("gelu", "after GELU"),
                                                   ("leaky_relu", "after leaky ReLU")])
def test_activations_are_shown_after_any_activation_and_past_dropout(activation, words, digit):
    model = build_mlp((32, 16), seed=1, activation=activation, dropout=0.5).eval()
    layers = activations(model, digit)
    assert [layer.values.size for layer in layers] == [784, 32, 16, 10, 10]
    assert all(words in layer.description for layer in layers[1:3])
    with torch.no_grad():
        logits = model(to_inputs(torch.from_numpy(digit).unsqueeze(0)))[0].numpy()
    np.testing.assert_allclose(layers[-2].values, logits, rtol=1e-5, atol=1e-6)


def test_activations_agree_with_the_trainers_predict_in_both_scalings(digit):
    model = build_mlp(seed=2).eval()
    for normalize in ("plain", "standard"):
        layers = activations(model, torch.from_numpy(digit), normalize)
        expected = predict(model, torch.from_numpy(digit), normalize)[0].numpy()
        np.testing.assert_allclose(layers[-1].values, expected, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(layers[0].values, to_inputs(torch.from_numpy(digit), normalize).numpy(), rtol=1e-6)


def test_activations_refuse_an_image_of_the_wrong_size():
    with pytest.raises(ValueError, match="28x28"):
        activations(build_mlp(seed=0), np.zeros((20, 20), dtype=np.uint8))


def test_first_layer_weights_are_laid_out_like_the_pixels_they_multiply():
    model = build_mlp(seed=3)
    weights = first_layer_weights(model)
    assert weights.shape == (128, 28, 28) and weights.dtype == np.float32
    w = model[1].weight.detach().numpy()
    assert weights[5, 3, 7] == w[5, 3 * 28 + 7]
    assert weights[127, 27, 27] == w[127, 783]


def test_first_layer_weights_need_a_pixel_reading_first_layer():
    with pytest.raises(ValueError, match="28x28"):
        first_layer_weights(torch.nn.Sequential(torch.nn.Linear(10, 2)))


def test_diverging_colours_blue_white_red_and_clipped():
    rgb = diverging_rgb(np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]), 1.0)
    assert rgb.dtype == np.uint8 and rgb.shape == (6, 3)
    assert (rgb[0] == NEGATIVE).all() and (rgb[1] == NEGATIVE).all()
    assert (rgb[2] == 255).all()
    assert (rgb[4] == POSITIVE).all() and (rgb[5] == POSITIVE).all()
    assert rgb[3].tolist() == np.rint((255 + POSITIVE) / 2).astype(int).tolist()


def test_diverging_colours_accept_one_limit_per_neuron_and_refuse_zero():
    values = np.array([[[1.0]], [[1.0]]])
    rgb = diverging_rgb(values, np.array([[[1.0]], [[4.0]]]))
    assert (rgb[0, 0, 0] == POSITIVE).all() and not (rgb[1, 0, 0] == POSITIVE).all()
    with pytest.raises(ValueError):
        diverging_rgb(values, 0.0)


def test_symmetric_limit_ignores_a_few_extreme_values():
    values = np.concatenate([np.linspace(-0.1, 0.1, 1000), [50.0]])
    assert 0.09 < symmetric_limit(values) < 0.11
    assert symmetric_limit(np.zeros(10)) == 1.0


def test_image_grid_places_images_in_rows_with_gaps():
    images = np.arange(5, dtype=np.uint8).reshape(5, 1, 1).repeat(2, 1).repeat(2, 2) + 1
    out = image_grid(images, cols=3, gap=1, fill=0)
    assert out.shape == (2 * 2 + 1, 3 * 2 + 2)
    assert out[0, 0] == 1 and out[0, 3] == 2 and out[0, 6] == 3 and out[3, 0] == 4 and out[3, 3] == 5
    assert out[2].max() == 0 and out[:, 2].max() == 0  # the gaps
    assert out[3:, 6:].max() == 0  # the empty sixth place
    with pytest.raises(ValueError):
        image_grid(images, cols=0)


def test_weight_picture_is_a_crisp_grid_of_every_neuron():
    weights = first_layer_weights(build_mlp(seed=4))
    picture = weight_picture(weights, cols=16, scale=2)
    assert picture.shape == (8 * 56 + 7 * 2, 16 * 56 + 15 * 2, 3) and picture.dtype == np.uint8
    block = picture[:2, :2]
    assert (block == block[0, 0]).all()  # nearest-neighbour: each weight is a solid 2x2 block


def test_weight_picture_per_neuron_gives_each_neuron_full_colour():
    weights = np.zeros((2, 28, 28), dtype=np.float32)
    weights[0, 0, 0], weights[1, 0, 0] = 1.0, 0.01
    shared = weight_picture(weights, cols=2, scale=1)
    alone = weight_picture(weights, cols=2, scale=1, per_neuron=True)
    second = 28 + 2  # the second neuron's first column
    assert (alone[0, 0] == POSITIVE).all() and (alone[0, second] == POSITIVE).all()
    assert (shared[0, 0] == POSITIVE).all() and not (shared[0, second] == POSITIVE).all()
    fixed = weight_picture(weights[1:], cols=1, scale=1, limit=1.0)  # one neuron on another's scale
    assert (fixed[0, 0] == shared[0, second]).all()


@pytest.mark.parametrize(("n", "shape"), [(128, (8, 16)), (64, (4, 16)), (10, (2, 5)), (1, (1, 1)), (7, (1, 7))])
def test_grid_shape_fits_every_neuron(n, shape):
    assert grid_shape(n) == shape
    rows, cols = grid_shape(n)
    assert rows * cols >= n


def test_grid_shape_refuses_nothing():
    with pytest.raises(ValueError):
        grid_shape(0)


def test_as_grid_pads_with_nan():
    grid = as_grid(np.arange(5), cols=3)
    assert grid.shape == (2, 3)
    assert grid[1, 1] == 4 and np.isnan(grid[1, 2])
