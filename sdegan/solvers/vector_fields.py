"""Controlled vector fields: one representation for ODEs, CDEs and SDEs.

Every equation the solvers handle is written as

    dy = f(t, y) dt + g(t, y) dX

where ``f`` is a drift (``None`` for CDEs), ``g`` a matrix-valued vector field (``None`` for ODEs) and ``X`` a
control: a Brownian motion for SDEs (Stratonovich sense), a data path for CDEs. A solver only ever asks for an
*evaluation* ``(f, g)`` at a point and for the *increment* ``f h + g dX`` it gives over a step, so all solvers
and their hand-written backward passes are shared between the three kinds of equation.
"""

from __future__ import annotations

import abc
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

Evaluation = tuple[Optional[Tensor], Optional[Tensor]]

NOISE_TYPES = ("general", "diagonal", "scalar", "additive")
SDE_TYPES = ("stratonovich", "ito")


class ControlledVectorField(abc.ABC):
    """The right-hand side ``f(t, y) dt + g(t, y) dX`` of a differential equation.

    Attributes:
        parameters: the tensors (besides the state and the control) that gradients are computed for.
    """

    parameters: tuple[Tensor, ...]

    @abc.abstractmethod
    def evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        """Returns ``(f(t, y), g(t, y))``; either may be ``None``."""

    @abc.abstractmethod
    def add_control_product(self, base: Optional[Tensor], g: Tensor, dx: Tensor, scale: float = 1.0) -> Tensor:
        """Returns ``base + scale g dX`` (``base`` None counts as zero), with the state's shape."""

    @abc.abstractmethod
    def control_product_adjoint_g(self, adjoint: Tensor, dx: Tensor) -> Tensor:
        """The vector-Jacobian product of ``g dX`` with respect to ``g``."""

    @abc.abstractmethod
    def control_product_adjoint_dx(self, adjoint: Tensor, g: Tensor) -> Tensor:
        """The vector-Jacobian product of ``g dX`` with respect to ``dX``."""

    def increment(
        self,
        evaluation: Evaluation,
        h: float,
        dx: Optional[Tensor],
        base: Optional[Tensor] = None,
        scale: float = 1.0,
    ) -> Tensor:
        """Returns ``base + scale (f h + g dX)`` for an evaluation ``(f, g)`` (missing terms count as zero).

        Formed with fused operations (``add`` with ``alpha``, ``baddbmm``/``addcmul``): this is the solvers'
        inner loop.
        """
        f, g = evaluation
        out = base
        if f is not None:
            out = f * (scale * h) if out is None else torch.add(out, f, alpha=scale * h)
        if g is not None:
            out = self.add_control_product(out, g, dx, scale)
        return out

    def increment_adjoint(
        self, evaluation: Evaluation, adjoint: Tensor, h: float, dx: Optional[Tensor], want_dx: bool
    ) -> tuple[Evaluation, Optional[Tensor]]:
        """Vector-Jacobian product of :meth:`increment` (it is bilinear in the evaluation and the control).

        Returns ``((adjoint_f, adjoint_g), adjoint_dx)`` with ``None`` for absent terms; ``adjoint_dx`` is
        only computed when ``want_dx``.
        """
        f, g = evaluation
        adjoint_f = adjoint * h if f is not None else None
        adjoint_g = adjoint_dx = None
        if g is not None:
            adjoint_g = self.control_product_adjoint_g(adjoint, dx)
            if want_dx:
                adjoint_dx = self.control_product_adjoint_dx(adjoint, g)
        return (adjoint_f, adjoint_g), adjoint_dx


def _add_matrix_product(base: Optional[Tensor], g: Tensor, dx: Tensor, scale: float) -> Tensor:
    if base is None:
        product = torch.bmm(g, dx.unsqueeze(-1)).squeeze(-1)
        return product if scale == 1.0 else product * scale
    return torch.baddbmm(base.unsqueeze(-1), g, dx.unsqueeze(-1), alpha=scale).squeeze(-1)


def _matrix_product_adjoint_g(adjoint: Tensor, dx: Tensor) -> Tensor:
    return adjoint.unsqueeze(-1) * dx.unsqueeze(-2)


def _matrix_product_adjoint_dx(adjoint: Tensor, g: Tensor) -> Tensor:
    return torch.bmm(adjoint.unsqueeze(-2), g).squeeze(-2)


