"""Reversible Heun (Kidger, Foster, Li, Lyons 2021): one vector-field evaluation per step, algebraically
reversible, converging to the Stratonovich solution.

State ``(y, z, f(t, z), g(t, z))``; with ``inc(f, g) = f h + g dX``:

    z_{n+1} = 2 y_n - z_n + inc(f_n, g_n)
    y_{n+1} = y_n + inc(f_n + f_{n+1}, g_n + g_{n+1}) / 2,   (f_{n+1}, g_{n+1}) at (t_{n+1}, z_{n+1})

The backward pass evaluates the vector field once per step, at the reconstructed ``z_n``, with autograd
on; that single evaluation both reconstructs ``y_n`` and, one step later, gives the vector-Jacobian
product. So a backward step costs one evaluation and one VJP.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from sdegan.solvers.base import BackwardCarry, ReversibleSolver, State, zero_parameter_gradients
from sdegan.solvers.vector_fields import Evaluation


def _add(a: Optional[Tensor], b: Optional[Tensor]) -> Optional[Tensor]:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _add_evaluations(a: Evaluation, b: Evaluation) -> Evaluation:
    return _add(a[0], b[0]), _add(a[1], b[1])


def _detach(evaluation: Evaluation) -> Evaluation:
    return tuple(None if e is None else e.detach() for e in evaluation)


class ReversibleHeun(ReversibleSolver):
    """Reversible Heun: ODE order 2, strong order 0.5 (1.0 with additive noise), Stratonovich."""

    name = "reversible_heun"
    ode_order = 2
    strong_order = 0.5
    strong_order_additive = 1.0

    def initial_state(self, t0: Tensor, y0: Tensor) -> State:
        return y0, y0, self.vector_field.evaluate(t0, y0)

    def step(self, t0: Tensor, t1: Tensor, h: float, state: State, dx: Optional[Tensor]) -> State:
        field = self.vector_field
        y0, z0, evaluation0 = state
        z1 = field.increment(evaluation0, h, dx, base=2 * y0 - z0)
        evaluation1 = field.evaluate(t1, z1)
        y1 = field.increment(_add_evaluations(evaluation0, evaluation1), h, dx, base=y0, scale=0.5)
        return y1, z1, evaluation1

    def terminal_state(self, state: State) -> tuple[Tensor, ...]:
        y, z, _ = state
        return y, z

    def _live_evaluation(self, t: Tensor, z: Tensor) -> tuple[Tensor, Evaluation]:
        z_leaf = z.detach().requires_grad_(True)
        with torch.enable_grad():
            evaluation = self.vector_field.evaluate(t, z_leaf)
        return z_leaf, evaluation

    def backward_start(self, t: Tensor, saved: tuple[Tensor, ...], adjoint_y: Tensor) -> BackwardCarry:
        y, z = saved
        z_leaf, evaluation = self._live_evaluation(t, z)
        return BackwardCarry(
            state=(y, z),
            adjoint_y=adjoint_y,
            adjoint_params=zero_parameter_gradients(self.vector_field.parameters),
            extras=dict(
                z_leaf=z_leaf,
                evaluation=evaluation,
                adjoint_z=torch.zeros_like(adjoint_y),
                adjoint_evaluation=(None, None),
            ),
        )

    def _pull_back_evaluation(self, carry: BackwardCarry) -> None:
        """VJP of the live evaluation: adds its contribution to the adjoints of z and of the parameters."""
        extras = carry.extras
        outputs, grad_outputs = [], []
        for value, adjoint in zip(extras["evaluation"], extras["adjoint_evaluation"]):
            if value is not None and adjoint is not None:
                outputs.append(value)
                grad_outputs.append(adjoint)
        inputs = (extras["z_leaf"],) + self.vector_field.parameters
        grads = torch.autograd.grad(outputs, inputs, grad_outputs, allow_unused=True)
        if grads[0] is not None:
            extras["adjoint_z"] = extras["adjoint_z"] + grads[0]
        carry.add_parameter_gradients(grads[1:])

    def backward_step(
        self, t0: Tensor, t1: Tensor, h: float, carry: BackwardCarry, dx: Optional[Tensor], want_dx: bool
    ) -> tuple[BackwardCarry, Optional[Tensor]]:
        field = self.vector_field
        extras = carry.extras
        y1, z1 = carry.state
        adjoint_y1 = carry.adjoint_y
        evaluation1 = _detach(extras["evaluation"])

        # y1 depends on the evaluation at z1 through inc(f1, g1) / 2: finish that evaluation's adjoint, pull back.
        half_adjoint_y1 = 0.5 * adjoint_y1
        extra_adjoint, adjoint_dx = field.increment_adjoint(evaluation1, half_adjoint_y1, h, dx, want_dx)
        extras["adjoint_evaluation"] = _add_evaluations(extras["adjoint_evaluation"], extra_adjoint)
        self._pull_back_evaluation(carry)
        adjoint_z1 = extras["adjoint_z"]

        # Reconstruct the previous state, evaluating the vector field once (at z0, with autograd on).
        z0 = field.increment(evaluation1, h, dx, base=2 * y1 - z1, scale=-1.0)
        z0_leaf, evaluation0 = self._live_evaluation(t0, z0)
        evaluation_sum = _add_evaluations(_detach(evaluation0), evaluation1)
        y0 = field.increment(evaluation_sum, h, dx, base=y1, scale=-0.5)

        # Adjoints of (y0, z0, evaluation0) from z1 = 2 y0 - z0 + inc0 and y1 = y0 + (inc0 + inc1) / 2.
        adjoint_evaluation0, adjoint_dx0 = field.increment_adjoint(
            _detach(evaluation0), adjoint_z1 + half_adjoint_y1, h, dx, want_dx
        )
        carry.state = (y0, z0)
        carry.adjoint_y = torch.add(adjoint_y1, adjoint_z1, alpha=2.0)
        extras.update(
            z_leaf=z0_leaf,
            evaluation=evaluation0,
            adjoint_z=-adjoint_z1,
            adjoint_evaluation=adjoint_evaluation0,
        )
        return carry, (_add(adjoint_dx, adjoint_dx0) if want_dx else None)

    def backward_finish(self, carry: BackwardCarry) -> Tensor:
        self._pull_back_evaluation(carry)
        return carry.adjoint_y + carry.extras["adjoint_z"]
