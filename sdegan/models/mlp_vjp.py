"""Vector-field MLPs of ``[t, x]`` evaluated without autograd, with hand-written vector-Jacobian products.

The reversible solvers evaluate the vector field once per step and, in their backward pass, pull an adjoint back
through it. With autograd that records a graph node per operation and runs the autograd engine once per step,
which at the SDE-GAN's sizes costs several times the arithmetic itself; at those sizes even the eager operations
are mostly per-call overhead. :class:`TimeStateNetworks` takes the :class:`sdegan.nn.MLP` networks of one vector
field that all read ``[t, x]`` (the generator's drift and diffusion, the discriminator's network), made of
``Linear``, ``LipSwish`` and ``Tanh`` layers, and prepares them once per solve so that an evaluation dispatches
few operations:

- the first layers of all the networks are one matrix product, ``x W_x^T + (b + t w_t)`` with ``W = [w_t, W_x]``:
  the time column enters through the bias, so ``[t, x]`` is never formed;
- an activation the networks share after their first layer is applied once, to the stacked features;
- LipSwish's constant is folded into the weight of the layer after it, and every weight is transposed once.

:meth:`TimeStateNetworks.value` gives the networks' outputs; :meth:`TimeStateNetworks.value_with_vjp` also returns
the pullback, giving the gradients of ``x`` and of every parameter. The numbers equal the modules' (and
autograd's) up to float round-off: a few products are summed in another order. Standing in for ``module(...)``,
a hand-written path runs the modules' plain forward hooks itself (e.g. the training modules' evaluation counters)
and is only used where no other hook could observe the difference (:func:`hooks_allow_hand_path`).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional
from torch.nn.modules import module as module_hooks

from sdegan.nn import MLP, LipSwish

__all__ = ["TimeStateNetworks", "hooks_allow_hand_path", "run_forward_hooks", "supports_hand_vjp", "time_state"]

_LIPSWISH_SCALE = 0.909  # the constant of sdegan.nn.LipSwish
NetworksPullback = Callable[[Sequence[Optional[Tensor]]], tuple[Optional[Tensor], list[Optional[Tensor]]]]


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


def run_forward_hooks(module: nn.Module, make_args: Callable[[], tuple], output: object) -> None:
    """Runs ``module``'s forward hooks on ``(args, output)`` as ``module(*args)`` would, with ``args = make_args()``
    formed only for hooks that read them (a hook marked ``ignores_arguments = True``, like the evaluation
    counters', gets ``None``). A hook that replaces the output cannot be honoured by a hand-written path and
    raises."""
    args = None
    for hook in module._forward_hooks.values():
        if args is None and not getattr(hook, "ignores_arguments", False):
            args = make_args()
        if hook(module, args, output) is not None:
            raise RuntimeError(f"a forward hook of {type(module).__name__} replaces its output, which the "
                               "hand-written vector-Jacobian path cannot honour; remove the hook")


def supports_hand_vjp(mlp: nn.Module) -> bool:
    """Whether :class:`TimeStateNetworks` handles ``mlp``: an :class:`MLP` of ``Linear`` (with bias), ``LipSwish``
    and ``Tanh`` layers whose parameters all require gradients, with no hooks but plain forward hooks on the MLP
    itself (:func:`hooks_allow_hand_path`)."""
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


def time_state(t: Tensor, x: Tensor) -> Tensor:
    """``[t, x]`` per row: the input ``(batch, 1 + state)`` of the vector fields' MLPs."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return torch.cat([t.expand(x.size(0), 1), x], dim=1)


class _Linear:
    """A ``Linear`` layer after the first, its weight scaled by the LipSwish constant before it (if any)."""

    def __init__(self, layer: nn.Linear, scale: float):
        self.scale = scale
        self.weight = layer.weight.detach() * scale if scale != 1.0 else layer.weight.detach()
        self.weight_t = self.weight.t().contiguous()
        self.bias = layer.bias.detach()


def _layer_program(layers: Sequence[nn.Module], scale: float) -> list:
    """The layers after the shared part as ``_Linear`` (scale folded in), ``"silu"`` and ``"tanh"`` steps."""
    program: list = []
    for layer in layers:
        if isinstance(layer, nn.Linear):
            program.append(_Linear(layer, scale))
            scale = 1.0
        elif isinstance(layer, LipSwish):
            program.append("silu")
            scale = _LIPSWISH_SCALE
        else:
            program.append("tanh")
    return program


def _run(program: list, value: Tensor, saved: Optional[list], fresh: bool = False) -> Tensor:
    """Applies ``program`` to ``value``; appends what the pullback needs to ``saved`` (if given). Activations
    overwrite a tensor made here (or ``value`` when ``fresh``: no one else holds it) unless the pullback keeps
    their input, so the features stay in one buffer, hot in cache."""
    for step in program:
        if isinstance(step, _Linear):
            if saved is not None:
                saved.append(value)
            value, fresh = torch.addmm(step.bias, value, step.weight_t), True
        elif step == "silu":
            if saved is not None:
                saved.append(value)
                value, fresh = functional.silu(value), True
            else:
                value, fresh = functional.silu(value, inplace=fresh), True
        else:
            value, fresh = (value.tanh_() if fresh else torch.tanh(value)), True
            if saved is not None:
                saved.append(value)
    return value


def _pull_back(program: list, saved: list, adjoint: Tensor, grads: list) -> Tensor:
    """The adjoint before ``program`` from the one after it; appends the parameter gradients to ``grads`` in
    reverse order (bias, then weight, last layer first)."""
    for step, kept in zip(reversed(program), reversed(saved)):
        if isinstance(step, _Linear):
            grads.append(adjoint.sum(0))
            grads.append(torch.addmm(step.weight, adjoint.t(), kept, beta=0.0, alpha=step.scale))
            adjoint = adjoint.mm(step.weight)
        elif step == "silu":
            adjoint = torch.ops.aten.silu_backward(adjoint, kept)
        else:
            adjoint = torch.ops.aten.tanh_backward(adjoint, kept)
    return adjoint


class TimeStateNetworks:
    """MLPs that all read ``[t, x]``, prepared for evaluation without autograd (see the module docstring).

    Prepared from the networks' parameters when built: build one per solve (parameters change between solves,
    never within one). Every MLP must satisfy :func:`supports_hand_vjp`; their plain forward hooks run on every
    evaluation as ``mlp([t, x])`` would run them.
    """

    def __init__(self, mlps: Sequence[MLP]):
        self.mlps = tuple(mlps)
        firsts = [mlp.net[0] for mlp in self.mlps]
        with torch.no_grad():
            weight = torch.cat([layer.weight for layer in firsts])  # (all first-layer features, 1 + state)
            self.time_weight = weight[:, 0].contiguous()
            self.state_weight = weight[:, 1:].contiguous()
            self.state_weight_t = self.state_weight.t().contiguous()
            self.bias = torch.cat([layer.bias for layer in firsts])
        self.widths = [layer.out_features for layer in firsts]
        # An activation every network has right after its first layer is applied once to the stacked features.
        after_first = {type(mlp.net[1]) if len(mlp.net) > 1 else None for mlp in self.mlps}
        shared_type = after_first.pop() if len(after_first) == 1 else None
        self.shared = _layer_program([shared_type()], 1.0) if shared_type is not None else []
        rest = 2 if shared_type is not None else 1
        scale = _LIPSWISH_SCALE if shared_type is LipSwish else 1.0
        with torch.no_grad():
            self.programs = [_layer_program(list(mlp.net)[rest:], scale) for mlp in self.mlps]
        self.hooked = [mlp for mlp in self.mlps if mlp._forward_hooks]
        self.later_parameter_counts = [2 * sum(isinstance(step, _Linear) for step in program)
                                       for program in self.programs]

    def _first_layer(self, t: Tensor, x: Tensor) -> Tensor:
        """The stacked first-layer features; ``t`` a tensor of ``x``'s dtype and device."""
        return torch.addmm(torch.addcmul(self.bias, self.time_weight, t), x, self.state_weight_t)

    def _split(self, features: Tensor) -> Sequence[Tensor]:
        return features.split_with_sizes(self.widths, dim=1) if len(self.widths) > 1 else (features,)

    def _run_hooks(self, t: Tensor, x: Tensor, outputs: Sequence[Tensor]) -> None:
        for mlp in self.hooked:
            run_forward_hooks(mlp, lambda: (time_state(t, x),), outputs[self.mlps.index(mlp)])

    def value(self, t: Tensor, x: Tensor) -> list[Tensor]:
        """The outputs of the networks at ``[t, x]`` (no autograd graph), in order."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        features = _run(self.shared, self._first_layer(t, x), None, fresh=True)
        outputs = [_run(program, part, None) for program, part in zip(self.programs, self._split(features))]
        self._run_hooks(t, x, outputs)
        return outputs

    def value_with_vjp(self, t: Tensor, x: Tensor) -> tuple[list[Tensor], NetworksPullback]:
        """:meth:`value` and its pullback: ``adjoints of the outputs (None: zero) -> (adjoint of x, adjoints of
        every network's parameters, the networks in order, each in the order of its parameters())``."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        shared_saved: list[Tensor] = []
        features = _run(self.shared, self._first_layer(t, x), shared_saved, fresh=True)
        saved: list[list[Tensor]] = [[] for _ in self.programs]
        outputs = [_run(program, part, kept)
                   for program, part, kept in zip(self.programs, self._split(features), saved)]
        self._run_hooks(t, x, outputs)

        def pullback(adjoints: Sequence[Optional[Tensor]]) -> tuple[Optional[Tensor], list[Optional[Tensor]]]:
            counts = self.later_parameter_counts
            if all(adjoint is None for adjoint in adjoints):
                return None, [None] * (sum(counts) + 2 * len(counts))
            parts, later_grads = [], []
            for program, kept, adjoint, width, count in zip(self.programs, saved, adjoints, self.widths, counts):
                grads: list = []
                if adjoint is None:
                    parts.append(x.new_zeros((x.size(0), width)))
                    grads = [None] * count
                else:
                    parts.append(_pull_back(program, kept, adjoint, grads))
                    grads.reverse()  # weight, bias per layer, first layer after the shared part first
                later_grads.append(grads)
            adjoint = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
            adjoint = _pull_back(self.shared, shared_saved, adjoint, [])
            bias_grad = adjoint.sum(0)
            weight_grad = torch.cat([(bias_grad * t).unsqueeze(1), adjoint.t().mm(x)], dim=1)
            flat: list[Optional[Tensor]] = []
            for weight, bias, grads in zip(self._split_rows(weight_grad), self._split_rows(bias_grad), later_grads):
                flat += [weight, bias, *grads]
            return adjoint.mm(self.state_weight), flat

        return outputs, pullback

    def _split_rows(self, tensor: Tensor) -> Sequence[Tensor]:
        return tensor.split_with_sizes(self.widths, dim=0) if len(self.widths) > 1 else (tensor,)
