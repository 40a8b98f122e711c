"""The run's solve options turned into each problem's spec, and the models' one solve call."""

import pytest
import torch

from sdegan.models.generator import GeneratorVectorField
from sdegan.models.solve_options import solve, solve_spec


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


def test_a_spec_solves_at_the_times_it_is_given_not_only_its_precomputed_ones():
    """A spec built for one grid must not silently solve other output times on that grid."""
    torch.manual_seed(0)
    field = GeneratorVectorField(hidden_size=3, noise_size=2, width=4, depth=1, activation="lipswish").double()
    options = {"method": "reversible_heun", "gradient": "reversible", "brownian": "interval", "dt": 0.5}
    fixed = torch.arange(5, dtype=torch.float64)
    spec = solve_spec("sde", options, fixed, GeneratorVectorField)
    x0 = torch.randn(4, 3, dtype=torch.float64)
    assert solve(spec, "sde", field, x0, fixed).shape == (5, 4, 3)
    other = torch.linspace(0.0, 3.0, 7, dtype=torch.float64)  # same length as nothing above, other times
    assert solve(spec, "sde", field, x0, other).shape == (7, 4, 3)
    shifted = fixed + 0.5  # same length, other times: their own grid
    torch.manual_seed(1)
    on_shifted = solve(spec, "sde", field, x0, shifted)
    torch.manual_seed(1)
    reference = solve(options, "sde", field, x0, shifted)
    assert torch.equal(on_shifted, reference)
    irregular = torch.tensor([0.0, 0.3, 1.0, 1.7], dtype=torch.float64)  # 0.5 divides no interval
    with pytest.raises(ValueError, match="does not divide"):
        solve(spec, "sde", field, x0, irregular)
    assert solve(spec, "sde", field, x0, irregular, per_path_times=True).shape == (4, 4, 3)
