"""The work of a training step in vector-field network evaluations and vector-Jacobian products (VJPs).

    counts = training_step_counts(training_runs.compose(overrides), steps=6)
    counts.forward_evaluations, counts.backward_vjps        # per training step, means over the 6 steps

The logged ``solver/nfe`` of a run counts forward calls of the vector-field networks only, so a run with the
gradient penalty's double backward and a clipped run can log the same figure. This module counts, in one
process and without the run's logs, what a training step does with those networks:

- forward evaluations: calls of the networks (the module's own evaluation counter, the one behind
  ``solver/nfe``), including the re-evaluations a reversible or adjoint backward pass makes;
- backward VJPs: the matrix products the backward passes run through the networks (first and second order),
  in units of one full VJP of one evaluation (with respect to its input and its parameters: two matrix
  products per ``Linear`` layer, each as large as the layer's forward product). A backward pass that needs
  the input gradient only (the penalty's first backward) counts half a VJP per evaluation; backpropagating
  through that backward (the penalty's double backward) counts again.

How: a :class:`~torch.utils._python_dispatch.TorchDispatchMode` sees every matrix-product ATen operator with
its multiply-adds. A product runs *forward* when it is dispatched inside a call of a network's modules; it
runs *backward* when the autograd node executing it (``torch._C._current_autograd_node``) was created by such
a call, or by the backward of such a call with ``create_graph=True`` (double backward). Products of other
modules (the generator's initial network and readout, the discriminator's readout, the encoders) and the
solvers' own products (diffusion times Brownian increment) are not counted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any, Callable

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten


def _product_size(*shape: int) -> int:
    return math.prod(int(size) for size in shape)


# Multiply-adds of each matrix-product operator, from its operands (the operators a Linear or matmul reaches).
MULTIPLY_ADDS: dict[Any, Callable[..., int]] = {
    aten.mm.default: lambda a, b, *_: _product_size(a.shape[0], a.shape[1], b.shape[1]),
    aten.addmm.default: lambda bias, a, b, *_, **__: _product_size(a.shape[0], a.shape[1], b.shape[1]),
    aten.bmm.default: lambda a, b, *_: _product_size(a.shape[0], a.shape[1], a.shape[2], b.shape[2]),
    aten.baddbmm.default: lambda c, a, b, *_, **__: _product_size(a.shape[0], a.shape[1], a.shape[2], b.shape[2]),
    aten.addbmm.default: lambda c, a, b, *_, **__: _product_size(a.shape[0], a.shape[1], a.shape[2], b.shape[2]),
    aten.mv.default: lambda a, v, *_: _product_size(a.shape[0], a.shape[1]),
    aten.addmv.default: lambda c, a, v, *_, **__: _product_size(a.shape[0], a.shape[1]),
    aten.dot.default: lambda a, b: _product_size(a.shape[0]),
}


@dataclasses.dataclass
class _Call:
    """One outermost call of a network's modules: its forward and backward multiply-adds."""

    network: str
    forward: int = 0
    backward: int = 0


def _is_leaf(node: Any) -> bool:
    return type(node).__name__ == "AccumulateGrad"


