"""The path format module (sdegan.paths): checks, gap filling, missing patterns, batch time grids."""

import math

import pytest
import torch
import torchcde

from sdegan.paths import (
    apply_missing_pattern,
    check_paths,
    fill_missing,
    read_at_positions,
    union_of_times,
)

NAN = math.nan


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
    assert torch.allclose(fill_missing(paths), expected, atol=1e-12)


def test_fill_missing_interpolates_in_time_on_irregular_grids():
    times = torch.tensor([0.0, 1.0, 4.0])
    paths = torch.stack([times, torch.tensor([0.0, float("nan"), 8.0])], dim=-1).unsqueeze(0)
    filled = fill_missing(paths)
    assert filled[0, 1, 1].item() == pytest.approx(2.0)
    assert torch.equal(filled[..., 0], paths[..., 0])


def test_fill_missing_edges_take_nearest_observation():
    paths = torch.tensor([[[0.0, float("nan")], [1.0, 3.0], [2.0, 5.0], [3.0, float("nan")]]])
    assert fill_missing(paths)[0, :, 1].tolist() == [3.0, 3.0, 5.0, 5.0]


def test_fill_missing_rejects_unobserved_channels():
    paths = torch.tensor([[[0.0, float("nan")], [1.0, float("nan")]]])
    with pytest.raises(ValueError, match="no observed value"):
        check_paths(paths)


def test_check_paths_messages():
    with pytest.raises(ValueError, match="shape"):
        check_paths(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="expected 2"):
        check_paths(torch.zeros(3, 4, 2), channels=2)
    bad_time = torch.zeros(1, 3, 2)
    bad_time[0, 1, 0] = float("nan")
    with pytest.raises(ValueError, match="time"):
        check_paths(bad_time)


def test_gaps_are_interpolated_linearly_in_time_and_edges_take_nearest_value():
    times = torch.tensor([0.0, 1.0, 3.0, 4.0, 6.0, 7.0], dtype=torch.float64)
    values = torch.tensor([NAN, 2.0, NAN, 8.0, NAN, NAN], dtype=torch.float64)
    second = torch.tensor([1.0, NAN, NAN, NAN, NAN, -1.0], dtype=torch.float64)
    paths = torch.stack([times, values, second], dim=-1).unsqueeze(0)
    filled = fill_missing(paths)
    # value at t=3 between (1, 2) and (4, 8): 2 + (3 - 1) / (4 - 1) * 6 = 6
    expected_values = torch.tensor([2.0, 2.0, 6.0, 8.0, 8.0, 8.0], dtype=torch.float64)
    expected_second = 1.0 + (times - 0.0) / 7.0 * (-2.0)
    torch.testing.assert_close(filled[0, :, 1], expected_values, rtol=0, atol=1e-14)
    torch.testing.assert_close(filled[0, :, 2], expected_second, rtol=0, atol=1e-14)
    torch.testing.assert_close(filled[0, :, 0], times, rtol=0, atol=0)


def test_observed_entries_are_unchanged_and_input_is_not_modified():
    generator = torch.Generator().manual_seed(0)
    paths = torch.randn(5, 9, 3, generator=generator, dtype=torch.float64)
    paths[..., 0] = torch.arange(9.0).pow(1.5)
    paths[..., 1:][torch.rand(5, 9, 2, generator=generator) < 0.4] = NAN
    paths[:, 0, 1:] = 0.5  # every channel keeps at least one observation
    original = paths.clone()
    filled = fill_missing(paths)
    observed = ~torch.isnan(paths)
    assert not torch.isnan(filled).any()
    assert torch.equal(filled[observed], paths[observed])
    assert torch.equal(torch.isnan(paths), torch.isnan(original))


def _valid_paths():
    paths = torch.zeros(4, 6, 2)
    paths[..., 0] = torch.arange(6.0)
    return paths


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p[0], "3 dimensions"),
        (lambda p: p[..., :1], "at least one value channel"),
        (lambda p: p.long(), "floating-point"),
        (lambda p: p[:, :1], "at least 2 observation times"),
        (lambda p: p.index_fill(1, torch.tensor([2]), 0.0), "strictly increasing"),
        (lambda p: p.index_fill(2, torch.tensor([0]), NAN), "time"),
        (lambda p: p.index_fill(2, torch.tensor([1]), NAN), "no observed value"),
        (lambda p: p.index_fill(2, torch.tensor([1]), math.inf), "inf"),
        (lambda p: p.numpy(), "torch.Tensor"),
    ],
)
def test_malformed_paths_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        check_paths(make(_valid_paths()), "paths")


def test_union_of_times_keeps_shared_times_and_indexes_irregular_ones():
    shared = torch.arange(4.0)
    assert union_of_times(shared) == (shared, None)
    grid, positions = union_of_times(shared.expand(3, 4))
    assert torch.equal(grid, shared) and positions is None
    times = torch.tensor([[0.0, 0.5, 2.0], [0.0, 1.0, 2.0], [0.25, 1.0, 3.0]])
    grid, positions = union_of_times(times)
    assert grid.tolist() == [0.0, 0.25, 0.5, 1.0, 2.0, 3.0]
    assert torch.equal(grid[positions], times)


def test_read_at_positions_reads_each_path_at_its_own_times():
    times = torch.tensor([[0.0, 0.5, 2.0], [0.0, 1.0, 2.0]])
    grid, positions = union_of_times(times)
    # a "solution" (points, batch, 2) whose entries are the grid time plus the path index
    solution = grid.view(-1, 1, 1) + torch.tensor([0.0, 10.0]).view(1, 2, 1) + torch.zeros(1, 1, 2)
    read = read_at_positions(solution, positions)
    assert read.shape == (2, 3, 2)
    assert torch.equal(read[..., 0], times + torch.tensor([[0.0], [10.0]]))
    assert torch.equal(read_at_positions(solution, None), solution.transpose(0, 1))


def test_apply_missing_pattern_copies_nans_and_keeps_times():
    real = torch.tensor([[[0.0, 1.0], [0.5, NAN], [2.0, 3.0]]])
    fake = torch.tensor([[[0.0, 7.0], [0.5, 8.0], [2.0, 9.0]]])
    out = apply_missing_pattern(fake, real)
    assert torch.equal(out[..., 0], real[..., 0])
    assert torch.isnan(out[0, 1, 1]) and out[0, 0, 1] == 7.0 and out[0, 2, 1] == 9.0
    with pytest.raises(ValueError, match="same shape"):
        apply_missing_pattern(fake[:, :2], real)
