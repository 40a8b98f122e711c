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
import functools
from typing import Callable, Optional, Protocol, Sequence

import torch
from torch import Tensor, nn

from sdegan.errors import ConfigurationError

Evaluation = tuple[Optional[Tensor], Optional[Tensor]]
Pullback = Callable[[Evaluation], tuple[Optional[Tensor], Sequence[Optional[Tensor]]]]
"""Adjoints of an evaluation ``(f, g)`` (``None``: zero) -> (adjoint of the state, adjoints of the parameters)."""


class HandEvaluator(Protocol):
    """What a vector-field module's ``vjp_evaluator()`` returns: its output without autograd, alone or with a
    hand-written pullback ``adjoint(s) of the output -> (adjoint of the state, adjoints of the module's
    parameters())`` (``None`` adjoints count as zero). An SDE module's output is ``(f, g)`` and its pullback takes
    ``(adjoint_f, adjoint_g)``; a CDE vector field's output is its matrix and its pullback takes its adjoint."""

    def value(self, t: Tensor, y: Tensor) -> object:
        """The module's output at ``(t, y)``."""

    def value_with_vjp(self, t: Tensor, y: Tensor) -> tuple[object, Callable]:
        """The module's output at ``(t, y)`` and its pullback."""


NOISE_TYPES = ("general", "diagonal", "scalar", "additive")
SDE_TYPES = ("stratonovich", "ito")


