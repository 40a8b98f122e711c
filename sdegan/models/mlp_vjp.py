"""An MLP's forward pass together with its hand-written vector-Jacobian product, without autograd.

The reversible solvers' backward pass evaluates the vector field once per step and pulls an adjoint back
through it. With autograd that records a graph node per operation and runs the autograd engine once per
step, which at the SDE-GAN's sizes costs several times the arithmetic itself. For an :class:`sdegan.nn.MLP`
made of ``Linear``, ``LipSwish`` and ``Tanh`` layers, :func:`mlp_forward_with_vjp` computes the forward pass
keeping what the backward needs and returns a function giving the gradients of the input and of every
parameter, with the same ATen backward kernels autograd runs (``tanh_backward``, ``silu_backward``, the
matrix products of ``linear``), so the numbers equal autograd's. Standing in for ``module(...)``, a hand-written
path runs the module's plain forward hooks itself (e.g. the training modules' evaluation counters) and is only
used where no other hook could observe the difference (:func:`hooks_allow_hand_path`).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn
from torch.nn import functional
from torch.nn.modules import module as module_hooks

from sdegan.nn import MLP, LipSwish

MLPPullback = Callable[[Tensor], tuple[Tensor, list[Tensor]]]

_LIPSWISH_SCALE = 0.909  # the constant of sdegan.nn.LipSwish


def hooks_allow_hand_path(module: nn.Module) -> bool:
    """Whether a hand-written path may stand in for ``module(...)``: no global module hooks, no hooks on the
    module's submodules and on the module itself only plain forward hooks (:func:`run_forward_hooks` runs them)."""
    global_hooks = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                    "_global_backward_pre_hooks")
    if any(getattr(module_hooks, name, None) for name in global_hooks):
        return False
    if (module._forward_pre_hooks or module._backward_hooks or module._backward_pre_hooks
            or module._forward_hooks_with_kwargs or module._forward_hooks_always_called):
        return False
    return not any(sub._forward_hooks or sub._forward_pre_hooks or sub._backward_hooks or sub._backward_pre_hooks
                   for sub in module.modules() if sub is not module)


def run_forward_hooks(module: nn.Module, args: tuple, output: object) -> None:
    """Runs ``module``'s forward hooks on ``(args, output)`` as ``module(*args)`` would; a hook that replaces the
    output cannot be honoured by a hand-written path and raises."""
    for hook in module._forward_hooks.values():
        if hook(module, args, output) is not None:
            raise RuntimeError(f"a forward hook of {type(module).__name__} replaces its output, which the "
                               "hand-written vector-Jacobian path cannot honour; remove the hook")


def supports_hand_vjp(mlp: nn.Module) -> bool:
    """Whether :func:`mlp_forward_with_vjp` handles ``mlp``: an :class:`MLP` of ``Linear`` (with bias),
    ``LipSwish`` and ``Tanh`` layers whose parameters all require gradients, with no hooks but plain forward
    hooks on the MLP itself (:func:`hooks_allow_hand_path`)."""
    if not isinstance(mlp, MLP) or not all(p.requires_grad for p in mlp.parameters()):
        return False
    if not hooks_allow_hand_path(mlp):
        return False
    for layer in mlp.net:
        if isinstance(layer, nn.Linear):
            if layer.bias is None:
                return False
        elif type(layer) not in (LipSwish, nn.Tanh):
            return False
    return True


def mlp_forward_with_vjp(mlp: MLP, x: Tensor) -> tuple[Tensor, MLPPullback]:
    """``mlp(x)`` and its pullback: ``adjoint of the output -> (adjoint of x, adjoints of mlp.parameters())``.

    ``mlp`` must satisfy :func:`supports_hand_vjp`; the forward pass runs without recording a graph, then the
    MLP's forward hooks.
    """
    saved: list[tuple[nn.Module, Tensor]] = []  # (layer, what its backward needs)
    value = x
    with torch.no_grad():
        for layer in mlp.net:
            if isinstance(layer, nn.Linear):
                saved.append((layer, value))
                value = functional.linear(value, layer.weight, layer.bias)
            elif isinstance(layer, LipSwish):
                saved.append((layer, value))
                value = _LIPSWISH_SCALE * functional.silu(value)
            else:  # nn.Tanh
                value = torch.tanh(value)
                saved.append((layer, value))
    run_forward_hooks(mlp, (x,), value)

    def pullback(adjoint: Tensor) -> tuple[Tensor, list[Tensor]]:
        grads: list[Tensor] = []
        for layer, kept in reversed(saved):
            if isinstance(layer, nn.Linear):
                grads += [adjoint.sum(0), kept.t().mm(adjoint).t()]  # bias, weight (reversed below), as autograd's addmm
                adjoint = adjoint.mm(layer.weight)
            elif isinstance(layer, LipSwish):
                adjoint = torch.ops.aten.silu_backward(adjoint * _LIPSWISH_SCALE, kept)
            else:
                adjoint = torch.ops.aten.tanh_backward(adjoint, kept)
        grads.reverse()  # weight, bias per layer, first layer first: the order of mlp.parameters()
        return adjoint, grads

    return value, pullback


def time_state(t: Tensor, x: Tensor) -> Tensor:
    """``[t, x]`` per row: the input ``(batch, 1 + state)`` of the vector fields' MLPs."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return torch.cat([t.expand(x.size(0), 1), x], dim=1)


def state_adjoint(adjoint_time_state: Optional[Tensor]) -> Optional[Tensor]:
    """The adjoint of ``x`` from that of :func:`time_state`'s ``[t, x]`` (the time column dropped)."""
    return None if adjoint_time_state is None else adjoint_time_state[:, 1:]
