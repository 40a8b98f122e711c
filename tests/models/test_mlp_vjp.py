"""The networks' hand-written pullbacks (sdegan.models.mlp_vjp) against autograd, in float64."""

import pytest
import torch

from sdegan.models import Discriminator, Generator
from sdegan.models.mlp_vjp import TimeStateNetworks, supports_hand_vjp, time_state
from sdegan.nn import MLP
from sdegan.solvers import vector_fields
from sdegan.training.instrumentation import EvaluationCounter

TIMES = torch.arange(10, dtype=torch.float64)


def _assert_equal_to_round_off(actual, expected):
    assert actual.shape == expected.shape
    assert torch.allclose(actual, expected, rtol=1e-12, atol=1e-14), (actual - expected).abs().max()


def _autograd_reference(mlps, t, x, adjoints):
    """The networks' outputs on ``[t, x]`` and autograd's gradients of ``sum <adjoint, output>``."""
    x = x.detach().requires_grad_(True)
    outputs = [mlp(time_state(t, x)) for mlp in mlps]
    parameters = [p for mlp in mlps for p in mlp.parameters()]
    pairs = [(output, adjoint) for output, adjoint in zip(outputs, adjoints) if adjoint is not None]
    grads = torch.autograd.grad([o for o, _ in pairs], (x, *parameters), [a for _, a in pairs], allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip((x, *parameters), grads)]
    return [output.detach() for output in outputs], grads[0], grads[1:]


@pytest.mark.parametrize("activation", ["lipswish", "tanh"])
@pytest.mark.parametrize("depth", [0, 1, 2])
@pytest.mark.parametrize("final_tanh", [False, True])
@pytest.mark.parametrize("networks", [1, 2])
def test_networks_and_pullback_equal_autograd(activation, depth, final_tanh, networks):
    torch.manual_seed(0)
    mlps = [MLP(6, 7 + 2 * i, 6, depth, activation, final_tanh=final_tanh).double() for i in range(networks)]
    assert all(supports_hand_vjp(mlp) for mlp in mlps)
    t, x = torch.tensor(0.7, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    adjoints = [torch.randn(4, 7 + 2 * i, dtype=torch.float64) for i in range(networks)]
    prepared = TimeStateNetworks(mlps)
    values, pullback = prepared.value_with_vjp(t, x)
    assert not any(value.requires_grad for value in values)  # no graph recorded
    expected_values, expected_x, expected_params = _autograd_reference(mlps, t, x, adjoints)
    given = [adjoint.clone() for adjoint in adjoints]
    adjoint_x, grads = pullback(adjoints)
    assert all(torch.equal(a, b) for a, b in zip(adjoints, given))  # the caller's adjoints are not written to
    for value, alone, expected in zip(values, prepared.value(t, x), expected_values):
        _assert_equal_to_round_off(value, expected)
        _assert_equal_to_round_off(alone, expected)
    _assert_equal_to_round_off(adjoint_x, expected_x)
    assert len(grads) == len(expected_params)
    for grad, want in zip(grads, expected_params):
        _assert_equal_to_round_off(grad, want)


def test_networks_of_different_shapes_and_missing_adjoints():
    """No activation shared after the first layer (depth 0 with tanh beside depth 1), one adjoint None (zero)."""
    torch.manual_seed(2)
    mlps = [MLP(4, 3, 5, 0, "lipswish", final_tanh=True).double(), MLP(4, 2, 5, 1, "lipswish").double()]
    t, x = torch.tensor(-1.5, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    prepared = TimeStateNetworks(mlps)
    values, pullback = prepared.value_with_vjp(t, x)
    for adjoints in ([torch.randn(3, 3, dtype=torch.float64), None], [None, torch.randn(3, 2, dtype=torch.float64)]):
        expected_values, expected_x, expected_params = _autograd_reference(mlps, t, x, adjoints)
        adjoint_x, grads = pullback(adjoints)
        _assert_equal_to_round_off(adjoint_x, expected_x)
        for grad, want in zip(grads, expected_params):
            if grad is None:  # a network without adjoint: its later layers get none
                assert not want.abs().any()
            else:
                _assert_equal_to_round_off(grad, want)
    for value, expected in zip(values, expected_values):
        _assert_equal_to_round_off(value, expected)
    assert pullback([None, None]) == (None, [None] * 6)


def test_pullback_is_the_jacobian_transpose():
    torch.manual_seed(1)
    mlp = MLP(3, 2, 4, 1, "lipswish", final_tanh=True).double()
    t, x = torch.tensor(0.25, dtype=torch.float64), torch.randn(1, 2, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda inp: mlp(time_state(t, inp)), x).reshape(2, 2)
    _, pullback = TimeStateNetworks([mlp]).value_with_vjp(t, x)
    for row in range(2):
        adjoint = torch.zeros(1, 2, dtype=torch.float64)
        adjoint[0, row] = 1.0
        _assert_equal_to_round_off(pullback([adjoint])[0][0], jacobian[row])


def test_hooks_the_hand_path_cannot_run_make_it_fall_back():
    mlp = MLP(3, 2, 4, 1, "lipswish")
    calls = []
    mlp.register_forward_hook(lambda module, args, output: calls.append((args, output)))
    assert supports_hand_vjp(mlp)
    t, x = torch.tensor(0.5), torch.randn(2, 2)
    (value,) = TimeStateNetworks([mlp]).value(t, x)
    assert len(calls) == 1 and calls[0][1] is value
    assert torch.equal(calls[0][0][0], time_state(t, x))  # a hook that reads its input gets [t, x]
    mlp.register_forward_pre_hook(lambda module, args: None)
    assert not supports_hand_vjp(mlp)
    inner = MLP(3, 2, 4, 1, "lipswish")
    inner.net[0].register_forward_hook(lambda module, args, output: None)
    assert not supports_hand_vjp(inner)
    replacing = MLP(3, 2, 4, 1, "lipswish")
    replacing.register_forward_hook(lambda module, args, output: output * 2)
    with pytest.raises(RuntimeError, match="replaces its output"):
        TimeStateNetworks([replacing]).value(t, x)


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


def test_evaluations_without_autograd_take_the_prepared_path(monkeypatch):
    """A reversible forward solve (no autograd) evaluates through TimeStateNetworks, not the modules, with the
    modules' numbers; with autograd on, the modules run (their graph is needed)."""
    torch.manual_seed(0)
    generator, discriminator = Generator(1).double(), Discriminator(1).double()
    sde_field = vector_fields.SDEVectorField(generator.vector_field)
    cde_field = vector_fields.CDEVectorField(discriminator.vector_field)
    t, x = torch.tensor(2.0, dtype=torch.float64), torch.randn(3, 16, dtype=torch.float64)
    with torch.enable_grad():
        expected = [*sde_field.evaluate(t, x), cde_field.evaluate(t, x)[1]]
    module_calls = []
    original = MLP.forward
    monkeypatch.setattr(MLP, "forward", lambda self, inp: module_calls.append(self) or original(self, inp))
    with torch.no_grad():
        prepared = [*sde_field.evaluate(t, x), cde_field.evaluate(t, x)[1]]
    assert module_calls == []
    for value, want in zip(prepared, expected):
        _assert_equal_to_round_off(value, want.detach())
    with torch.enable_grad():
        sde_field.evaluate(t, x)
    assert len(module_calls) == 2