class ControlledVectorField(abc.ABC):
    """The right-hand side ``f(t, y) dt + g(t, y) dX`` of a differential equation.

    Attributes:
        parameters: the tensors (besides the state and the control) that gradients are computed for.
    """

    parameters: tuple[Tensor, ...]
    _expected: Optional[tuple[Optional[tuple[int, ...]], Optional[tuple[int, ...]]]] = None

    def evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        """Returns ``(f(t, y), g(t, y))``; either may be ``None``. The first evaluation after
        :meth:`expect_shapes` checks the shapes (once per solve). Without autograd (e.g. a reversible forward
        solve), the network's hand-written evaluation is used where its module offers one (see
        :meth:`evaluate_with_vjp`)."""
        if self._hand_evaluator is not None and not torch.is_grad_enabled():
            evaluation = self._hand_evaluate(t, y)
        else:
            evaluation = self._evaluate(t, y)
        if self._expected is not None:
            self._check_shapes(evaluation)
        return evaluation

    @abc.abstractmethod
    def _evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        """The vector field's ``(f, g)`` at ``(t, y)``."""

    def evaluate_with_vjp(self, t: Tensor, y: Tensor) -> tuple[Evaluation, Pullback]:
        """:meth:`evaluate` and its vector-Jacobian product with respect to ``y`` and :attr:`parameters`.

        Uses the network's hand-written pullback where its module offers one (a method ``vjp_evaluator()``
        returning a :class:`HandEvaluator`, or ``None``; asked once per field, i.e. per solve), with no autograd
        graph and the same numbers up to round-off; otherwise records the evaluation with autograd. A module that
        offers one promises that its output depends on ``t``, the state and its own parameters only (tensors
        passed as extra ``adjoint_params`` get no gradient through it), and that its parameters do not change
        during the solve.
        """
        if self._hand_evaluator is not None:
            evaluation, pullback = self._hand_evaluate_with_vjp(t, y)
            if self._expected is not None:
                self._check_shapes(evaluation)
            return evaluation, pullback
        y_leaf = y.detach().requires_grad_(True)
        with torch.enable_grad():
            evaluation = self.evaluate(t, y_leaf)

        def pullback(adjoint: Evaluation) -> tuple[Optional[Tensor], Sequence[Optional[Tensor]]]:
            pairs = [(value, grad) for value, grad in zip(evaluation, adjoint) if value is not None and grad is not None]
            if not pairs:
                return None, (None,) * len(self.parameters)
            outputs, grad_outputs = zip(*pairs)
            grads = torch.autograd.grad(outputs, (y_leaf,) + self.parameters, grad_outputs, allow_unused=True)
            return grads[0], grads[1:]

        return evaluation, pullback

    _hand_evaluator: Optional["HandEvaluator"] = None  # the module's, if it offers one

    def _hand_evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        """The evaluation from :attr:`_hand_evaluator` (in this field's terms)."""
        raise NotImplementedError

    def _hand_evaluate_with_vjp(self, t: Tensor, y: Tensor) -> tuple[Evaluation, Pullback]:
        """The evaluation and pullback from :attr:`_hand_evaluator` (in this field's terms)."""
        raise NotImplementedError

    def expect_shapes(self, f_shape: Optional[tuple[int, ...]], g_shape: Optional[tuple[int, ...]]) -> None:
        """Declares the shapes the next evaluation must give (``None``: that term is absent)."""
        self._expected = (f_shape, g_shape)

    def _check_shapes(self, evaluation: Evaluation) -> None:
        expected, self._expected = self._expected, None
        for name, value, shape in zip(self.term_names, evaluation, expected):
            if shape is not None and (value is None or tuple(value.shape) != shape):
                given = None if value is None else tuple(value.shape)
                raise ConfigurationError(
                    f"{name} must have shape {shape} ({self.shape_meaning}), got {given}."
                )

    term_names: tuple[str, str] = ("f", "g")
    shape_meaning: str = ""

    @abc.abstractmethod
    def add_control_product(
        self, base: Optional[Tensor], g: Tensor, dx: Tensor, scale: float = 1.0, base_scale: float = 1.0
    ) -> Tensor:
        """Returns ``base_scale base + scale g dX`` (``base`` None counts as zero), with the state's shape."""

    @abc.abstractmethod
    def add_control_product_adjoint_g(
        self, base: Optional[Tensor], adjoint: Tensor, dx: Tensor, scale: float = 1.0
    ) -> Tensor:
        """Returns ``base + scale J`` with ``J`` the vector-Jacobian product of ``g dX`` with respect to ``g``
        (``base`` None counts as zero)."""

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

        Formed with fused operations (``add`` with ``alpha``, ``addmm``/``baddbmm``/``addcmul``): this is the
        solvers' inner loop. Without ``base``, ``f h`` is fused into the product (``f`` scaled by its ``beta``).
        """
        f, g = evaluation
        if g is None:
            return _scaled(f, scale * h) if base is None else torch.add(base, f, alpha=scale * h)
        if f is None:
            return self.add_control_product(base, g, dx, scale)
        if base is None:
            return self.add_control_product(f, g, dx, scale, base_scale=scale * h)
        return self.add_control_product(torch.add(base, f, alpha=scale * h), g, dx, scale)

    def increment_adjoint(
        self,
        evaluation: Evaluation,
        adjoint: Tensor,
        h: float,
        dx: Optional[Tensor],
        want_dx: bool,
        base: Evaluation = (None, None),
        scale: float = 1.0,
    ) -> tuple[Evaluation, Optional[Tensor]]:
        """Vector-Jacobian product of ``scale`` times :meth:`increment` (bilinear in the evaluation and the control).

        Returns ``((adjoint_f, adjoint_g), adjoint_dx)``, with ``base``'s adjoints ``(adjoint_f, adjoint_g)`` added
        (fused) and ``None`` for absent terms; ``adjoint_dx`` is only computed when ``want_dx``.
        """
        f, g = evaluation
        base_f, base_g = base
        adjoint_f = adjoint_g = adjoint_dx = None
        if f is not None:
            adjoint_f = _scaled(adjoint, scale * h) if base_f is None else torch.add(base_f, adjoint, alpha=scale * h)
        if g is not None:
            adjoint_g = self.add_control_product_adjoint_g(base_g, adjoint, dx, scale)
            if want_dx:
                adjoint_dx = _scaled(self.control_product_adjoint_dx(adjoint, g), scale)
        return (adjoint_f, adjoint_g), adjoint_dx


def _scaled(tensor: Tensor, factor: float) -> Tensor:
    """``factor * tensor``, without an operation (or a copy) when the factor is one (e.g. steps of size 1)."""
    return tensor if factor == 1.0 else tensor * factor


class _MatrixControlProducts:
    """``base_scale base + scale g dX`` and ``base + scale adjoint dX^T`` for matrix-valued ``g`` of shape
    ``(batch, rows, cols)`` and a control increment ``dX`` of shape ``(batch, cols)``.

    Batched products of tiny matrices (``baddbmm``) are slow on CPU. For small ``g`` (at most
    :attr:`DENSE_MAX_ENTRIES` entries, e.g. the SDE-GAN generator's 16 x 3) both are formed instead with dense
    matrix multiplications by constant 0/1 matrices, about 1.5x faster there and equal up to the order of the
    ``cols`` additions: with ``spread_dx = dX @ spread`` (``dX`` repeated ``rows`` times),
    ``g dX = (g.flatten * spread_dx) @ gather`` and ``adjoint dX^T = (adjoint @ gather^T) * spread_dx``. A
    solver step uses the same ``dX`` several times, so ``spread_dx`` is kept for the last ``dX`` seen and
    reused for the same tensor object at the same version (an in-place change to ``dX`` bumps its version)
    in the same grad mode.
    """

    DENSE_MAX_ENTRIES = 64

    def __init__(self) -> None:
        self._last_spread: Optional[tuple[Tensor, tuple[int, bool], Tensor]] = None  # (dX, its state, spread_dx)

    def add_product(self, base: Optional[Tensor], g: Tensor, dx: Tensor, scale: float, base_scale: float) -> Tensor:
        rows, cols = g.shape[-2:]
        if rows * cols > self.DENSE_MAX_ENTRIES:
            if base is None:
                return _scaled(torch.bmm(g, dx.unsqueeze(-1)).squeeze(-1), scale)
            return torch.baddbmm(base.unsqueeze(-1), g, dx.unsqueeze(-1), beta=base_scale, alpha=scale).squeeze(-1)
        _, gather, _ = _dense_product_matrices(rows, cols, g.dtype, g.device)
        spread_g = g.reshape(g.size(0), rows * cols) * self._spread(dx, rows)
        if base is None:
            return _scaled(spread_g @ gather, scale)
        return torch.addmm(base, spread_g, gather, beta=base_scale, alpha=scale)

    def add_adjoint_g(self, base: Optional[Tensor], adjoint: Tensor, dx: Tensor, scale: float) -> Tensor:
        rows, cols = adjoint.size(-1), dx.size(-1)
        if rows * cols > self.DENSE_MAX_ENTRIES:
            if base is None:
                return _scaled(adjoint, scale).unsqueeze(-1) * dx.unsqueeze(-2)
            return torch.addcmul(base, adjoint.unsqueeze(-1), dx.unsqueeze(-2), value=scale)
        _, _, gather_t = _dense_product_matrices(rows, cols, adjoint.dtype, adjoint.device)
        spread_dx = self._spread(dx, rows)
        if base is None:
            flat = (_scaled(adjoint, scale) @ gather_t).mul_(spread_dx)
        else:
            flat = torch.addcmul(base.reshape(base.size(0), rows * cols), adjoint @ gather_t, spread_dx, value=scale)
        return flat.view(-1, rows, cols)

    def _spread(self, dx: Tensor, rows: int) -> Tensor:
        if dx.is_inference():  # inference tensors have no version counter: nothing is reused
            self._last_spread = None
            return dx @ _dense_product_matrices(rows, dx.size(-1), dx.dtype, dx.device)[0]
        state = (dx._version, torch.is_grad_enabled())
        last = self._last_spread
        if last is not None and last[0] is dx and last[1] == state and last[2].size(-1) == rows * dx.size(-1):
            return last[2]
        spread_dx = dx @ _dense_product_matrices(rows, dx.size(-1), dx.dtype, dx.device)[0]
        self._last_spread = (dx, state, spread_dx)
        return spread_dx


@functools.lru_cache(maxsize=16)
def _dense_product_matrices(
    rows: int, cols: int, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, Tensor, Tensor]:
    """The 0/1 matrices ``spread`` ``(cols, rows * cols)``, ``gather`` ``(rows * cols, rows)`` and ``gather^T``."""
    spread = torch.eye(cols, dtype=dtype, device=device).repeat(1, rows)
    gather = torch.eye(rows, dtype=dtype, device=device).repeat_interleave(cols, 0)
    return spread, gather, gather.t().contiguous()


def _add_diagonal_product(base: Optional[Tensor], g: Tensor, dx: Tensor, scale: float, base_scale: float) -> Tensor:
    if base is None:
        return _scaled(g * dx, scale)
    return torch.addcmul(_scaled(base, base_scale), g, dx, value=scale)


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
            raise ConfigurationError(f"sde.noise_type must be one of {NOISE_TYPES}, got {noise_type!r}.")
        sde_type = getattr(sde, "sde_type", None)
        if sde_type not in SDE_TYPES:
            raise ConfigurationError(f"sde.sde_type must be one of {SDE_TYPES}, got {sde_type!r}.")
        if not (hasattr(sde, "f_and_g") or (hasattr(sde, "f") and hasattr(sde, "g"))):
            raise ConfigurationError("The SDE module must define f and g, or f_and_g.")
        self.sde = sde
        self.noise_type = noise_type
        self.sde_type = sde_type
        self.parameters = _trainable(sde, extra_parameters)
        self._hand_evaluator, self._extra_count = _hand_evaluator(sde, self.parameters)
        self._matrix_products = _MatrixControlProducts()
        self.shape_meaning = f"{noise_type} noise: " + {
            "general": "f (batch, state), g (batch, state, brownian)",
            "additive": "f (batch, state), g (batch, state, brownian)",
            "scalar": "f (batch, state), g (batch, state, 1)",
            "diagonal": "f (batch, state), g (batch, state)",
        }[noise_type]

    def expect_state(self, y0: Tensor, brownian_size: int) -> None:
        """Declares the shapes of the first ``(f, g)`` for this solve from ``y0`` ``(batch, state)``."""
        batch, state = y0.shape
        g_shape = (batch, state) if self.noise_type == "diagonal" else (batch, state, brownian_size)
        self.expect_shapes((batch, state), g_shape)

    def _evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        if hasattr(self.sde, "f_and_g"):
            f, g = self.sde.f_and_g(t, y)
        else:
            f, g = self.sde.f(t, y), self.sde.g(t, y)
        return f, g

    def _hand_evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        return self._hand_evaluator.value(t, y)

    def _hand_evaluate_with_vjp(self, t: Tensor, y: Tensor) -> tuple[Evaluation, Pullback]:
        evaluation, pullback = self._hand_evaluator.value_with_vjp(t, y)
        extra = (None,) * self._extra_count

        def field_pullback(adjoint: Evaluation) -> tuple[Optional[Tensor], Sequence[Optional[Tensor]]]:
            adjoint_y, grads = pullback(*adjoint)
            return adjoint_y, (*grads, *extra)

        return evaluation, field_pullback

    def add_control_product(
        self, base: Optional[Tensor], g: Tensor, dx: Tensor, scale: float = 1.0, base_scale: float = 1.0
    ) -> Tensor:
        if self.noise_type == "diagonal":
            return _add_diagonal_product(base, g, dx, scale, base_scale)
        return self._matrix_products.add_product(base, g, dx, scale, base_scale)

    def add_control_product_adjoint_g(
        self, base: Optional[Tensor], adjoint: Tensor, dx: Tensor, scale: float = 1.0
    ) -> Tensor:
        if self.noise_type == "diagonal":
            return _add_diagonal_product(base, adjoint, dx, scale, 1.0)
        return self._matrix_products.add_adjoint_g(base, adjoint, dx, scale)

    def control_product_adjoint_dx(self, adjoint: Tensor, g: Tensor) -> Tensor:
        if self.noise_type == "diagonal":
            return adjoint * g
        return _matrix_product_adjoint_dx(adjoint, g)


class CDEVectorField(ControlledVectorField):
    """A neural CDE vector field ``func(t, z) -> (batch, hidden, channels)``, driven by a path: ``dz = func dX``."""

    def __init__(self, func: nn.Module, extra_parameters: Sequence[Tensor] = (),
                 path_gradient_rows: Optional[int] = None):
        self.func = func
        self.parameters = _trainable(func, extra_parameters)
        self._hand_evaluator, self._extra_count = _hand_evaluator(func, self.parameters)
        self._matrix_products = _MatrixControlProducts()
        self.path_gradient_rows = path_gradient_rows

    path_gradient_rows: Optional[int]
    """The number of leading paths of the batch whose control gradients are wanted (``None``: all): the
    vector-Jacobian products with respect to the control (:meth:`control_product_adjoint_dx`) are formed for
    those rows only, shape ``(rows, channels)``."""

    term_names = ("f", "func(t, z)")
    shape_meaning = "batch, hidden, path channels"

    def expect_state(self, z0: Tensor, channels: int) -> None:
        """Declares the shape of the first ``func(t, z)`` for this solve from ``z0`` ``(batch, hidden)``."""
        self.expect_shapes(None, (*z0.shape, channels))

    def _evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        return None, self.func(t, y)

    def _hand_evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        return None, self._hand_evaluator.value(t, y)

    def _hand_evaluate_with_vjp(self, t: Tensor, y: Tensor) -> tuple[Evaluation, Pullback]:
        value, pullback = self._hand_evaluator.value_with_vjp(t, y)
        extra = (None,) * self._extra_count

        def field_pullback(adjoint: Evaluation) -> tuple[Optional[Tensor], Sequence[Optional[Tensor]]]:
            if adjoint[1] is None:
                return None, (None,) * len(self.parameters)
            adjoint_y, grads = pullback(adjoint[1])
            return adjoint_y, (*grads, *extra)

        return (None, value), field_pullback

    def add_control_product(
        self, base: Optional[Tensor], g: Tensor, dx: Tensor, scale: float = 1.0, base_scale: float = 1.0
    ) -> Tensor:
        return self._matrix_products.add_product(base, g, dx, scale, base_scale)

    def add_control_product_adjoint_g(
        self, base: Optional[Tensor], adjoint: Tensor, dx: Tensor, scale: float = 1.0
    ) -> Tensor:
        return self._matrix_products.add_adjoint_g(base, adjoint, dx, scale)

    def control_product_adjoint_dx(self, adjoint: Tensor, g: Tensor) -> Tensor:
        rows = self.path_gradient_rows
        if rows is not None:
            adjoint, g = adjoint[:rows], g[:rows]
        return _matrix_product_adjoint_dx(adjoint, g)


class ODEVectorField(ControlledVectorField):
    """An ODE ``dy/dt = func(t, y)`` (no control)."""

    def __init__(self, func: nn.Module, extra_parameters: Sequence[Tensor] = ()):
        self.func = func
        self.parameters = _trainable(func, extra_parameters)

    term_names = ("func(t, y)", "g")
    shape_meaning = "the shape of y0"

    def expect_state(self, y0: Tensor) -> None:
        """Declares the shape of the first ``func(t, y)`` for this solve: that of ``y0``."""
        self.expect_shapes(tuple(y0.shape), None)

    def _evaluate(self, t: Tensor, y: Tensor) -> Evaluation:
        return self.func(t, y), None

    def add_control_product(
        self, base: Optional[Tensor], g: Tensor, dx: Tensor, scale: float = 1.0, base_scale: float = 1.0
    ) -> Tensor:
        raise TypeError("An ODE has no control.")

    def add_control_product_adjoint_g(
        self, base: Optional[Tensor], adjoint: Tensor, dx: Tensor, scale: float = 1.0
    ) -> Tensor:
        raise TypeError("An ODE has no control.")

    def control_product_adjoint_dx(self, adjoint: Tensor, g: Tensor) -> Tensor:
        raise TypeError("An ODE has no control.")


def _hand_evaluator(module: object, parameters: tuple[Tensor, ...]) -> tuple[Optional[HandEvaluator], int]:
    """The module's hand-written :class:`HandEvaluator` (``module.vjp_evaluator()``) where it offers one
    and its parameters, all trainable, come first in ``parameters``; with the number of extra tensors after them."""
    offer = getattr(module, "vjp_evaluator", None)
    if offer is None or not isinstance(module, nn.Module):
        return None, 0
    own = list(module.parameters())
    if len(own) > len(parameters) or any(p is not q for p, q in zip(own, parameters)):  # a frozen parameter
        return None, 0
    return offer(), len(parameters) - len(own)


def _trainable(module: nn.Module, extra_parameters: Sequence[Tensor]) -> tuple[Tensor, ...]:
    params = [p for p in module.parameters() if p.requires_grad] if isinstance(module, nn.Module) else []
    seen = {id(p) for p in params}
    params += [p for p in extra_parameters if id(p) not in seen]
    return tuple(params)
