"""The fixed-grid Brownian source: exact statistics, bit-identical regeneration in any order, exact reversible
gradients, memory flat in the number of steps, and refusal of queries off its grid."""

import pytest
import torch
import torchsde
from scipy import stats

from sdegan.errors import ConfigurationError
from sdegan.solvers import GridBrownian, make_brownian, sdeint
from tests.solvers.solver_problems import NeuralSDE

# Each statistical check fails by chance with probability 1e-6 (the seeds are fixed anyway).
FALSE_ALARM = 1e-6
CPU = torch.device("cpu")


def _irregular_times(num_steps: int) -> list[float]:
    """Steps of three different sizes, so that each step's variance is checked, not just dt's."""
    steps = [(0.1, 0.5, 2.0)[n % 3] for n in range(num_steps)]
    times = [0.0]
    for step in steps:
        times.append(times[-1] + step)
    return times


def _normalised(bm: GridBrownian, times: list[float]) -> torch.Tensor:
    """Every increment divided by the square root of its step: (steps, *size), iid N(0, 1) if exact."""
    return torch.stack([bm(a, b) / (b - a) ** 0.5 for a, b in zip(times[:-1], times[1:])])


def test_increments_are_standard_normal_after_scaling_by_the_step():
    times = _irregular_times(150)  # several blocks of 16 steps
    bm = GridBrownian(times, (400, 2), dtype=torch.float64, entropy=7, block_steps=16)
    samples = _normalised(bm, times)
    n = samples.numel()
    assert abs(samples.mean().item()) * n**0.5 < stats.norm.isf(FALSE_ALARM / 2)
    sum_of_squares = (samples**2).sum().item()  # chi-squared with n degrees of freedom
    assert stats.chi2.ppf(FALSE_ALARM / 2, n) < sum_of_squares < stats.chi2.isf(FALSE_ALARM / 2, n)
    assert stats.kstest(samples.flatten().numpy(), "norm").pvalue > FALSE_ALARM
    for size in (0.1, 0.5, 2.0):  # each step size on its own has unit variance after scaling
        rows = [n for n, (a, b) in enumerate(zip(times[:-1], times[1:])) if abs(b - a - size) < 1e-9]
        part = samples[rows]
        m = part.numel()
        assert stats.chi2.ppf(FALSE_ALARM / 2, m) < (part**2).sum().item() < stats.chi2.isf(FALSE_ALARM / 2, m)


def test_increments_of_different_steps_batch_entries_and_seeds_are_uncorrelated():
    num_steps, block = 40, 8  # steps n and n + 8 share their position within a block: a seeding bug shows there
    times = [float(t) for t in range(num_steps + 1)]
    samples = _normalised(GridBrownian(times, (3000, 1), dtype=torch.float64, entropy=3, block_steps=block), times)
    samples = samples[..., 0]  # (steps, batch)
    other_seed = _normalised(GridBrownian(times, (3000, 1), dtype=torch.float64, entropy=4, block_steps=block), times)
    batch = samples.size(1)
    correlations = torch.corrcoef(torch.cat([samples, other_seed[..., 0]]))  # between all rows (steps x seeds)
    pairs = correlations.size(0) * (correlations.size(0) - 1) // 2
    off_diagonal = correlations[~torch.eye(correlations.size(0), dtype=torch.bool)]
    assert off_diagonal.abs().max().item() * batch**0.5 < stats.norm.isf(FALSE_ALARM / (2 * pairs))
    # Across batch entries: the first 40 entries' series over the steps are uncorrelated too.
    # r sqrt((n - 2) / (1 - r^2)) is Student-t with n - 2 degrees of freedom for independent normal series.
    r = torch.corrcoef(samples[:, :40].T)[~torch.eye(40, dtype=torch.bool)].abs().max().item()
    assert r * ((num_steps - 2) / (1 - r**2)) ** 0.5 < stats.t.isf(FALSE_ALARM / (2 * 780), num_steps - 2)


@pytest.mark.parametrize("block_steps", [1, 5, 64])
def test_queries_in_reverse_random_order_and_from_a_new_object_are_bit_identical(block_steps):
    times = _irregular_times(37)
    steps = list(zip(times[:-1], times[1:]))
    bm = GridBrownian(times, (6, 3), entropy=11, block_steps=block_steps)
    forward = [bm(a, b).clone() for a, b in steps]
    reverse = [bm(a, b).clone() for a, b in reversed(steps)][::-1]
    order = torch.randperm(len(steps), generator=torch.Generator().manual_seed(0)).tolist()
    shuffled = {n: bm(*steps[n]).clone() for n in order}
    fresh = GridBrownian(times, (6, 3), entropy=11, block_steps=block_steps)
    for n, value in enumerate(forward):
        assert torch.equal(value, reverse[n])
        assert torch.equal(value, shuffled[n])
        assert torch.equal(value, fresh(*steps[n]))
    assert not torch.equal(forward[0], GridBrownian(times, (6, 3), entropy=12, block_steps=block_steps)(*steps[0]))


