"""The step grid: output times on the grid, irregular output intervals, clear errors."""

import pytest
import torch

from sdegan.solvers.grid import make_step_grid


def test_irregular_output_times_are_on_the_grid():
    ts = torch.tensor([0.0, 0.5, 2.0, 2.25], dtype=torch.float64)
    grid = make_step_grid(ts, 0.25, torch.float64, torch.device("cpu"))
    assert grid.num_steps == 9
    assert [grid.times[i] for i in grid.output_steps] == ts.tolist()
    assert all(abs(grid.step_size(n) - 0.25) < 1e-12 for n in range(grid.num_steps))


def test_no_dt_steps_between_output_times():
    ts = torch.tensor([0.0, 1.0, 3.0])
    grid = make_step_grid(ts, None, torch.float32, torch.device("cpu"))
    assert grid.times == (0.0, 1.0, 3.0) and grid.output_steps == (0, 1, 2)


@pytest.mark.parametrize("dt", [0.3, 0.0, -1.0, 5.0])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match="dt"):
        make_step_grid(torch.tensor([0.0, 1.0, 2.0]), dt, torch.float32, torch.device("cpu"))


@pytest.mark.parametrize("ts", [torch.tensor([0.0]), torch.tensor([[0.0, 1.0]]), torch.tensor([1.0, 0.0])])
def test_bad_output_times(ts):
    with pytest.raises(ValueError, match="ts must"):
        make_step_grid(ts, 0.5, torch.float32, torch.device("cpu"))
