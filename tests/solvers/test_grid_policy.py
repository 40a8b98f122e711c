"""make_step_grid's grid_policy: "divide" refuses intervals dt does not divide, "max_step" splits them."""

import pytest
import torch

from sdegan.solvers.grid import make_step_grid


def _grid(ts, dt, policy):
    return make_step_grid(torch.tensor(ts, dtype=torch.float64), dt, policy)


def test_max_step_splits_every_interval_into_the_fewest_equal_steps_of_at_most_dt():
    grid = _grid([0.0, 0.25, 2.0, 2.5], 1.0, "max_step")
    assert grid.times == pytest.approx((0.0, 0.25, 0.25 + 1.75 / 2, 2.0, 2.5))
    assert grid.output_steps == (0, 1, 3, 4)
    assert max(grid.step_size(n) for n in range(grid.num_steps)) <= 1.0


def test_the_policies_agree_where_dt_divides_and_divide_refuses_otherwise():
    split, divided = _grid([0.0, 1.0, 3.0], 0.5, "max_step"), _grid([0.0, 1.0, 3.0], 0.5, "divide")
    assert split.times == divided.times and split.output_steps == divided.output_steps
    with pytest.raises(ValueError, match="does not divide"):
        _grid([0.0, 0.25], 1.0, "divide")
    with pytest.raises(ValueError, match="grid_policy"):
        _grid([0.0, 1.0], 1.0, "nearest")
