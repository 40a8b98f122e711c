"""The step grid: output times on the grid, irregular output intervals, clear errors."""

import pytest
import torch

from sdegan.solvers.grid import make_step_grid


def test_irregular_output_times_are_on_the_grid():
    ts = torch.tensor([0.0, 0.5, 2.0, 2.25], dtype=torch.float64)
    grid = make_step_grid(ts, 0.25)
    assert grid.num_steps == 9
    assert [grid.times[i] for i in grid.output_steps] == ts.tolist()
    assert all(abs(grid.step_size(n) - 0.25) < 1e-12 for n in range(grid.num_steps))


def test_no_dt_steps_between_output_times():
    ts = torch.tensor([0.0, 1.0, 3.0])
    grid = make_step_grid(ts, None)
    assert grid.times == (0.0, 1.0, 3.0) and grid.output_steps == (0, 1, 2)


@pytest.mark.parametrize("dt", [0.3, 0.0, -1.0, 5.0])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match="dt"):
        make_step_grid(torch.tensor([0.0, 1.0, 2.0]), dt)


@pytest.mark.parametrize("ts", [torch.tensor([0.0]), torch.tensor([[0.0, 1.0]]), torch.tensor([1.0, 0.0])])
def test_bad_output_times(ts):
    with pytest.raises(ValueError, match="ts must"):
        make_step_grid(ts, 0.5)


def test_float32_output_times_are_judged_at_float32_precision():
    """Before: "dt=0.1 does not divide" (a 1e-6 relative tolerance, below float32 round-off)."""
    ts = torch.linspace(0, 10, 101)
    grid = make_step_grid(ts, 0.1)
    assert grid.num_steps == 100
    assert [grid.times[i] for i in grid.output_steps] == ts.tolist()  # snapped to the output times exactly
    with pytest.raises(ValueError, match="does not divide"):
        make_step_grid(ts.double(), 0.1 * (1 + 1e-9))  # float64 times: judged at float64 precision


def test_max_step_policy_splits_each_interval_into_the_fewest_equal_steps():
    ts = torch.tensor([0.0, 0.05, 0.35, 1.0], dtype=torch.float64)
    grid = make_step_grid(ts, 0.1, grid_policy="max_step")
    assert [grid.times[i] for i in grid.output_steps] == ts.tolist()
    steps_per_interval = [b - a for a, b in zip(grid.output_steps[:-1], grid.output_steps[1:])]
    assert steps_per_interval == [1, 3, 7]
    assert max(grid.step_sizes) <= 0.1 + 1e-15
    assert make_step_grid(ts[2:], 0.65 / 7, grid_policy="max_step").num_steps == 7  # whole multiples: no extra step
    with pytest.raises(ValueError, match="grid_policy must be one of"):
        make_step_grid(ts, 0.1, grid_policy="nearest")
