"""LipSwish, MLP and weight clipping."""

import pytest
import torch
from torch import nn

from sdegan.nn import MLP, LipSwish, activation_by_name, clip_linear_weights, max_clip_violation


def test_lipswish_is_scaled_silu_with_lipschitz_constant_below_one():
    x = torch.linspace(-10, 10, 20001, dtype=torch.float64, requires_grad=True)
    y = LipSwish()(x)
    assert torch.allclose(y, 0.909 * x * torch.sigmoid(x))
    (slope,) = torch.autograd.grad(y.sum(), x)
    assert slope.abs().max() <= 1.0
    assert slope.abs().max() > 0.99  # and the rescaling is not needlessly small


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_mlp_shape_and_depth(depth):
    mlp = MLP(3, 5, width=7, depth=depth)
    linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == depth + 1
    assert mlp(torch.randn(4, 3)).shape == (4, 5)


def test_mlp_activation_and_final_tanh():
    mlp = MLP(2, 3, width=4, depth=2, activation="softplus", final_tanh=True)
    assert sum(isinstance(m, nn.Softplus) for m in mlp.modules()) == 2
    assert isinstance(mlp.net[-1], nn.Tanh)
    with torch.no_grad():
        for p in mlp.parameters():
            p.fill_(10.0)
    assert mlp(torch.ones(1, 2)).abs().max() <= 1.0


def test_unknown_activation_names_valid_choices():
    with pytest.raises(ValueError, match="lipswish"):
        activation_by_name("swish2")
    with pytest.raises(ValueError, match="depth"):
        MLP(2, 2, width=4, depth=-1)


def test_clip_linear_weights_bounds_every_linear_and_keeps_biases():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Sequential(nn.Linear(4, 2)))
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(100)
    biases = [module[0].bias.clone(), module[2][0].bias.clone()]
    assert max_clip_violation(module) > 0
    clip_linear_weights(module)
    assert max_clip_violation(module) <= 0
    assert module[0].weight.abs().max().item() == pytest.approx(1 / 4)
    assert module[2][0].weight.abs().max().item() == pytest.approx(1 / 2)
    assert torch.equal(module[0].bias, biases[0]) and torch.equal(module[2][0].bias, biases[1])


def test_clip_leaves_weights_inside_the_bound_unchanged():
    layer = nn.Linear(5, 10)
    with torch.no_grad():
        layer.weight.uniform_(-0.05, 0.05)
    before = layer.weight.clone()
    clip_linear_weights(layer)
    assert torch.equal(layer.weight, before)