def test_queries_with_round_off_in_the_times_and_torch_tensors_find_their_step():
    bm = GridBrownian.uniform(0.0, 6.3, 0.1, (4, 2), dtype=torch.float64, entropy=5)
    accumulated = 0.0
    for n in range(63):  # times built by repeated addition differ from the grid's in the last bits
        exact = bm(n * 6.3 / 63, (n + 1) * 6.3 / 63)
        assert torch.equal(bm(accumulated, accumulated + 0.1), exact)
        assert torch.equal(bm(torch.tensor(accumulated), torch.tensor(accumulated + 0.1)), exact)
        accumulated += 0.1
    assert torch.equal(bm(0.5, 0.5 + 1e-16), torch.zeros(4, 2, dtype=torch.float64))  # within round-off of a point


@pytest.mark.parametrize("query", [(0.0, 2.0), (0.0, 0.5), (0.5, 1.5), (1.0, 0.0), (3.0, 4.0), (-1.0, 0.0)])
def test_queries_that_are_not_one_step_of_the_grid_are_refused(query):
    bm = GridBrownian.uniform(0.0, 3.0, 1.0, (2, 2), entropy=0)
    with pytest.raises(ConfigurationError, match="only the steps of its grid"):
        bm(*query)


@pytest.mark.parametrize("step", [-1, 3])
def test_steps_outside_the_grid_are_refused(step):
    with pytest.raises(ConfigurationError, match="not one of the grid's steps"):
        GridBrownian.uniform(0.0, 3.0, 1.0, (2, 2), entropy=0).increment(step)


def test_make_brownian_builds_it_seeded_by_torch_and_refuses_levy_area_and_no_step():
    def build(**kwargs):
        return make_brownian("grid", 0.0, 4.0, (3, 2), torch.float64, CPU, **kwargs)

    torch.manual_seed(0)
    first = build(dt=0.5)(1.0, 1.5)
    torch.manual_seed(0)
    assert torch.equal(build(dt=0.5)(1.0, 1.5), first)
    assert isinstance(build(dt=0.5), GridBrownian)
    with pytest.raises(ConfigurationError, match="Levy area"):
        build(dt=0.5, levy_area_approximation="space-time")
    with pytest.raises(ConfigurationError, match="needs a fixed step"):
        build(dt=None)
    with pytest.raises(ConfigurationError, match="Levy area"):
        sdeint(NeuralSDE(state=2, noise=2, width=4).double(), torch.zeros(3, 2, dtype=torch.float64),
               torch.tensor([0.0, 4.0], dtype=torch.float64), method="log_ode", gradient="direct", brownian="grid",
               dt=0.5)


def _loss(ys):
    return (ys**2).sum() + ys.sin().sum()


@pytest.mark.parametrize("method", ["reversible_heun", "reversible_midpoint"])
def test_reversible_gradients_with_it_equal_direct_backpropagation_in_float64(method):
    torch.manual_seed(0)
    sde = NeuralSDE(state=16, noise=3, width=16).double()
    y0 = torch.randn(8, 16, dtype=torch.float64, requires_grad=True)
    ts = torch.tensor([0.0, 0.5, 2.0, 6.0], dtype=torch.float64)
    bm = GridBrownian.uniform(0.0, 6.0, 0.25, (8, 3), dtype=torch.float64, entropy=2, block_steps=5)
    inputs = [y0, *sde.parameters()]
    gradients = {}
    for gradient in ("direct", "reversible"):
        ys = sdeint(sde, y0, ts, method=method, gradient=gradient, brownian=bm, dt=0.25)
        gradients[gradient] = torch.autograd.grad(_loss(ys), inputs)
    for reversible, direct in zip(gradients["reversible"], gradients["direct"]):
        assert ((reversible - direct).abs().max() / direct.abs().max()).item() <= 1e-9


def test_torchsde_adjoint_reversible_heun_driven_by_it_gives_the_same_solution_and_gradients():
    """torchsde walks its own grid of tensor times (and queries the reverse pass through negated times); the
    grid source must give it the same increments as our solver, so both exact gradients agree. (dt is a binary
    fraction: with dt=0.1 torchsde's backward loop accumulates -3 + 0.1 + ... past -0.5 and takes an extra
    step of 1e-16, so its adjoint is then not the exact reverse of its own forward, whatever the Brownian.)"""
    torch.manual_seed(0)
    sde = NeuralSDE(state=6, noise=3, width=8).double()
    y0 = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    ts = torch.linspace(0.0, 3.0, 7, dtype=torch.float64)
    bm = GridBrownian.uniform(0.0, 3.0, 0.25, (4, 3), dtype=torch.float64, entropy=9, block_steps=5)
    inputs = [y0, *sde.parameters()]
    ours = sdeint(sde, y0, ts, method="reversible_heun", gradient="reversible", brownian=bm, dt=0.25)
    theirs = torchsde.sdeint_adjoint(sde, y0, ts, bm=bm, method="reversible_heun", dt=0.25,
                                     adjoint_method="adjoint_reversible_heun")
    torch.testing.assert_close(theirs, ours, rtol=1e-10, atol=1e-10)
    for a, b in zip(torch.autograd.grad(_loss(theirs), inputs), torch.autograd.grad(_loss(ours), inputs)):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


def test_memory_held_is_one_block_whatever_the_number_of_steps():
    held = {}
    for num_steps in (100, 5000):
        bm = GridBrownian.uniform(0.0, float(num_steps), 1.0, (32, 3), entropy=1, block_steps=16)
        for n in list(range(num_steps)) + list(reversed(range(num_steps))):
            bm(float(n), float(n + 1))
        held[num_steps] = bm.held_bytes
    assert held[100] == held[5000] == 16 * 32 * 3 * 4
