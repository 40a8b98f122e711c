"""The evaluation counts of experiments/operation_counts.py: hand-countable solves, then sdegan's training steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sdegan.training.instrumentation import EvaluationCounter
from tests.experiments.results_files import load_experiment_module

operation_counts = load_experiment_module("operation_counts")
training_runs = load_experiment_module("training_runs")

STEPS = 7


def euler_solve(field: nn.Module, x: torch.Tensor, steps: int = STEPS) -> torch.Tensor:
    for _ in range(steps):
        x = x + 0.1 * field(x)
    return x


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 8), nn.Softplus(), nn.Linear(8, 3))


def test_direct_backprop_through_n_steps_is_n_evaluations_and_n_vjps():
    field = mlp()
    evaluations = EvaluationCounter({"field": field})
    initial = torch.randn(5, 3, requires_grad=True)
    with operation_counts.VectorFieldWork({"field": field}) as work:
        euler_solve(field, initial).square().sum().backward()
    assert evaluations.counts["field"] == STEPS
    assert work.vjps("field", STEPS) == pytest.approx(STEPS)
    # Each Linear's VJP is two products (input and weight gradients) as large as its forward product.
    assert work.backward_multiply_adds("field") == 2 * work.forward_multiply_adds("field")


def test_a_backward_to_the_input_only_is_half_a_vjp_per_evaluation():
    field = mlp()
    initial = torch.randn(5, 3, requires_grad=True)
    with operation_counts.VectorFieldWork({"field": field}) as work:
        torch.autograd.grad(euler_solve(field, initial).sum(), initial)
    assert work.vjps("field", STEPS) == pytest.approx(STEPS / 2)


def test_products_outside_the_networks_are_not_counted():
    field, readout = mlp(), nn.Linear(3, 2)
    initial = torch.randn(5, 3, requires_grad=True)
    noise = torch.randn(5, 3, 1)
    with operation_counts.VectorFieldWork({"field": field}) as work:
        x = initial
        for _ in range(STEPS):  # the solver's own matrix product (a diffusion times a Brownian increment)
            x = x + 0.1 * field(x) + torch.bmm(torch.diag_embed(x), noise).squeeze(-1)
        readout(x).sum().backward()
    evaluation = 5 * (3 * 8 + 8 * 3)  # multiply-adds of one evaluation of the batch of 5
    assert work.forward_multiply_adds("field") == STEPS * evaluation
    assert work.backward_multiply_adds("field") == 2 * STEPS * evaluation


def test_the_double_backward_of_a_gradient_penalty_is_counted():
    field = mlp()
    initial = torch.randn(5, 3, requires_grad=True)
    with operation_counts.VectorFieldWork({"field": field}) as first_only:
        torch.autograd.grad(euler_solve(field, initial).sum(), initial, create_graph=True)
    with operation_counts.VectorFieldWork({"field": field}) as work:
        (gradient,) = torch.autograd.grad(euler_solve(field, initial).sum(), initial, create_graph=True)
        (gradient.norm(dim=1) - 1).square().mean().backward()
    # The first backward (input only) plus the second through the solve and through the first backward.
    assert first_only.vjps("field", STEPS) == pytest.approx(STEPS / 2)
    assert work.vjps("field", STEPS) > STEPS / 2 + STEPS


SMALL = ["dataset.num_paths=64", "dataset.length=12", "dataset.batch_size=8"]


def step_counts(experiment: str, *overrides: str):
    cfg = training_runs.compose([f"experiment={experiment}", *SMALL, *overrides])
    return operation_counts.training_step_counts(cfg, steps=round(1 / training_runs.generator_updates_per_step(cfg)))


def test_training_steps_of_the_clipped_penalty_and_midpoint_recipes():
    solver_steps = 11  # 12 observation times at dt = 1
    midpoint = step_counts("ou_sde_gan_midpoint")
    for network in ("generator", "discriminator"):  # two evaluations per step, each backpropagated directly
        assert midpoint.per_network[network] == (2 * solver_steps, 2 * solver_steps)
    clip = step_counts("ou_sde_gan")
    for network in ("generator", "discriminator"):  # reversible: the backward re-evaluates once per evaluation
        evaluations, vjps = clip.per_network[network]
        assert evaluations == 2 * (solver_steps + 1) and vjps == pytest.approx(evaluations / 2)
    penalty = step_counts("ou_sde_gan_gp")
    assert penalty.backward_vjps > clip.backward_vjps  # the double backward through the discriminator's solve
    assert penalty.per_network["discriminator"][1] > clip.per_network["discriminator"][1]


def test_the_counts_do_not_depend_on_the_batch_size():
    assert step_counts("ou_sde_gan_gp") == step_counts("ou_sde_gan_gp", "dataset.batch_size=16")
