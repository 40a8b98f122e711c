"""Running a fixed-step solver over a step grid: with direct backpropagation, or with the exact reversible
backward pass as a custom autograd function that stores O(1) tensors whatever the number of steps."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from sdegan.solvers.base import ReversibleSolver, Solver
from sdegan.solvers.controls import Control, PathControl
from sdegan.solvers.grid import StepGrid


def _solve(solver: Solver, y0: Tensor, grid: StepGrid, control: Control) -> tuple[Tensor, tuple]:
    """Steps over the grid; returns the solution at the output times and the final solver state."""
    times = grid.times_on(y0.dtype, y0.device).unbind(0)  # indexed once: a tensor index per step costs an op
    state = solver.initial_state(times[0], y0)
    outputs = [y0]
    output_steps = set(grid.output_steps[1:])
    for n in range(grid.num_steps):
        state = solver.step(times[n], times[n + 1], grid.step_size(n), state, control.increment(n))
        if n + 1 in output_steps:
            outputs.append(state[0])
    return torch.stack(outputs), state


def integrate_direct(solver: Solver, y0: Tensor, grid: StepGrid, control: Control) -> Tensor:
    """Solves on ``grid``; returns the solution at the output times, shape ``(len(ts), *y0.shape)``.

    Differentiable by ordinary backpropagation through every step (memory linear in the steps).
    """
    return _solve(solver, y0, grid, control)[0]


def integrate_reversible(
    solver: ReversibleSolver, y0: Tensor, grid: StepGrid, control: Control, path_increments: Optional[Tensor]
) -> Tensor:
    """Like :func:`integrate_direct`, with gradients from the solver's exact reversible backward pass.

    Args:
        path_increments: for CDEs, the control increments tensor (also held by ``control``), so that gradients
            reach it; ``None`` otherwise (Brownian increments are regenerated in the backward pass).
    """
    return _ReversibleSolve.apply(solver, grid, control, y0, path_increments, *solver.vector_field.parameters)


class _ReversibleSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, solver, grid, control, y0, path_increments, *params):
        with torch.no_grad():
            outputs, state = _solve(solver, y0, grid, control)
            terminal = solver.terminal_state(state)
        ctx.solver, ctx.grid, ctx.control = solver, grid, control
        ctx.num_terminal = len(terminal)
        ctx.has_path = path_increments is not None
        ctx.save_for_backward(*terminal, *((path_increments,) if ctx.has_path else ()))
        return outputs

    @staticmethod
    def backward(ctx, grad_outputs):
        if torch.is_grad_enabled():  # create_graph=True: a silently non-differentiable gradient would be wrong
            raise RuntimeError(
                "gradient='reversible' does not support double backward (create_graph=True, e.g. a gradient "
                "penalty through the solve); use gradient='direct' for that solve."
            )
        solver, grid = ctx.solver, ctx.grid
        saved = ctx.saved_tensors
        terminal = saved[: ctx.num_terminal]
        control = PathControl(saved[ctx.num_terminal]) if ctx.has_path else ctx.control
        want_dx = ctx.has_path and ctx.needs_input_grad[4]
        path_grads = torch.zeros_like(saved[ctx.num_terminal]) if want_dx else None

        times = grid.times_on(grad_outputs.dtype, grad_outputs.device).unbind(0)
        output_grads = dict(zip(grid.output_steps, grad_outputs.unbind(0)))
        with torch.no_grad():
            carry = solver.backward_start(times[-1], terminal, output_grads[grid.num_steps])
            for n in reversed(range(grid.num_steps)):
                dx = control.increment(n)
                carry, dx_grad = solver.backward_step(
                    times[n], times[n + 1], grid.step_size(n), carry, None if dx is None else dx.detach(), want_dx
                )
                if want_dx:
                    path_grads[n] = dx_grad
                if n in output_grads:
                    carry.adjoint_y = carry.adjoint_y + output_grads[n]
            grad_y0 = solver.backward_finish(carry)
        return (None, None, None, grad_y0, path_grads, *carry.adjoint_params)
