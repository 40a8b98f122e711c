"""The networks' hand-written pullbacks (sdegan.models.mlp_vjp) against autograd, in float64."""

import pytest
import torch

from sdegan.models import Discriminator, Generator
from sdegan.models.mlp_vjp import mlp_forward_with_vjp, supports_hand_vjp
from sdegan.nn import MLP
from sdegan.solvers import vector_fields
from sdegan.training.instrumentation import EvaluationCounter

TIMES = torch.arange(10, dtype=torch.float64)


def _assert_equal_to_round_off(actual, expected):
    assert actual.shape == expected.shape
    assert torch.allclose(actual, expected, rtol=1e-12, atol=1e-14), (actual - expected).abs().max()


@pytest.mark.parametrize("activation", ["lipswish", "tanh"])
@pytest.mark.parametrize("depth", [0, 1, 2])
@pytest.mark.parametrize("final_tanh", [False, True])
def test_mlp_pullback_equals_autograd(activation, depth, final_tanh):
    torch.manual_seed(0)
    mlp = MLP(5, 7, 6, depth, activation, final_tanh=final_tanh).double()
    assert supports_hand_vjp(mlp)
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    adjoint = torch.randn(4, 7, dtype=torch.float64)
    value, pullback = mlp_forward_with_vjp(mlp, x)
    assert not value.requires_grad  # no graph recorded
    adjoint_x, grads = pullback(adjoint)
    expected_value = mlp(x)
    expected = torch.autograd.grad(expected_value, (x, *mlp.parameters()), adjoint)
    _assert_equal_to_round_off(value, expected_value.detach())
    _assert_equal_to_round_off(adjoint_x, expected[0])
    assert len(grads) == len(expected) - 1
    for grad, want in zip(grads, expected[1:]):
        _assert_equal_to_round_off(grad, want)


def test_mlp_pullback_is_the_jacobian_transpose():
    torch.manual_seed(1)
    mlp = MLP(3, 2, 4, 1, "lipswish", final_tanh=True).double()
    x = torch.randn(1, 3, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda inp: mlp(inp), x).reshape(2, 3)
    _, pullback = mlp_forward_with_vjp(mlp, x)
    for row in range(2):
        adjoint = torch.zeros(1, 2, dtype=torch.float64)
        adjoint[0, row] = 1.0
        _assert_equal_to_round_off(pullback(adjoint)[0][0], jacobian[row])


def test_hooks_the_hand_path_cannot_run_make_it_fall_back():
    mlp = MLP(3, 2, 4, 1, "lipswish")
    calls = []
    mlp.register_forward_hook(lambda module, args, output: calls.append(output))
    assert supports_hand_vjp(mlp)
    value, _ = mlp_forward_with_vjp(mlp, torch.randn(2, 3))
    assert len(calls) == 1 and calls[0] is value
    mlp.register_forward_pre_hook(lambda module, args: None)
    assert not supports_hand_vjp(mlp)
    inner = MLP(3, 2, 4, 1, "lipswish")
    inner.net[0].register_forward_hook(lambda module, args, output: None)
    assert not supports_hand_vjp(inner)
    replacing = MLP(3, 2, 4, 1, "lipswish")
    replacing.register_forward_hook(lambda module, args, output: output * 2)
    with pytest.raises(RuntimeError, match="replaces its output"):
        mlp_forward_with_vjp(replacing, torch.randn(2, 3))


def test_unsupported_networks_fall_back_to_autograd():
    assert not supports_hand_vjp(MLP(3, 2, 4, 1, "softplus"))
    frozen = MLP(3, 2, 4, 1, "lipswish")
    frozen.net[0].weight.requires_grad_(False)
    assert not supports_hand_vjp(frozen)
    assert not supports_hand_vjp(torch.nn.Linear(3, 2))
    generator = Generator(1, activation="softplus")
    assert generator.vector_field.vjp_evaluator() is None
    field = vector_fields.SDEVectorField(Generator(1).vector_field)
    assert field._hand_evaluator is not None


def _gradients(hand: bool, monkeypatch, activation: str, batch: int, device: str = "cpu"):
    """Loss, gradients and network evaluations counted by forward hooks of a generator + discriminator step solved
    with gradient='reversible'."""
    offered = vector_fields._hand_evaluator
    used = []

    def spy(module, parameters):
        evaluator, extra = offered(module, parameters) if hand else (None, 0)
        used.append((type(module).__name__, evaluator is not None))
        return evaluator, extra

    monkeypatch.setattr(vector_fields, "_hand_evaluator", spy)
    torch.manual_seed(0)
    generator = Generator(2, activation=activation).double().to(device)
    discriminator = Discriminator(2, activation=activation).double().to(device)
    counter = EvaluationCounter({"generator": generator.vector_field.drift,
                                 "discriminator": discriminator.vector_field})
    options = {"method": "reversible_heun", "gradient": "reversible", "brownian": "grid", "dt": 1.0}
    times = TIMES.to(device)
    values = torch.randn(batch, len(TIMES), 2, dtype=torch.float64).to(device)
    real = torch.cat([times.view(1, -1, 1).expand(batch, -1, 1), values], -1)
    real[0, 3, 1] = float("nan")
    fake = generator(times, batch, options)
    fake.retain_grad()
    loss = discriminator.wasserstein(fake, real, options)
    loss.backward()
    monkeypatch.undo()
    assert sorted(set(used)) == [("DiscriminatorVectorField", hand), ("GeneratorVectorField", hand)]
    parameters = [*generator.parameters(), *discriminator.parameters()]
    return loss.detach(), fake.grad, [p.grad for p in parameters], counter.counts


@pytest.mark.parametrize("activation", ["lipswish", "tanh"])
@pytest.mark.parametrize("batch", [1, 5])
def test_reversible_solves_give_autograds_gradients(monkeypatch, activation, batch, device="cpu"):
    hand_loss, hand_path_grad, hand_grads, hand_counts = _gradients(True, monkeypatch, activation, batch, device)
    loss, path_grad, grads, counts = _gradients(False, monkeypatch, activation, batch, device)
    assert hand_counts == counts  # forward hooks see the backward's evaluations as before
    assert counts["generator"] == 2 * len(TIMES) and counts["discriminator"] == 2 * len(TIMES)
    _assert_equal_to_round_off(hand_loss, loss)
    _assert_equal_to_round_off(hand_path_grad, path_grad)
    for hand_grad, grad in zip(hand_grads, grads):
        _assert_equal_to_round_off(hand_grad, grad)
