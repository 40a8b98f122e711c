"""Splitting the run's solve options between sdeint and cdeint."""

import pytest

from sdegan.models.solve_options import cde_solve_kwargs, sde_solve_kwargs


def test_solve_options_split_between_sde_and_cde():
    options = {"method": "reversible_heun", "gradient": "reversible", "brownian": "interval", "dt": 1.0,
               "coupling": None, "rtol": 1e-3}
    assert sde_solve_kwargs(options) == {"method": "reversible_heun", "gradient": "reversible",
                                         "brownian": "interval", "dt": 1.0}
    assert cde_solve_kwargs(options) == {"method": "reversible_heun", "gradient": "reversible",
                                         "dt": 1.0, "rtol": 1e-3}
    with pytest.raises(ValueError, match="valid keys"):
        sde_solve_kwargs({**options, "step": 1})
    with pytest.raises(ValueError, match="'method'"):
        cde_solve_kwargs({"gradient": "direct"})
