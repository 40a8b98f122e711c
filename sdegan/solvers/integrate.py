"""Running a fixed-step solver over a step grid: with direct backpropagation, or with the exact reversible
backward pass as a custom autograd function that stores O(1) tensors whatever the number of steps."""

from __future__ import annotations

from typing import Sequence

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
    solver: ReversibleSolver, y0: Tensor, grid: StepGrid, control: Control, path_tensors: Sequence[Tensor] = ()
) -> Tensor:
    """Like :func:`integrate_direct`, with gradients from the solver's exact reversible backward pass.

    Args:
        path_tensors: for CDEs, the path's tensors that need gradients (``PathControl.differentiable_tensors``): the
            backward pass recomputes the path's controls from them (nothing per step is stored) and
            differentiates that one vectorised evaluation. Brownian increments are regenerated instead.
    """
    path_tensors = tuple(path_tensors)
    return _ReversibleSolve.apply(solver, grid, control, len(path_tensors), y0, *path_tensors,
                                  *solver.vector_field.parameters)


class _ReversibleSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, solver, grid, control, num_path_tensors, y0, *inputs):
        with torch.no_grad():
            outputs, state = _solve(solver, y0, grid, control)
            terminal = solver.terminal_state(state)
        if isinstance(control, PathControl):
            control.steps = None  # recomputed from the path in the backward pass: O(1) saved in the steps
        ctx.solver, ctx.grid, ctx.control, ctx.num_path_tensors = solver, grid, control, num_path_tensors
        ctx.path_tensors = inputs[:num_path_tensors]  # the path's own tensors (O(path length), not O(steps))
        ctx.save_for_backward(*terminal)
        return outputs

    @staticmethod
    def backward(ctx, grad_outputs):
        if torch.is_grad_enabled():  # create_graph=True: a silently non-differentiable gradient would be wrong
            raise RuntimeError(
                "gradient='reversible' does not support double backward (create_graph=True, e.g. a gradient "
                "penalty through the solve); use gradient='direct' for that solve."
            )
        solver, grid, control = ctx.solver, ctx.grid, ctx.control
        terminal = ctx.saved_tensors
        num_path = ctx.num_path_tensors
        is_path = isinstance(control, PathControl)
        want_dx = is_path and any(ctx.needs_input_grad[5 : 5 + num_path])
        # Only the leading rows of a batch whose path gradients are wanted (e.g. generated paths beside data).
        rows = getattr(solver.vector_field, "path_gradient_rows", None) if want_dx else None
        wanted = slice(None) if rows is None else slice(0, rows)
        if is_path:
            with torch.enable_grad() if want_dx else torch.no_grad():  # differentiated once the loop is done
                steps = control.evaluate()
                differentiable_steps = steps[..., wanted, :]
            control.steps = steps.detach()
        path_grads = torch.zeros_like(differentiable_steps) if want_dx else None

        times = grid.times_on(grad_outputs.dtype, grad_outputs.device).unbind(0)
        output_grads = dict(zip(grid.output_steps, grad_outputs.unbind(0)))
        with torch.no_grad():
            carry = solver.backward_start(times[-1], terminal, output_grads[grid.num_steps])
            for n in reversed(range(grid.num_steps)):
                carry, dx_grad = solver.backward_step(
                    times[n], times[n + 1], grid.step_size(n), carry, control.increment(n), want_dx
                )
                if want_dx:
                    path_grads[n] = dx_grad[..., wanted, :]
                if n in output_grads:
                    carry.adjoint_y = carry.adjoint_y + output_grads[n]
            grad_y0 = solver.backward_finish(carry)
        grads_path: tuple = (None,) * num_path
        if want_dx:
            grads_path = torch.autograd.grad(differentiable_steps, ctx.path_tensors, path_grads, allow_unused=True)
        if is_path:
            control.steps = None
        return (None, None, None, None, grad_y0, *grads_path, *carry.adjoint_params)
