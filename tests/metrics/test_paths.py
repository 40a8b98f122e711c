"""Filling missing values and rejecting malformed path tensors."""

import math

import pytest
import torch

from sdegan.metrics import fill_missing
from sdegan.metrics.paths import check_paths

NAN = math.nan


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
