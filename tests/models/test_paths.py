"""Gap filling of the path format and solve-option splitting."""

import pytest
import torch
import torchcde

from sdegan.models import check_paths, fill_missing_linear
from sdegan.models.solve_options import solve_spec


def _paths_with_gaps(seed=0, batch=6, length=9, channels=2):
    generator = torch.Generator().manual_seed(seed)
    times = torch.arange(length, dtype=torch.float64).view(1, -1, 1).expand(batch, -1, 1)
    values = torch.randn(batch, length, channels, generator=generator, dtype=torch.float64)
    mask = torch.rand(batch, length, channels, generator=generator) < 0.4
    mask[:, 4] = False  # every channel observed at least once
    values[mask] = float("nan")
    return torch.cat([times, values], dim=-1)


def test_fill_missing_matches_torchcde_on_a_unit_grid():
    paths = _paths_with_gaps()
    expected = torchcde.linear_interpolation_coeffs(paths)
    assert torch.allclose(fill_missing_linear(paths), expected, atol=1e-12)


def test_fill_missing_interpolates_in_time_on_irregular_grids():
    times = torch.tensor([0.0, 1.0, 4.0])
    paths = torch.stack([times, torch.tensor([0.0, float("nan"), 8.0])], dim=-1).unsqueeze(0)
    filled = fill_missing_linear(paths)
    assert filled[0, 1, 1].item() == pytest.approx(2.0)
    assert torch.equal(filled[..., 0], paths[..., 0])


def test_fill_missing_edges_take_nearest_observation():
    paths = torch.tensor([[[0.0, float("nan")], [1.0, 3.0], [2.0, 5.0], [3.0, float("nan")]]])
    assert fill_missing_linear(paths)[0, :, 1].tolist() == [3.0, 3.0, 5.0, 5.0]


def test_fill_missing_rejects_unobserved_channels():
    paths = torch.tensor([[[0.0, float("nan")], [1.0, float("nan")]]])
    with pytest.raises(ValueError, match="no observed value"):
        fill_missing_linear(paths)


def test_check_paths_messages():
    with pytest.raises(ValueError, match="shape"):
        check_paths(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="expects 2"):
        check_paths(torch.zeros(3, 4, 2), channels=2)
    bad_time = torch.zeros(1, 3, 2)
    bad_time[0, 1, 0] = float("nan")
    with pytest.raises(ValueError, match="time channel"):
        check_paths(bad_time)


def test_solve_options_split_between_sde_and_cde():
    options = {"method": "reversible_heun", "gradient": "reversible", "brownian": "tree", "dt": 1.0,
               "coupling": None, "norm": "default"}
    sde = solve_spec("sde", options)
    assert (sde.method, sde.gradient, sde.brownian, sde.dt) == ("reversible_heun", "reversible", "tree", 1.0)
    assert solve_spec("cde", options).brownian is None  # the Brownian keys are SDE-only
    with pytest.raises(ValueError, match="valid keys"):
        solve_spec("sde", {**options, "step": 1})
    with pytest.raises(ValueError, match="'method'"):
        solve_spec("cde", {"gradient": "direct"})
