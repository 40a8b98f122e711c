"""Acceptance 5: Brownian motion statistics, additivity, and reproducibility of queries in any order."""

import pytest
import torch
from scipy import stats

from sdegan.solvers import VirtualBrownianTree, make_brownian

KINDS = ["interval", "tree"]
# Each statistical check below fails by chance with probability 1e-6 (the seeds are fixed anyway).
FALSE_ALARM = 1e-6


def _brownian(kind, size=(2000, 3), dtype=torch.float64, t1=4.0, entropy=123):
    return make_brownian(kind, 0.0, t1, size, dtype, torch.device("cpu"), dt=0.25, entropy=entropy)


@pytest.mark.parametrize("kind", KINDS)
def test_increments_have_zero_mean_and_variance_equal_to_the_interval_length(kind):
    bm = _brownian(kind)
    ta, tb = 0.75, 2.25
    samples = (bm(ta, tb) / (tb - ta) ** 0.5).flatten().numpy()  # should be iid standard normal
    n = samples.size
    mean_z = samples.mean() * n**0.5
    assert abs(mean_z) < stats.norm.isf(FALSE_ALARM / 2)
    sum_of_squares = (samples**2).sum()  # chi-squared with n degrees of freedom
    assert stats.chi2.ppf(FALSE_ALARM / 2, n) < sum_of_squares < stats.chi2.isf(FALSE_ALARM / 2, n)


@pytest.mark.parametrize("kind", KINDS)
def test_disjoint_increments_are_uncorrelated(kind):
    bm = _brownian(kind)
    first, second = bm(0.0, 1.0).flatten().numpy(), bm(1.0, 2.0).flatten().numpy()
    correlation = (first * second).mean() / ((first**2).mean() * (second**2).mean()) ** 0.5
    assert abs(correlation) * first.size**0.5 < stats.norm.isf(FALSE_ALARM / 2)


@pytest.mark.parametrize("kind", KINDS)
def test_sub_interval_increments_sum_to_the_parent(kind):
    bm = _brownian(kind, size=(16, 3))
    points = [0.0, 0.3, 0.5, 1.25, 2.0, 3.9]
    parts = sum(bm(a, b) for a, b in zip(points[:-1], points[1:]))
    torch.testing.assert_close(parts, bm(points[0], points[-1]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_reverse_order_queries_reproduce_forward_values_exactly(kind):
    num_steps = 200  # more than the Brownian Interval's cache holds, so values are regenerated
    bm = _brownian(kind, size=(8, 3), t1=float(num_steps))
    forward = [bm(float(n), float(n + 1)) for n in range(num_steps)]
    backward = [bm(float(n), float(n + 1)) for n in reversed(range(num_steps))][::-1]
    assert all(torch.equal(a, b) for a, b in zip(forward, backward))


@pytest.mark.parametrize("kind", KINDS)
def test_random_order_queries_reproduce_forward_values_exactly(kind):
    num_steps = 100
    bm = _brownian(kind, size=(4, 2), t1=float(num_steps))
    forward = [bm(float(n), float(n + 1)) for n in range(num_steps)]
    order = torch.randperm(num_steps, generator=torch.Generator().manual_seed(0)).tolist()
    shuffled = {n: bm(float(n), float(n + 1)) for n in order}
    assert all(torch.equal(forward[n], shuffled[n]) for n in range(num_steps))


def test_tree_values_do_not_depend_on_query_history():
    first = _brownian("tree", size=(4, 2), entropy=7)
    second = _brownian("tree", size=(4, 2), entropy=7)
    for t in [3.1, 0.2, 1.7]:
        first(0.0, t)
    assert torch.equal(first(0.5, 2.5), second(0.5, 2.5))


@pytest.mark.parametrize("order", ["sequential", "reverse"])
def test_tree_consecutive_increments_cost_one_bisection_each(order):
    """A solver's increments share an endpoint with the previous one, forwards or in reverse."""
    num_steps = 100
    tree = VirtualBrownianTree(0.0, 1.0, size=(4, 2), dtype=torch.float64, entropy=3)
    steps = range(num_steps) if order == "sequential" else reversed(range(num_steps))
    for n in steps:
        tree(n / num_steps, (n + 1) / num_steps)
    assert tree.bisections == num_steps


def test_tree_random_order_increments_cost_at_most_two_bisections_each():
    num_steps = 50
    tree = VirtualBrownianTree(0.0, 1.0, size=(4, 2), dtype=torch.float64, entropy=3)
    for n in torch.randperm(num_steps, generator=torch.Generator().manual_seed(0)).tolist():
        tree(n / num_steps, (n + 1) / num_steps)
    assert num_steps < tree.bisections <= 2 * num_steps


@pytest.mark.parametrize("dt", [1e-6, 3e-6])
def test_tree_small_step_increments_are_nonzero_with_variance_dt(dt):
    """The default tolerance follows the solver's step: an increment over one step is never rounded to zero or
    to a neighbouring dyadic length (the old default, 2**-20 ~ 9.5e-7 on [0, 1], did both)."""
    num_increments, samples = 10, 20_000
    bm = make_brownian("tree", 0.0, 1.0, (samples,), torch.float64, torch.device("cpu"), dt=dt, entropy=11)
    start = 0.3
    for n in range(num_increments):
        increment = bm(start + n * dt, start + (n + 1) * dt)
        assert (increment != 0).all()
        sum_of_squares = (increment**2).sum().item() / dt  # chi-squared with `samples` degrees of freedom
        alarm = FALSE_ALARM / num_increments
        assert stats.chi2.ppf(alarm / 2, samples) < sum_of_squares < stats.chi2.isf(alarm / 2, samples)


def test_tree_rejects_queries_outside_its_interval():
    tree = VirtualBrownianTree(0.0, 1.0, size=(2, 2))
    with pytest.raises(ValueError, match="outside"):
        tree(0.5, 1.5)


def test_global_seed_fixes_the_sample():
    torch.manual_seed(5)
    first = make_brownian("interval", 0.0, 1.0, (3, 2), torch.float64, torch.device("cpu"), dt=0.1)(0.0, 1.0)
    torch.manual_seed(5)
    second = make_brownian("interval", 0.0, 1.0, (3, 2), torch.float64, torch.device("cpu"), dt=0.1)(0.0, 1.0)
    assert torch.equal(first, second)


def test_unknown_brownian_names_valid_choices():
    with pytest.raises(ValueError, match="interval.*tree"):
        make_brownian("bridge", 0.0, 1.0, (3, 2), torch.float64, torch.device("cpu"), dt=0.1)
