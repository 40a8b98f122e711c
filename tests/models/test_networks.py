"""Generator, discriminator and latent SDE solved through sdegan.solvers."""

import pytest
import torch

from sdegan.models import Discriminator, Generator, LatentSDEModel
from sdegan.models.latent_sde import masked_gaussian_log_likelihood
from sdegan.nn import LipSwish

TIMES = torch.arange(8, dtype=torch.float64)
# One compatible method per gradient method (reversible_heun's adjoint is its exact discrete adjoint).
GRADIENT_CASES = [("reversible_heun", "direct"), ("reversible_heun", "reversible"), ("reversible_heun", "adjoint")]


def _options(method="reversible_heun", gradient="reversible"):
    return {"method": method, "gradient": gradient, "brownian": "interval", "dt": 1.0, "coupling": None}


def _generator(**kwargs):
    torch.manual_seed(0)
    return Generator(data_channels=2, **kwargs).double()


def test_generator_outputs_the_path_format():
    paths = _generator()(TIMES, 5, _options())
    assert paths.shape == (5, 8, 3)
    assert torch.equal(paths[..., 0], TIMES.expand(5, -1))
    assert torch.isfinite(paths).all()
    assert paths[:, 0, 1:].std(dim=0).min() > 0  # x_0 = MLP(V) is random


def test_generator_uses_lipswish_and_bounded_vector_fields():
    generator = _generator()
    assert any(isinstance(m, LipSwish) for m in generator.modules())
    x = torch.randn(4, 16, dtype=torch.float64) * 100
    field = generator.vector_field
    assert field.f(torch.tensor(3.0), x).abs().max() <= 1
    assert field.g(torch.tensor(3.0), x).shape == (4, 16, 3)


def test_generator_initialisation_scaling():
    torch.manual_seed(0)
    plain = Generator(2, initial_scale=1.0, vector_field_scale=1.0)
    torch.manual_seed(0)
    scaled = Generator(2)
    for a, b in zip(plain.initial.parameters(), scaled.initial.parameters()):
        assert torch.allclose(3 * a, b)
    for a, b in zip(plain.vector_field.parameters(), scaled.vector_field.parameters()):
        assert torch.allclose(0.5 * a, b)
    for a, b in zip(plain.readout.parameters(), scaled.readout.parameters()):
        assert torch.equal(a, b)


def test_discriminator_scores_paths_with_missing_values():
    torch.manual_seed(0)
    discriminator = Discriminator(data_channels=2).double()
    paths = _generator()(TIMES, 4, _options()).detach()
    gappy = paths.clone()
    gappy[0, 3, 1] = float("nan")
    scores = discriminator(gappy, _options())
    assert scores.shape == (4,) and torch.isfinite(scores).all()
    # Filling a gap by its linear interpolation leaves the score unchanged.
    filled = gappy.clone()
    filled[0, 3, 1] = 0.5 * (gappy[0, 2, 1] + gappy[0, 4, 1])
    assert torch.allclose(discriminator(filled, _options()), scores, atol=1e-12)
    with pytest.raises(ValueError, match="expected 2"):
        discriminator(paths[..., :2], _options())


@pytest.mark.parametrize("method, gradient", GRADIENT_CASES)
def test_gan_gradients_reach_both_networks(method, gradient):
    options = _options(method, gradient)
    generator = _generator()
    torch.manual_seed(1)
    discriminator = Discriminator(2).double()
    fake = generator(TIMES, 4, options)
    loss = discriminator(fake, options).mean()
    loss.backward()
    for module in (generator.initial, generator.vector_field, discriminator.vector_field):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(g.abs().sum() for g in grads) > 0


def test_reversible_and_direct_gradients_agree_for_the_gan_loss():
    grads = {}
    for gradient in ("direct", "reversible"):
        options = _options("reversible_heun", gradient)
        generator = _generator()
        torch.manual_seed(1)
        discriminator = Discriminator(2).double()
        torch.manual_seed(2)
        discriminator(generator(TIMES, 4, options), options).mean().backward()
        grads[gradient] = torch.cat([p.grad.flatten() for p in
                                     [*generator.parameters(), *discriminator.parameters()]])
    assert torch.allclose(grads["direct"], grads["reversible"], rtol=1e-8, atol=1e-12)


def _latent_paths():
    torch.manual_seed(3)
    values = torch.randn(6, 8, 2, dtype=torch.float64).cumsum(1) * 0.3
    values[torch.rand(values.shape) < 0.3] = float("nan")
    values[:, 0] = 0.1
    return torch.cat([TIMES.view(1, -1, 1).expand(6, -1, 1), values], dim=-1)


def test_masked_likelihood_sums_observed_entries_only():
    torch.manual_seed(0)
    values = torch.randn(3, 5, 2, dtype=torch.float64)
    mean, std = torch.randn(3, 5, 2, dtype=torch.float64), torch.tensor([0.5, 2.0], dtype=torch.float64)
    full = masked_gaussian_log_likelihood(values, mean, std)
    expected = torch.distributions.Normal(mean, std).log_prob(values).sum(dim=(1, 2))
    assert torch.allclose(full, expected)
    gappy = values.clone()
    gappy[0, 1, 0] = gappy[2, 4, 1] = float("nan")
    masked = masked_gaussian_log_likelihood(gappy, mean, std)
    dropped = torch.distributions.Normal(mean, std).log_prob(values)
    assert torch.allclose(masked[0], full[0] - dropped[0, 1, 0])
    assert torch.allclose(masked[2], full[2] - dropped[2, 4, 1])
    assert masked[1] == full[1]
    assert torch.isfinite(masked).all()


def test_latent_elbo_terms_are_finite_with_missing_data():
    torch.manual_seed(0)
    paths = _latent_paths()
    assert torch.isnan(paths).any()
    terms = LatentSDEModel(2, time_span=(0.0, 7.0)).double().elbo_terms(paths, _options())
    assert all(torch.isfinite(v) for v in terms.values())
    assert terms["kl_path"] >= 0 and terms["kl_initial"] >= 0


def test_latent_kl_is_zero_when_posterior_drift_equals_prior():
    torch.manual_seed(0)
    model = LatentSDEModel(1, width=8, time_span=(0.0, 7.0)).double()
    with torch.no_grad():
        for p in model.dynamics.posterior_drift.parameters():
            p.zero_()
        for p in model.dynamics.prior_drift.parameters():
            p.zero_()
    terms = model.elbo_terms(_latent_paths()[..., :2], _options())
    assert terms["kl_path"].item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("method, gradient", GRADIENT_CASES)
def test_latent_encoder_receives_gradients_through_the_context(method, gradient):
    torch.manual_seed(0)
    model = LatentSDEModel(2, time_span=(0.0, 7.0)).double()
    terms = model.elbo_terms(_latent_paths(), _options(method, gradient))
    terms["kl_path"].backward()  # depends on the encoder only through the context in the drift
    grad = model.encoder.weight_hh_l0.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_latent_prior_samples_have_the_path_format():
    torch.manual_seed(0)
    samples = LatentSDEModel(2, time_span=(0.0, 7.0)).double().sample(TIMES, 5, _options())
    assert samples.shape == (5, 8, 3) and torch.isfinite(samples).all()
    assert torch.equal(samples[..., 0], TIMES.expand(5, -1))
