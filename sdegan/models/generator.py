"""The SDE-GAN generator: a Stratonovich neural SDE with general noise and a linear readout."""

from __future__ import annotations


from typing import Optional

import torch
from torch import nn

from sdegan.models.mlp_vjp import TimeStateNetworks, supports_hand_vjp, time_state
from sdegan.models.solve_options import SolveOptions, solve
from sdegan.nn import MLP
from sdegan.paths import read_at_positions, union_of_times

__all__ = ["Generator", "GeneratorEvaluator", "GeneratorVectorField", "solve_paths"]


class GeneratorVectorField(nn.Module):
    """Drift ``mu(t, x)`` and diffusion ``sigma(t, x)`` (a ``hidden x noise`` matrix), both tanh-bounded.

    A torchsde-style SDE: ``sde_type = "stratonovich"``, ``noise_type = "general"``.
    """

    sde_type = "stratonovich"
    noise_type = "general"

    def __init__(self, hidden_size: int, noise_size: int, width: int, depth: int, activation: str):
        super().__init__()
        self.hidden_size = hidden_size
        self.brownian_size = noise_size
        self.drift = MLP(1 + hidden_size, hidden_size, width, depth, activation, final_tanh=True)
        self.diffusion = MLP(
            1 + hidden_size, hidden_size * noise_size, width, depth, activation, final_tanh=True
        )

    def f(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.drift(time_state(t, x))

    def g(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = self.diffusion(time_state(t, x))
        return out.view(x.size(0), self.hidden_size, self.brownian_size)

    def f_and_g(self, t: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tx = time_state(t, x)
        diffusion = self.diffusion(tx).view(x.size(0), self.hidden_size, self.brownian_size)
        return self.drift(tx), diffusion

    def vjp_evaluator(self) -> Optional["GeneratorEvaluator"]:
        """:meth:`f_and_g` without autograd and with its hand-written pullback (a
        :class:`sdegan.solvers.vector_fields.HandEvaluator`); ``None`` when the networks are not ones
        :func:`sdegan.models.mlp_vjp.supports_hand_vjp` handles (then use autograd). Asked once per solve."""
        if not (supports_hand_vjp(self.drift) and supports_hand_vjp(self.diffusion)):
            return None
        return GeneratorEvaluator(self)


class GeneratorEvaluator:
    """``(f, g)`` of a :class:`GeneratorVectorField` through :class:`TimeStateNetworks` (drift and diffusion
    sharing their first matrix product), prepared when built, i.e. once per solve."""

    def __init__(self, field: GeneratorVectorField):
        self.field = field
        self.networks = TimeStateNetworks([field.drift, field.diffusion])

    def _as_f_and_g(self, outputs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        drift, diffusion = outputs
        return drift, diffusion.view(drift.size(0), self.field.hidden_size, self.field.brownian_size)

    def value(self, t: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f, g)`` at ``(t, x)``."""
        return self._as_f_and_g(self.networks.value(t, x))

    def value_with_vjp(self, t: torch.Tensor, x: torch.Tensor):
        """``(f, g)`` and the pullback ``(adjoint f, adjoint g) -> (adjoint x, adjoints of the field's
        parameters)``."""
        outputs, pullback = self.networks.value_with_vjp(t, x)

        def f_and_g_pullback(adjoint_f: Optional[torch.Tensor], adjoint_g: Optional[torch.Tensor]):
            flat_g = None if adjoint_g is None else adjoint_g.reshape(adjoint_g.size(0), -1)
            return pullback((adjoint_f, flat_g))

        return self._as_f_and_g(outputs), f_and_g_pullback


class Generator(nn.Module):
    """Neural SDE generator of paths in the path format.

    ``x_0 = MLP(V)`` with ``V ~ N(0, I_initial_noise_size)``; ``dx = mu(t, x) dt + sigma(t, x) o dW``
    (Stratonovich, general noise, ``W`` of size ``noise_size``); ``Y_t = readout(x_t)``.

    Arguments:
        data_channels: value channels of the generated paths (time excluded).
        initial_noise_size, noise_size, hidden_size: sizes of ``V``, ``W`` and ``x``.
        width, depth: MLP hidden width and number of hidden layers.
        activation: MLP activation name (``lipswish`` for the clipped recipe).
        initial_scale, vector_field_scale: the recipe's initialisation scaling (parameters of the
            initial MLP multiplied by ``initial_scale``, of drift/diffusion by ``vector_field_scale``).
    """

    def __init__(
        self,
        data_channels: int,
        initial_noise_size: int = 5,
        noise_size: int = 3,
        hidden_size: int = 16,
        width: int = 16,
        depth: int = 1,
        activation: str = "lipswish",
        initial_scale: float = 3.0,
        vector_field_scale: float = 0.5,
    ) -> None:
        super().__init__()
        self.initial_noise_size = initial_noise_size
        self.initial = MLP(initial_noise_size, hidden_size, width, depth, activation)
        self.vector_field = GeneratorVectorField(hidden_size, noise_size, width, depth, activation)
        self.readout = nn.Linear(hidden_size, data_channels)
        with torch.no_grad():
            for parameter in self.initial.parameters():
                parameter.mul_(initial_scale)
            for parameter in self.vector_field.parameters():
                parameter.mul_(vector_field_scale)

    def forward(
        self, times: torch.Tensor, num_samples: int, solve_options: SolveOptions
    ) -> torch.Tensor:
        """Sample ``num_samples`` paths observed at ``times``; returns ``(num_samples, length, 1 + C)``.

        ``times`` is ``(length,)``, shared by every path, or ``(num_samples, length)``, each path's own
        observation times; channel 0 of the result is ``times``. Paths with different times are solved
        together on the union of their times (:func:`sdegan.paths.union_of_times`, steps of at most ``dt``)
        and each is read at its own. ``solve_options``: the run's SDE spec (or a solve-options dict).
        """
        noise = torch.randn(
            num_samples, self.initial_noise_size, device=times.device, dtype=times.dtype
        )
        return solve_paths(self.vector_field, self.readout, self.initial(noise), times, solve_options)


def solve_paths(
    vector_field: nn.Module, readout: nn.Module, x0: torch.Tensor, times: torch.Tensor, solve_options: SolveOptions
) -> torch.Tensor:
    """Paths ``(len(x0), length, 1 + C)`` of the SDE from ``x0``, read out at ``times`` (time as channel 0).

    ``times`` is ``(length,)`` or ``(len(x0), length)``; per-path times are solved together on their union.
    """
    solve_times, positions = union_of_times(times)
    xs = solve(solve_options, "sde", vector_field, x0, solve_times, per_path_times=times.ndim == 2)
    values = read_at_positions(readout(xs), positions)
    time_channel = times.view(-1, times.size(-1), 1).expand(x0.shape[0], -1, 1)
    return torch.cat([time_channel, values], dim=-1)
