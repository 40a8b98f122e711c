"""Invalid combinations fail at the call with a message naming the valid choices; the capabilities table."""

import pytest
import torch
from torch import nn

from sdegan.solvers import capabilities, cdeint, check_choice, odeint, sdeint, valid_choices
from tests.solvers.solver_problems import CDEFunc, NeuralSDE, ODEFunc, linear_path


class ItoSDE(NeuralSDE):
    sde_type = "ito"


@pytest.fixture
def sde_inputs():
    sde = NeuralSDE(state=4, noise=2, width=4)
    return sde, torch.zeros(3, 4), torch.linspace(0, 2, 3)


def test_reversible_gradient_with_non_reversible_method(sde_inputs):
    sde, y0, ts = sde_inputs
    with pytest.raises(ValueError, match="methods supporting 'reversible': reversible_heun, reversible_euler"):
        sdeint(sde, y0, ts, method="midpoint", gradient="reversible", dt=0.5)


def test_ito_sde_with_stratonovich_method():
    sde = ItoSDE(state=4, noise=2, width=4)
    with pytest.raises(ValueError, match="valid methods for ito SDEs.*euler"):
        sdeint(sde, torch.zeros(3, 4), torch.linspace(0, 2, 3), method="reversible_heun", gradient="direct", dt=0.5)


def test_dt_that_does_not_divide_the_output_grid(sde_inputs):
    sde, y0, ts = sde_inputs
    with pytest.raises(ValueError, match="does not divide"):
        sdeint(sde, y0, ts, method="reversible_heun", gradient="reversible", dt=0.3)


def test_unknown_method_and_gradient(sde_inputs):
    sde, y0, ts = sde_inputs
    with pytest.raises(ValueError, match="valid methods: reversible_heun"):
        sdeint(sde, y0, ts, method="rk45", gradient="direct", dt=0.5)
    with pytest.raises(ValueError, match="valid gradients: direct, adjoint, reversible"):
        sdeint(sde, y0, ts, method="reversible_heun", gradient="checkpoint", dt=0.5)


def test_reversible_euler_needs_additive_noise(sde_inputs):
    sde, y0, ts = sde_inputs
    with pytest.raises(ValueError, match="noise_type='general'.*reversible_midpoint"):
        sdeint(sde, y0, ts, method="reversible_euler", gradient="reversible", dt=0.5)


def test_coupling_only_for_reversible_runge_kutta(sde_inputs):
    sde, y0, ts = sde_inputs
    with pytest.raises(ValueError, match="coupling applies only"):
        sdeint(sde, y0, ts, method="reversible_heun", gradient="reversible", dt=0.5, coupling=0.9)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        sdeint(sde, y0, ts, method="reversible_midpoint", gradient="reversible", dt=0.5, coupling=1.5)


def test_bad_sde_module_and_times(sde_inputs):
    sde, y0, ts = sde_inputs

    class NoNoiseType(nn.Module):
        sde_type = "stratonovich"

    with pytest.raises(ValueError, match="noise_type must be one of"):
        sdeint(NoNoiseType(), y0, ts, dt=0.5)
    with pytest.raises(ValueError, match="strictly increasing"):
        sdeint(sde, y0, torch.tensor([0.0, 1.0, 1.0]), dt=0.5)


def test_ode_and_cde_option_checks():
    func = ODEFunc(state=4, width=4)
    y0, ts = torch.zeros(2, 4), torch.linspace(0, 1, 3)
    with pytest.raises(ValueError, match="seminorm.*gradient='adjoint'"):
        odeint(func, y0, ts, method="dopri5", gradient="direct", norm="seminorm")
    with pytest.raises(ValueError, match="norm must be one of"):
        odeint(func, y0, ts, method="dopri5", gradient="adjoint", norm="max")
    with pytest.raises(ValueError, match="adaptive methods only"):
        odeint(func, y0, ts, method="reversible_heun", gradient="reversible", rtol=1e-3)
    coeffs, path = linear_path(batch=2, length=3, channels=3, dtype=torch.float32)
    with pytest.raises(ValueError, match="valid methods"):
        cdeint(CDEFunc(hidden=4, channels=3), torch.zeros(2, 4), path, ts, method="milstein", gradient="direct")


def test_fixed_step_methods_run_for_every_problem():
    ts = torch.linspace(0, 2, 3)
    coeffs, path = linear_path(batch=2, length=3, channels=3, dtype=torch.float32)
    for method in ["euler", "midpoint", "ralston3", "rk4"]:
        zs = cdeint(CDEFunc(hidden=4, channels=3), torch.zeros(2, 4), path, ts, method=method, gradient="direct")
        assert zs.shape == (3, 2, 4)
        ys = odeint(ODEFunc(state=4, width=4), torch.zeros(2, 4), ts, method=method, gradient="direct", dt=0.5)
        assert ys.shape == (3, 2, 4)


def test_capabilities_table_and_valid_choices():
    table = capabilities("sde")
    assert table["reversible_heun"].reversible and table["reversible_heun"].sde_types == ("stratonovich",)
    assert not table["midpoint"].reversible and table["euler"].sde_types == ("ito",)
    assert set(valid_choices("sde")) == {"method", "gradient", "brownian"}
    assert "dopri5" in valid_choices("cde")["method"] and "dopri5" not in valid_choices("sde")["method"]
    assert check_choice("ode", "reversible_rk4", "reversible").order == "4"
    with pytest.raises(ValueError, match="problem must be one of"):
        capabilities("pde")


@pytest.mark.parametrize("dt", [0.0, -1.0, float("nan"), float("inf")])
@pytest.mark.parametrize("method", ["midpoint", "reversible_heun"])
def test_non_positive_step_is_a_clear_error(method, dt):
    sde = NeuralSDE(state=2, noise=1, width=4)
    gradient = "reversible" if method.startswith("reversible") else "direct"
    with pytest.raises(ValueError, match="dt must be a positive, finite number"):
        sdeint(sde, torch.zeros(3, 2), torch.tensor([0.0, 1.0]), method=method, gradient=gradient, dt=dt)
