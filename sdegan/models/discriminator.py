"""The SDE-GAN discriminator: a neural CDE driven by the (time-augmented) path."""

from __future__ import annotations


from typing import Optional

import torch
import torchcde
from torch import nn

from sdegan.errors import ConfigurationError
from sdegan.models.mlp_vjp import (
    TimeStateNetworks, hooks_allow_hand_path, run_forward_hooks, supports_hand_vjp, time_state,
)
from sdegan.models.solve_options import SolveOptions, solve
from sdegan.paths import check_paths, fill_missing
from sdegan.nn import MLP

__all__ = ["Discriminator", "DiscriminatorVectorField"]


def index_step(times: torch.Tensor, dt: float | None) -> float | None:
    """The discriminator's CDE step in the path's parameter units (observation index), from a step ``dt``
    in time units: ``1 / k`` where ``k = round(mean time spacing / dt)`` (at least 1), so that the step
    divides every observation interval and a step never skips an observation. ``None`` stays ``None``.
    """
    if dt is None or len(times) < 2:
        return dt
    spacing = float((times[-1] - times[0]) / (len(times) - 1))
    return 1.0 / max(1, round(spacing / dt))


class DiscriminatorVectorField(nn.Module):
    """``(t, h) -> (batch, hidden, 1 + channels)`` matrix, tanh-bounded: the CDE's vector field."""

    def __init__(self, hidden_size: int, path_channels: int, width: int, depth: int, activation: str):
        super().__init__()
        self.hidden_size = hidden_size
        self.path_channels = path_channels
        self.net = MLP(
            1 + hidden_size, hidden_size * path_channels, width, depth, activation, final_tanh=True
        )

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        out = self.net(time_state(t, h))
        return out.view(h.size(0), self.hidden_size, self.path_channels)

    def vjp_evaluator(self) -> Optional["DiscriminatorFieldEvaluator"]:
        """:meth:`forward` without autograd and with its hand-written pullback (a
        :class:`sdegan.solvers.vector_fields.HandEvaluator`); ``None`` when the network is not one
        :func:`sdegan.models.mlp_vjp.supports_hand_vjp` handles (then use autograd). Asked once per solve."""
        if not (supports_hand_vjp(self.net) and hooks_allow_hand_path(self)):
            return None
        return DiscriminatorFieldEvaluator(self)


class DiscriminatorFieldEvaluator:
    """A :class:`DiscriminatorVectorField` through :class:`TimeStateNetworks`, prepared when built, i.e. once per
    solve; runs the field's own forward hooks as ``field(t, h)`` would (e.g. evaluation counters)."""

    def __init__(self, field: DiscriminatorVectorField):
        self.field = field
        self.networks = TimeStateNetworks([field.net])

    def _as_matrix(self, t: torch.Tensor, h: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        value = output.view(h.size(0), self.field.hidden_size, self.field.path_channels)
        run_forward_hooks(self.field, lambda: (t, h), value)
        return value

    def value(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The field's ``(batch, hidden, channels)`` matrix at ``(t, h)``."""
        return self._as_matrix(t, h, self.networks.value(t, h)[0])

    def value_with_vjp(self, t: torch.Tensor, h: torch.Tensor):
        """The matrix and the pullback ``its adjoint -> (adjoint of h, adjoints of the field's parameters)``."""
        (output,), pullback = self.networks.value_with_vjp(t, h)

        def matrix_pullback(adjoint: torch.Tensor):
            return pullback((adjoint.reshape(adjoint.size(0), -1),))

        return self._as_matrix(t, h, output), matrix_pullback


class Discriminator(nn.Module):
    """Neural CDE critic: ``h_0 = MLP(Y_0)``, ``dh = f(t, h) dY``, score ``= linear(h_T)``.

    ``Y`` is the linear interpolation of the path (time included as channel 0, so the ``dt`` term of
    the recipe is the time channel's column of ``f``), parameterised by observation index.
    Missing values (NaN) are filled by linear interpolation in time before the solve.

    Arguments:
        data_channels: value channels of the paths (time excluded).
        hidden_size, width, depth, activation: CDE state size and MLP shape.
    """

    def __init__(
        self,
        data_channels: int,
        hidden_size: int = 16,
        width: int = 16,
        depth: int = 1,
        activation: str = "lipswish",
    ) -> None:
        super().__init__()
        self.data_channels = data_channels
        path_channels = 1 + data_channels
        self.initial = MLP(path_channels, hidden_size, width, depth, activation)
        self.vector_field = DiscriminatorVectorField(
            hidden_size, path_channels, width, depth, activation
        )
        self.readout = nn.Linear(hidden_size, 1)

    def coefficients(self, paths: torch.Tensor) -> torch.Tensor:
        """Linear-interpolation coefficients of ``paths`` (NaNs filled), the input of :meth:`score`."""
        check_paths(paths, channels=self.data_channels)
        return fill_missing(paths)

    def score(self, coefficients: torch.Tensor, solve_options: SolveOptions,
              path_gradient_rows: Optional[int] = None) -> torch.Tensor:
        """Per-path score ``(batch,)`` from interpolation coefficients (differentiable in them).

        ``solve_options``: the run's CDE spec for the index interval (or a solve-options dict).
        ``path_gradient_rows``: only the first that many paths need gradients with respect to their coefficients
        (the others must not require them; :meth:`sdegan.solvers.SolveSpec.solve`); ``None``: all."""
        path = torchcde.LinearInterpolation(coefficients)
        h0 = self.initial(coefficients[:, 0])
        ts = path.interval.to(coefficients.dtype)
        hs = solve(solve_options, "cde", self.vector_field, h0, ts, path=path, path_coefficients=coefficients,
                   path_gradient_rows=path_gradient_rows)
        return self.readout(hs[-1]).squeeze(-1)

    def forward(self, paths: torch.Tensor, solve_options: SolveOptions) -> torch.Tensor:
        """Per-path score ``(batch,)`` of paths in the path format (NaN allowed)."""
        return self.score(self.coefficients(paths), solve_options)

    def mean_score_difference(
        self, fake_coefficients: torch.Tensor, real_coefficients: torch.Tensor, solve_options: SolveOptions
    ) -> torch.Tensor:
        """``mean score(fake) - mean score(real)`` from ONE solve of the two batches concatenated (half the
        solver steps and operator launches of two solves; every path's score is the same as alone, up to the
        round-off of batched products of another batch size). When the real coefficients do not require
        gradients, the path gradients are formed for the generated rows only."""
        if fake_coefficients.shape[1:] != real_coefficients.shape[1:]:
            raise ConfigurationError(
                f"generated and real paths must have the same length and channels to be scored together, got "
                f"{tuple(fake_coefficients.shape)} and {tuple(real_coefficients.shape)}"
            )
        # Paths that are data need no path gradient: the reversible backward forms the generated paths' only.
        gradient_rows = None if real_coefficients.requires_grad else fake_coefficients.size(0)
        scores = self.score(torch.cat([fake_coefficients, real_coefficients]), solve_options, gradient_rows)
        fake_scores, real_scores = scores.split([fake_coefficients.size(0), real_coefficients.size(0)])
        return fake_scores.mean() - real_scores.mean()

    def wasserstein(self, fake: torch.Tensor, real: torch.Tensor, solve_options: SolveOptions) -> torch.Tensor:
        """The Wasserstein estimate ``mean D(fake) - mean D(real)`` of paths in the path format, in one solve
        (see :meth:`mean_score_difference`)."""
        return self.mean_score_difference(self.coefficients(fake), self.coefficients(real), solve_options)
