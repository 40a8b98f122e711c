"""Models on irregularly observed paths: samples carry the given times, the latent SDE scores each path at its
own observation times, and its context gradient (reversible backward) is exact and linear in the length."""

import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from sdegan.models import Generator, LatentSDEModel
from sdegan.models import latent_sde as latent_sde_module


def _options(gradient="reversible", method="reversible_heun"):
    return {"method": method, "gradient": gradient, "brownian": "interval", "dt": 1.0, "coupling": None}


def _irregular_times(batch, length, seed=0, span=7.0):
    """Per-path strictly increasing times starting at 0 (like the csv dataset), different for every path."""
    generator = torch.Generator().manual_seed(seed)
    inner = torch.rand(batch, length - 1, generator=generator, dtype=torch.float64).sort(dim=1).values * span
    times = torch.cat([torch.zeros(batch, 1, dtype=torch.float64), inner + 1e-3], dim=1)
    assert (times.diff(dim=1) > 0).all() and not (times == times[:1]).all()
    return times


def _paths(times, channels=2, seed=1, missing=0.2):
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(*times.shape, channels, generator=generator, dtype=torch.float64)
    drop = torch.rand(values.shape, generator=generator) < missing
    drop[:, 0] = False
    return torch.cat([times.unsqueeze(-1), values.masked_fill(drop, float("nan"))], dim=-1)


def test_generator_samples_each_path_at_its_own_times():
    torch.manual_seed(0)
    times = _irregular_times(5, 6)
    paths = Generator(data_channels=2, hidden_size=8, width=8).double()(times, 5, _options())
    assert paths.shape == (5, 6, 3) and torch.isfinite(paths).all()
    assert torch.equal(paths[..., 0], times)


def test_latent_prior_samples_each_path_at_its_own_times():
    torch.manual_seed(0)
    times = _irregular_times(4, 5)
    samples = LatentSDEModel(2, width=8, hidden_size=8, time_span=(0.0, 7.0)).double().sample(times, 4, _options())
    assert samples.shape == (4, 5, 3) and torch.isfinite(samples).all()
    assert torch.equal(samples[..., 0], times)


def _deterministic_latent_model(slope):
    """A latent SDE whose posterior latent is ``z(t) = slope * t`` (up to noise of size 1e-3) and whose decoder
    is the identity, so the predicted mean of an observation at time ``t`` is ``slope * t``."""
    model = LatentSDEModel(1, latent_size=1, context_size=2, hidden_size=4, width=4, time_span=(0.0, 8.0)).double()
    with torch.no_grad():
        drift_out = model.dynamics.posterior_drift.net[-2]
        drift_out.weight.zero_()
        drift_out.bias.fill_(math.atanh(slope))
        diffusion_out = model.dynamics.diffusion.net[-1]
        diffusion_out.weight.zero_()
        diffusion_out.bias.fill_(-40.0)  # sigma = the minimum diffusion, 1e-3
        model.initial_posterior.weight.zero_()
        model.initial_posterior.bias.copy_(torch.tensor([0.0, -40.0]))  # z_0 = 0
        model.decoder.weight.fill_(1.0)
        model.decoder.bias.zero_()
    return model


def test_latent_likelihood_is_taken_at_the_observation_times():
    torch.manual_seed(0)
    slope = 0.5
    times = _irregular_times(6, 5, span=7.0)
    paths = torch.stack([times, slope * times], dim=-1)  # observations exactly on the posterior mean
    model = _deterministic_latent_model(slope)
    with torch.no_grad():
        log_likelihood = model.elbo_terms(paths, _options())["log_likelihood"].item()
    std = model.observation_std().item()
    perfect_fit = times.size(1) * (-math.log(std) - 0.5 * math.log(2 * math.pi))
    # Read at another time than the observation's (e.g. the i-th point of a grid), the residuals would be
    # of order slope * |t_i - i|, far more than the observation std of 0.11.
    assert log_likelihood == pytest.approx(perfect_fit, abs=1e-2)


def _elbo_gradients(model, paths, gradient, seed=3):
    model.zero_grad()
    torch.manual_seed(seed)
    terms = model.elbo_terms(paths, _options(gradient))
    (terms["log_likelihood"] - terms["kl_path"] - terms["kl_initial"]).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("irregular", [False, True])
def test_latent_reversible_gradients_match_direct_backpropagation(irregular):
    times = _irregular_times(4, 6) if irregular else torch.arange(6, dtype=torch.float64).expand(4, 6)
    paths = _paths(times)
    torch.manual_seed(0)
    model = LatentSDEModel(2, latent_size=3, context_size=5, hidden_size=6, width=8, time_span=(0.0, 7.0)).double()
    direct = _elbo_gradients(model, paths, "direct")
    reversible = _elbo_gradients(model, paths, "reversible")
    assert direct.keys() == reversible.keys() and "encoder.weight_hh_l0" in direct  # the context's gradient
    for name, grad in direct.items():
        torch.testing.assert_close(reversible[name], grad, rtol=1e-8, atol=1e-10, msg=name)


class _AllocatedElements(TorchDispatchMode):
    """Counts the elements of the tensors the dispatched ops allocate (in-place ops allocate nothing; a sparse
    tensor counts its stored values)."""

    def __init__(self):
        super().__init__()
        self.elements = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not any(argument.alias_info is not None and argument.alias_info.is_write
                   for argument in func._schema.arguments):
            for tensor in tree_flatten(out)[0]:
                if isinstance(tensor, torch.Tensor):
                    self.elements += tensor._values().numel() if tensor.is_sparse else tensor.numel()
        return out


def _reversible_backward_elements(length, irregular):
    torch.manual_seed(0)
    model = LatentSDEModel(1, latent_size=2, context_size=64, hidden_size=4, width=4,
                           time_span=(0.0, float(length - 1))).double()
    regular = torch.arange(length, dtype=torch.float64).expand(2, length)
    times = _irregular_times(2, length, span=length - 1.0) if irregular else regular
    paths = _paths(times, channels=1)
    terms = model.elbo_terms(paths, _options("reversible"))
    loss = terms["log_likelihood"] - terms["kl_path"]
    with _AllocatedElements() as counter:
        loss.backward()
    return counter.elements


class _DenseRead:
    """The context lookup with the ordinary dense gradient (what the reversible pass used before)."""

    @staticmethod
    def apply(context, index, batch):
        return latent_sde_module._read(context, index, batch)


@pytest.mark.parametrize("irregular", [False, True])
def test_latent_reversible_backward_work_is_linear_in_the_length(monkeypatch, irregular):
    # Doubling the length doubles the steps; with a full (batch, length, context) gradient per step the work
    # would quadruple.
    ratio = _reversible_backward_elements(64, irregular) / _reversible_backward_elements(32, irregular)
    assert ratio < 2.3
    monkeypatch.setattr(latent_sde_module, "_ReadWithSparseGradient", _DenseRead)
    dense_ratio = _reversible_backward_elements(64, irregular) / _reversible_backward_elements(32, irregular)
    assert dense_ratio > 3.0  # the measurement tells the two apart
