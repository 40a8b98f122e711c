"""The solve specification: validated once, the grid precomputed, other output times on request; the shape
contract checked once per solve with a message naming the shapes."""

import pytest
import torch

from sdegan.errors import ConfigurationError
from sdegan.solvers import SolveSpec, cdeint, make_brownian, odeint, sdeint
from tests.solvers.solver_problems import CDEFunc, NeuralSDE, ODEFunc, linear_path


def test_spec_solves_on_its_grid_and_on_other_times_like_the_front_door():
    torch.manual_seed(0)
    sde = NeuralSDE(state=4, noise=2, width=8).double()
    y0 = torch.randn(3, 4, dtype=torch.float64)
    ts = torch.linspace(0, 2, 5, dtype=torch.float64)
    other = torch.tensor([0.0, 0.3, 0.4, 2.0], dtype=torch.float64)
    spec = SolveSpec.build("sde", method="reversible_heun", gradient="adjoint", dt=0.1, times=ts,
                           grid_policy="max_step")
    assert spec.grid.num_steps == 20
    bm = make_brownian("interval", 0.0, 2.0, (3, 2), torch.float64, y0.device, dt=0.1)
    with torch.no_grad():
        assert torch.equal(spec.solve(sde, y0, brownian=bm),
                           sdeint(sde, y0, ts, method="reversible_heun", gradient="adjoint", brownian=bm, dt=0.1))
        on_other = spec.solve(sde, y0, ts=other, brownian=bm)
        assert torch.equal(on_other, sdeint(sde, y0, other, method="reversible_heun", gradient="direct",
                                            brownian=bm, dt=0.1, grid_policy="max_step"))
    assert on_other.shape == (4, 3, 4)


def test_spec_refuses_at_build_time():
    with pytest.raises(ConfigurationError, match="valid methods: reversible_heun"):
        SolveSpec.build("cde", method="milstein", gradient="direct")
    with pytest.raises(ConfigurationError, match="does not divide"):
        SolveSpec.build("sde", method="reversible_heun", gradient="direct", dt=0.3, times=torch.arange(3.0))
    with pytest.raises(ConfigurationError, match="unknown solver options.*valid options: first_step"):
        SolveSpec.build("ode", method="dopri5", gradient="direct", options=dict(step=1))
    with pytest.raises(ConfigurationError, match="unknown solver options.*valid options: none"):
        SolveSpec.build("ode", method="reversible_heun", gradient="direct", options=dict(jump_t=1))
    spec = SolveSpec.build("ode", method="rk4", gradient="direct", dt=0.5)
    with pytest.raises(ConfigurationError, match="built without times"):
        spec.solve(ODEFunc(state=2), torch.zeros(1, 2))


class WrongDiffusion(NeuralSDE):
    def f_and_g(self, t, y):
        f, g = super().f_and_g(t, y)
        return f, g[..., :1]


@pytest.mark.parametrize("method", ["reversible_heun", "midpoint"])
def test_sde_shape_contract_names_the_shapes(method):
    """Before: "The size of tensor a (10) must match the size of tensor b (15)" deep in the solver."""
    sde = WrongDiffusion(state=5, noise=3, width=4)
    gradient = "reversible" if method.startswith("reversible") else "direct"
    with pytest.raises(ConfigurationError, match=r"g must have shape \(2, 5, 3\).*general noise.*got \(2, 5, 1\)"):
        sdeint(sde, torch.zeros(2, 5), torch.tensor([0.0, 1.0]), method=method, gradient=gradient, dt=0.5)
    with pytest.raises(ConfigurationError, match=r"y0 must have shape \(batch, state\), got \(5,\)"):
        sdeint(NeuralSDE(state=5), torch.zeros(5), torch.tensor([0.0, 1.0]), dt=0.5)


@pytest.mark.parametrize("method", ["reversible_heun", "dopri5"])
def test_cde_and_ode_shape_contracts_name_the_shapes(method):
    gradient = "reversible" if method.startswith("reversible") else "direct"
    dt = 0.5 if method.startswith("reversible") else None
    _, path = linear_path(batch=2, length=3, channels=4, dtype=torch.float32)  # 4 channels; the func gives 3
    ts = torch.tensor([0.0, 2.0])
    with pytest.raises(ConfigurationError, match=r"must have shape \(2, 5, 4\) \(batch, hidden, path channels\), "
                                                 r"got \(2, 5, 3\)"):
        cdeint(CDEFunc(hidden=5, channels=3), torch.zeros(2, 5), path, ts, method=method, gradient=gradient, dt=dt)
    with pytest.raises(ConfigurationError, match=r"z0 must have shape \(batch, hidden\), got \(5,\)"):
        cdeint(CDEFunc(hidden=5, channels=4), torch.zeros(5), path, ts, method=method, gradient=gradient, dt=dt)
    with pytest.raises(ConfigurationError, match=r"must have shape \(2, 3\) \(the shape of y0\), got \(2, 4\)"):
        odeint(OneTooMany(), torch.zeros(2, 3), ts, method=method, gradient=gradient, dt=dt)


class OneTooMany(torch.nn.Module):
    def forward(self, t, y):
        return torch.cat([y, y[:, :1]], dim=1)


class _HostReads:
    """Counts reads of tensor values on the host (``item``, ``tolist``, ``float``, ``bool``, ``int``)."""

    NAMES = ("item", "tolist", "__float__", "__bool__", "__int__")

    def __init__(self, monkeypatch):
        self.calls = []
        for name in self.NAMES:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._counting(name, original))

    def _counting(self, name, original):
        def read(tensor, *args):
            self.calls.append(name)
            return original(tensor, *args)

        return read


class TabulatedBrownian:
    def __init__(self, increments):
        self.increments = increments

    def __call__(self, ta, tb):
        return self.increments[round(ta / 0.25)]


@pytest.mark.parametrize("problem", ["sde", "cde-linear", "cde-cubic"])
@pytest.mark.parametrize("gradient", ["direct", "reversible"])
def test_precomputed_solves_read_no_tensor_values_on_the_host(problem, gradient, monkeypatch):
    """On the spec's precomputed grid a solve (forward and backward) reads no device value on the host, so on a
    GPU it makes no host-device synchronisation."""
    import torchcde

    torch.manual_seed(0)
    ts = torch.linspace(0, 2, 3)
    spec = SolveSpec.build(problem[:3], method="reversible_heun", gradient=gradient, dt=0.25, times=ts)
    if problem == "sde":
        function, initial, path = NeuralSDE(state=4, noise=2, width=4), torch.randn(3, 4, requires_grad=True), None
        kwargs = dict(brownian=TabulatedBrownian(torch.randn(8, 3, 2)))
    else:
        data = torch.randn(3, 3, 3).cumsum(1)
        if problem == "cde-linear":
            path = torchcde.LinearInterpolation(torchcde.linear_interpolation_coeffs(data).requires_grad_(True))
        else:
            path = torchcde.CubicSpline(torchcde.natural_cubic_coeffs(data).requires_grad_(True))
        function, initial, kwargs = CDEFunc(hidden=4, channels=3, width=4), torch.randn(3, 4, requires_grad=True), {}
    spec.solve(function, initial, path, **kwargs).sum().backward()  # warm-up: device constants copied once
    reads = _HostReads(monkeypatch)
    spec.solve(function, initial, path, **kwargs).sum().backward()
    assert reads.calls == []
