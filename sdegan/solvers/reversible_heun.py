"""Reversible Heun (Kidger, Foster, Li, Lyons 2021): one vector-field evaluation per step, algebraically
reversible, converging to the Stratonovich solution.

State ``(y, z, f(t, z), g(t, z))``; with ``inc(f, g) = f h + g dX`` and ``inc_n = inc(f_n, g_n)``:

    z_{n+1} = 2 y_n - z_n + inc_n
    y_{n+1} = y_n + (inc_n + inc(f_{n+1}, g_{n+1})) / 2,   (f_{n+1}, g_{n+1}) at (t_{n+1}, z_{n+1})

The backward pass evaluates the vector field once per step, at the reconstructed ``z_n``, keeping its
pullback (:meth:`ControlledVectorField.evaluate_with_vjp`: the network's hand-written one, or autograd's);
that single evaluation both reconstructs ``y_n`` and, one step later, gives the vector-Jacobian product. So a backward step costs one evaluation and one VJP.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from sdegan.solvers.base import BackwardCarry, ReversibleSolver, State, zero_parameter_gradients
from sdegan.solvers.controls import StepControl, stage_control
from sdegan.solvers.vector_fields import Evaluation


class ReversibleHeun(ReversibleSolver):
    """Reversible Heun: ODE order 2, strong order 0.5 (1.0 with additive noise), Stratonovich."""

    name = "reversible_heun"
    ode_order = 2
    strong_order = 0.5
    strong_order_additive = 1.0

    def initial_state(self, t0: Tensor, y0: Tensor) -> State:
        return y0, y0, self.vector_field.evaluate(t0, y0)

    def step(self, t0: Tensor, t1: Tensor, h: float, state: State, dx: Optional[StepControl]) -> State:
        field = self.vector_field
        y0, z0, evaluation0 = state
        increment0 = field.increment(evaluation0, h, stage_control(dx, 0.0))
        z1 = torch.add(increment0, y0, alpha=2.0) - z0
        evaluation1 = field.evaluate(t1, z1)
        increments = field.increment(evaluation1, h, stage_control(dx, 1.0), base=increment0)  # inc_0 + inc_1
        y1 = torch.add(y0, increments, alpha=0.5)
        return y1, z1, evaluation1

    def terminal_state(self, state: State) -> tuple[Tensor, ...]:
        y, z, _ = state
        return y, z

    def backward_start(self, t: Tensor, saved: tuple[Tensor, ...], adjoint_y: Tensor) -> BackwardCarry:
        """The carry's extras: the evaluation at ``z`` and its pullback (``evaluation``, ``pullback``), the adjoint
        of that evaluation from the later steps (``adjoint_evaluation``), and the full adjoint of the ``z`` one step
        later (``adjoint_z_next``; the adjoint of ``z`` other than through its evaluation is its negative)."""
        y, z = saved
        evaluation, pullback = self.vector_field.evaluate_with_vjp(t, z)
        return BackwardCarry(
            state=(y, z),
            adjoint_y=adjoint_y,
            adjoint_params=zero_parameter_gradients(self.vector_field.parameters),
            extras=dict(
                evaluation=evaluation,
                pullback=pullback,
                adjoint_evaluation=(None, None),
                adjoint_z_next=torch.zeros_like(adjoint_y),
            ),
        )

    def _pull_back_evaluation(self, carry: BackwardCarry, adjoint_evaluation: Evaluation) -> Tensor:
        """VJP of the kept evaluation: adds its parameter gradients to the carry; returns the full adjoint of z
        (the VJP with respect to z plus the adjoint through ``z_{n+1} = ... - z_n``)."""
        extras = carry.extras
        adjoint_z, parameter_grads = extras["pullback"](adjoint_evaluation)
        carry.add_parameter_gradients(parameter_grads)
        if adjoint_z is None:
            return -extras["adjoint_z_next"]
        return torch.sub(adjoint_z, extras["adjoint_z_next"])

    def backward_step(
        self, t0: Tensor, t1: Tensor, h: float, carry: BackwardCarry, dx: Optional[StepControl], want_dx: bool
    ) -> tuple[BackwardCarry, Optional[Tensor]]:
        field = self.vector_field
        dx0, dx1 = stage_control(dx, 0.0), stage_control(dx, 1.0)
        extras = carry.extras
        y1, z1 = carry.state
        adjoint_y1 = carry.adjoint_y
        evaluation1 = extras["evaluation"]

        # y1 depends on the evaluation at z1 through inc(f1, g1) / 2: finish that evaluation's adjoint, pull back.
        adjoint_evaluation1, adjoint_dx1 = field.increment_adjoint(
            evaluation1, adjoint_y1, h, dx1, want_dx, base=extras["adjoint_evaluation"], scale=0.5
        )
        adjoint_z1 = self._pull_back_evaluation(carry, adjoint_evaluation1)

        # Reconstruct the previous state, evaluating the vector field once (at z0, with its pullback).
        increment1 = field.increment(evaluation1, h, dx1)
        z0 = torch.add(y1, y1).sub_(z1).sub_(increment1)
        evaluation0, pullback0 = field.evaluate_with_vjp(t0, z0)
        increments = field.increment(evaluation0, h, dx0, base=increment1)  # inc_0 + inc_1
        y0 = torch.sub(y1, increments, alpha=0.5)

        # Adjoints of (y0, z0, evaluation0) from z1 = 2 y0 - z0 + inc0 and y1 = y0 + (inc0 + inc1) / 2.
        adjoint_increment0 = torch.add(adjoint_z1, adjoint_y1, alpha=0.5)
        adjoint_evaluation0, adjoint_dx0 = field.increment_adjoint(evaluation0, adjoint_increment0, h, dx0, want_dx)
        carry.state = (y0, z0)
        carry.adjoint_y = torch.add(adjoint_y1, adjoint_z1, alpha=2.0)
        extras.update(
            evaluation=evaluation0, pullback=pullback0, adjoint_evaluation=adjoint_evaluation0, adjoint_z_next=adjoint_z1
        )
        return carry, (dx.gradient({0.0: adjoint_dx0, 1.0: adjoint_dx1}) if want_dx else None)

    def backward_finish(self, carry: BackwardCarry) -> Tensor:
        adjoint_z0 = self._pull_back_evaluation(carry, carry.extras["adjoint_evaluation"])
        return carry.adjoint_y + adjoint_z0