class SDEVectorField(ControlledVectorField):
    """A torchsde-style SDE module seen as a controlled vector field driven by Brownian motion.

    The module provides ``f(t, y)`` and ``g(t, y)`` (or ``f_and_g``), and the attributes ``noise_type`` and
    ``sde_type``. ``g`` has shape ``(batch, state, brownian)`` for general/additive noise, ``(batch, state, 1)``
    for scalar noise and ``(batch, state)`` for diagonal noise, as in torchsde.
    """

    def __init__(self, sde: nn.Module, extra_parameters: Sequence[Tensor] = ()):
        noise_type = getattr(sde, "noise_type", None)
        if noise_type not in NOISE_TYPES:
            raise ValueError(f"sde.noise_type must be one of {NOISE_TYPES}, got {noise_type!r}.")
        sde_type = getattr(sde, "sde_type", None)
        if sde_type not in SDE_TYPES:
            raise ValueError(f"sde.sde_type must be one of {SDE_TYPES}, got {sde_type!r}.")
        if not (hasattr(sde, "f_and_g") or (hasattr(sde, "f") and hasattr(sde, "g"))):
            raise ValueError("The SDE module must define f and g, or f_and_g.")
        self.sde = sde
        self.noise_type = noise_type
        self.sde_type = sde_type
        self.parameters = _trainable(sde, extra_parameters)

    def evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        if hasattr(self.sde, "f_and_g"):
            f, g = self.sde.f_and_g(t, y)
        else:
            f, g = self.sde.f(t, y), self.sde.g(t, y)
        return f, g

    def add_control_product(self, base: Optional[Tensor], g: Tensor, dx: Tensor, scale: float = 1.0) -> Tensor:
        if self.noise_type == "diagonal":
            return g * dx * scale if base is None else torch.addcmul(base, g, dx, value=scale)
        return _add_matrix_product(base, g, dx, scale)

    def control_product_adjoint_g(self, adjoint: Tensor, dx: Tensor) -> Tensor:
        if self.noise_type == "diagonal":
            return adjoint * dx
        return _matrix_product_adjoint_g(adjoint, dx)

    def control_product_adjoint_dx(self, adjoint: Tensor, g: Tensor) -> Tensor:
        if self.noise_type == "diagonal":
            return adjoint * g
        return _matrix_product_adjoint_dx(adjoint, g)


class CDEVectorField(ControlledVectorField):
    """A neural CDE vector field ``func(t, z) -> (batch, hidden, channels)``, driven by a path: ``dz = func dX``."""

    def __init__(self, func: nn.Module, extra_parameters: Sequence[Tensor] = ()):
        self.func = func
        self.parameters = _trainable(func, extra_parameters)

    def evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        return None, self.func(t, y)

    def add_control_product(self, base: Optional[Tensor], g: Tensor, dx: Tensor, scale: float = 1.0) -> Tensor:
        return _add_matrix_product(base, g, dx, scale)

    def control_product_adjoint_g(self, adjoint: Tensor, dx: Tensor) -> Tensor:
        return _matrix_product_adjoint_g(adjoint, dx)

    def control_product_adjoint_dx(self, adjoint: Tensor, g: Tensor) -> Tensor:
        return _matrix_product_adjoint_dx(adjoint, g)


class ODEVectorField(ControlledVectorField):
    """An ODE ``dy/dt = func(t, y)`` (no control)."""

    def __init__(self, func: nn.Module, extra_parameters: Sequence[Tensor] = ()):
        self.func = func
        self.parameters = _trainable(func, extra_parameters)

    def evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        return self.func(t, y), None

    def add_control_product(self, base: Optional[Tensor], g: Tensor, dx: Tensor, scale: float = 1.0) -> Tensor:
        raise TypeError("An ODE has no control.")

    def control_product_adjoint_g(self, adjoint: Tensor, dx: Tensor) -> Tensor:
        raise TypeError("An ODE has no control.")

    def control_product_adjoint_dx(self, adjoint: Tensor, g: Tensor) -> Tensor:
        raise TypeError("An ODE has no control.")


def _trainable(module: nn.Module, extra_parameters: Sequence[Tensor]) -> tuple[Tensor, ...]:
    params = [p for p in module.parameters() if p.requires_grad] if isinstance(module, nn.Module) else []
    seen = {id(p) for p in params}
    params += [p for p in extra_parameters if id(p) not in seen]
    return tuple(params)
