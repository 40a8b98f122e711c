"""Norms for the step-size control of torchdiffeq's continuous adjoint (ODE and CDE solves).

torchdiffeq integrates the adjoint backwards as the tuple ``(vjp_t, y, a_y, *a_params)``, for a forward state
``y`` that is one tensor: ``vjp_t`` and ``a_params`` accumulate the time and parameter gradients, and nothing in
the backward dynamics reads them; only ``y`` (re-solved backwards) and ``a_y`` feed the vector field. So a
step-size control that measures ``y`` and ``a_y`` alone is a seminorm over the state that still controls the
error of every accumulated quantity (Kidger, Chen, Lyons 2021, "Hey, that's not an ODE").

- ``"default"``: torchdiffeq's default, ``max(|vjp_t|, rms y, rms a_y, rms of each a_param)``.
- ``"seminorm"``: ours, ``max(rms y, rms a_y)`` (:func:`adjoint_seminorm`).
- ``"torchdiffeq_seminorm"``: torchdiffeq's ``"seminorm"``, ``max(|vjp_t|, rms y, rms a_y)``; it still
  measures ``vjp_t``, which torchdiffeq accumulates whenever the vector field depends on ``t`` (even when
  ``t`` needs no gradient; a CDE's field always does, through ``dX/dt``), so there it saves little. Kept for
  comparison.
"""

from __future__ import annotations

from typing import Callable, Union

from torch import Tensor

from sdegan.errors import ConfigurationError

NORMS = ("default", "seminorm", "torchdiffeq_seminorm")

AdjointNorm = Callable[[tuple[Tensor, ...]], Tensor]


def _rms(tensor: Tensor) -> Tensor:
    return tensor.pow(2).mean().sqrt()


def adjoint_seminorm(augmented_state: tuple[Tensor, ...]) -> Tensor:
    """``max(rms y, rms a_y)`` of torchdiffeq's adjoint state ``(vjp_t, y, a_y, *a_params)`` (a one-tensor ``y``),
    ignoring the accumulators ``vjp_t`` and ``a_params``."""
    _, y, adjoint_y, *_ = augmented_state
    return _rms(y).maximum(_rms(adjoint_y))


def check_norm(norm: str, gradient: str) -> None:
    """Refuses an unknown norm, and a norm other than the default without ``gradient="adjoint"``."""
    if norm not in NORMS:
        raise ConfigurationError(f"norm must be one of {NORMS}, got {norm!r}.")
    if norm != "default" and gradient != "adjoint":
        raise ConfigurationError(f"norm={norm!r} controls the adjoint's step size: use it with gradient='adjoint'.")


def adjoint_norm_options(norm: str) -> dict[str, Union[str, AdjointNorm]]:
    """The entries of torchdiffeq's ``adjoint_options`` that select a norm :func:`check_norm` accepted (none for
    the default)."""
    if norm == "default":
        return {}
    return {"norm": adjoint_seminorm if norm == "seminorm" else "seminorm"}