class VectorFieldWork(TorchDispatchMode):
    """Counts the matrix products of the given networks inside the block, forward and backward, per call.

    Arguments:
        networks: by name, the modules of each vector-field network (e.g. a generator's drift and diffusion
            container); every submodule's call is part of the network's evaluation.

    After the block, :meth:`vjps` converts the backward products into full VJPs of one evaluation, given each
    network's number of evaluations.
    """

    def __init__(self, networks: Mapping[str, nn.Module]) -> None:
        super().__init__()
        self._calls: list[_Call] = []
        self._active: list[_Call] = []  # the calls in progress (nested submodule calls share the outermost)
        self._node_call: dict[int, tuple[Any, _Call]] = {}  # id(autograd node) -> (node, the call it belongs to)
        self._boundaries: dict[int, Any] = {}  # nodes a call received its inputs from: where walks stop
        self._handles = []
        for name, network in networks.items():
            for module in network.modules():
                self._handles.append(module.register_forward_pre_hook(self._enter(name)))
                self._handles.append(module.register_forward_hook(self._leave))

    # ------------------------------------------------------------------ what the networks' calls created
    def _enter(self, name: str):
        def pre_hook(module: nn.Module, args: Any) -> None:
            if self._active:
                self._active.append(self._active[-1])
                return
            call = _Call(name)
            self._calls.append(call)
            self._active.append(call)
            for value in _tensors(args):
                if value.grad_fn is not None:
                    self._boundaries[id(value.grad_fn)] = value.grad_fn

        return pre_hook

    def _leave(self, module: nn.Module, args: Any, output: Any) -> None:
        call = self._active.pop()
        if not self._active:
            self._mark((value.grad_fn for value in _tensors(output)), call, stop=())

    def _mark(self, roots: Iterable[Any], call: _Call, stop: Iterable[Any]) -> None:
        """Attribute to ``call`` the autograd nodes reachable from ``roots`` that it created."""
        stopped = {id(node) for node in stop}
        pending = [node for node in roots if node is not None]
        while pending:
            node = pending.pop()
            key = id(node)
            if key in self._node_call or key in self._boundaries or key in stopped or _is_leaf(node):
                continue
            self._node_call[key] = (node, call)
            node.register_hook(self._double_backward_hook(call))
            pending += [following for following, _ in node.next_functions if following is not None]

    def _double_backward_hook(self, call: _Call):
        def hook(grad_inputs: tuple, grad_outputs: tuple) -> None:
            # With create_graph=True the gradients this node computed carry the graph of its backward.
            roots = [grad.grad_fn for grad in grad_inputs if grad is not None and grad.grad_fn is not None]
            if roots:
                self._mark(roots, call, stop=[grad.grad_fn for grad in grad_outputs
                                              if grad is not None and grad.grad_fn is not None])

        return hook

    # ------------------------------------------------------------------ the products
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        size = MULTIPLY_ADDS.get(func)
        if size is not None:
            node = torch._C._current_autograd_node()
            owner = self._node_call.get(id(node)) if node is not None else None
            if owner is not None:
                owner[1].backward += size(*args, **kwargs)
            elif self._active:
                self._active[-1].forward += size(*args, **kwargs)
        return func(*args, **kwargs)

    def __exit__(self, *exc: Any) -> Any:
        for handle in self._handles:
            handle.remove()
        self._node_call.clear()  # release the graphs
        self._boundaries.clear()
        return super().__exit__(*exc)

    def forward_multiply_adds(self, network: str) -> int:
        """Multiply-adds of ``network``'s forward calls."""
        return sum(call.forward for call in self._calls if call.network == network)

    def backward_multiply_adds(self, network: str) -> int:
        """Multiply-adds the backward passes ran through ``network``."""
        return sum(call.backward for call in self._calls if call.network == network)

    def vjps(self, network: str, evaluations: int) -> float:
        """The backward work through ``network`` in full VJPs of one evaluation (``evaluations`` of them ran).

        Each call's backward products count against twice its own forward products (so a solve of a larger
        batch weighs the same per evaluation); an evaluation is ``calls / evaluations`` calls (e.g. a drift
        and a diffusion network).
        """
        calls = [call for call in self._calls if call.network == network and call.forward > 0]
        if not calls or evaluations == 0:
            return 0.0
        full_vjps_of_calls = sum(call.backward / (2 * call.forward) for call in calls)
        return full_vjps_of_calls * evaluations / len(calls)


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [tensor for item in value for tensor in _tensors(item)]
    if isinstance(value, dict):
        return [tensor for item in value.values() for tensor in _tensors(item)]
    return []


def vector_field_networks(model: nn.Module) -> dict[str, nn.Module]:
    """The vector-field networks of an sdegan training module, by the names its evaluation counter uses."""
    networks = {}
    if hasattr(model, "generator"):
        networks["generator"] = model.generator.vector_field
    if hasattr(model, "discriminator"):
        networks["discriminator"] = model.discriminator.vector_field
    latent = getattr(model, "model", None)
    if latent is not None and hasattr(latent, "dynamics"):
        networks["latent"] = latent.dynamics
    return networks


@dataclasses.dataclass(frozen=True)
class StepCounts:
    """Vector-field work per training step (means over the counted steps), in total and per network."""

    forward_evaluations: float
    backward_vjps: float
    per_network: dict[str, tuple[float, float]]  # name -> (forward evaluations, backward VJPs)


def training_step_counts(cfg: Any, steps: int = 1) -> StepCounts:
    """Count ``steps`` training steps of the run ``cfg`` describes (its composed config), from its first step.

    The datamodule and LightningModule are built by :mod:`sdegan.builders` as ``sdegan-train`` builds them,
    and trained for ``steps`` steps by a Lightning trainer without loggers, validation or checkpoints (the
    module's own ``training_step``, with its manual optimisation and backward passes). For the gradient
    penalty, ``steps = critic_steps + 1`` covers one cycle of critic steps and its generator step.
    """
    from sdegan import builders

    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    datamodule = builders.build_datamodule(cfg)
    model = builders.build_model(cfg, datamodule)
    counter = _CountingCallback(vector_field_networks(model))
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_val_batches=0, callbacks=[counter])
    trainer.fit(model, datamodule=datamodule)
    if len(counter.steps) != steps:
        raise RuntimeError(f"counted {len(counter.steps)} training steps, expected {steps}")
    per_network = {name: (sum(step[name][0] for step in counter.steps) / steps,
                          sum(step[name][1] for step in counter.steps) / steps) for name in counter.networks}
    return StepCounts(forward_evaluations=sum(value[0] for value in per_network.values()),
                      backward_vjps=sum(value[1] for value in per_network.values()), per_network=per_network)


class _CountingCallback(pl.Callback):
    """Counts each training step of a Lightning fit: (evaluations, VJPs) per network and step."""

    def __init__(self, networks: Mapping[str, nn.Module]) -> None:
        self.networks = dict(networks)
        self.steps: list[dict[str, tuple[int, float]]] = []
        self._work: VectorFieldWork | None = None

    def on_train_batch_start(self, trainer: pl.Trainer, module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self._work = VectorFieldWork(self.networks)
        self._work.__enter__()

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        work, self._work = self._work, None
        assert work is not None
        work.__exit__(None, None, None)
        # The module's own counter (reset at each batch start): the one behind the logged solver/nfe.
        evaluations = dict(module._evaluations.counts)
        self.steps.append({name: (evaluations[name], work.vjps(name, evaluations[name])) for name in self.networks})


__all__ = ["MULTIPLY_ADDS", "VectorFieldWork", "vector_field_networks", "StepCounts", "training_step_counts"]
