"""Where the time of sdegan's SDE-GAN training step goes: its parts timed one by one, ranked.

    python experiments/profile_training_step.py                 # batch 1 (overhead only), one thread
    python experiments/profile_training_step.py --batch 1024 --repeats 5
    python experiments/profile_training_step.py --compile      # adds compiled evaluations and a solver step (slow)

Times, with the step of ``experiments/training_speed.py`` (paper sizes: 64 observation times, dt 1, hidden 16,
noise 3), the parts of one training step (the generator's and the discriminator's solves, forwards and
backwards) and the building blocks each solver step repeats (one vector-field evaluation, one vector-Jacobian
product (the networks' hand-written pullback the reversible backward uses, and autograd's for comparison), one
Brownian query, one path evaluation of torchcde, the per-solve set-up of the front doors), each the
median over repeats of many calls. Prints a markdown table: time per call, the ATen operators one call dispatches
(on a GPU, about its kernel launches), calls per training step, their total per training step and its share of
the measured step; the building blocks' rows do not add up to the parts' (the rest is the solvers' own tensor
arithmetic and Python between the blocks). With ``--compile``, also the generator's and the discriminator's
evaluations and one whole reversible Heun step of the generator (its evaluation and the solver's arithmetic)
through ``torch.compile`` (built first, untimed), each with its largest difference to the eager one: is a compiled
path worth offering? A diagnostic for the hot-path work: it writes no results file.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
import torchcde
from torch.utils._python_dispatch import TorchDispatchMode

from training_speed import NOISE, SdeganStep, ou_paths
from sdegan.nn import clip_linear_weights
from sdegan.solvers import make_brownian
from sdegan.solvers.controls import Increment
from sdegan.solvers.grid import make_step_grid
from sdegan.solvers.reversible_heun import ReversibleHeun
from sdegan.solvers.vector_fields import CDEVectorField, SDEVectorField

LENGTH = 64


class OperatorCount(TorchDispatchMode):
    """Counts the ATen operators dispatched inside the block (on a GPU, roughly the kernel launches)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def median_seconds(fn: Callable[[], object], calls: int, repeats: int) -> tuple[float, float]:
    """Median over ``repeats`` of the mean time of ``calls`` consecutive calls, and the mean operators per call
    (counted over one untimed round of ``calls`` calls first)."""
    with OperatorCount() as operators:
        for _ in range(calls):
            fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - started) / calls)
    return statistics.median(samples), operators.count / calls


def measure(batch: int, repeats: int, compiled: bool) -> list[tuple[str, tuple[float, float], int]]:
    """(part, (seconds, operators) per call, calls per training step) for the step and its parts."""
    torch.manual_seed(0)
    paths = ou_paths(max(256, batch), LENGTH, seed=0)
    times = paths[0, :, 0]
    steps = LENGTH - 1
    step = SdeganStep(times, paths, "interval")
    grid_step = SdeganStep(times, paths, "grid")
    index = torch.arange(batch)
    generator, discriminator, options = step.generator, step.discriminator, step.options
    real = step.paths[index]  # filled once for the dataset, as the datamodule serves the SDE-GAN
    real_with_missing_values = paths[index]
    fake = generator(times, batch, options).detach()
    coefficients = discriminator.coefficients(real)

    def generator_forward() -> torch.Tensor:
        return generator(times, batch, options)

    def generator_forward_backward() -> None:
        generator(times, batch, options).square().mean().backward()

    def discriminator_forward() -> torch.Tensor:
        return discriminator(fake, options)

    def discriminator_forward_backward() -> None:
        discriminator(fake, options).mean().backward()

    fake_with_graph = generator(times, batch, options)

    def discriminator_forward_backward_to_generated_path() -> None:
        leaf = fake_with_graph.detach().requires_grad_(True)  # gradients reach the path's values too
        discriminator(leaf, options).mean().backward()

    def evaluation(field, state) -> Callable[[], object]:
        def evaluate() -> object:
            with torch.no_grad():  # as in the forward solve of gradient="reversible"
                return field.evaluate(t, state)

        return evaluate

    sde_field = SDEVectorField(generator.vector_field)
    cde_field = CDEVectorField(discriminator.vector_field)
    t = times[3]
    x = torch.randn(batch, generator.vector_field.hidden_size)
    h = torch.randn(batch, discriminator.vector_field.hidden_size)

    def autograd_vjp(field, state) -> None:
        leaf = state.detach().requires_grad_(True)
        with torch.enable_grad():
            outputs = [value for value in field.evaluate(t, leaf) if value is not None]
        torch.autograd.grad(outputs, (leaf, *field.parameters), [torch.ones_like(v) for v in outputs])

    def vjp(field, state) -> None:  # what the reversible backward step does
        with torch.no_grad():
            evaluation, pullback = field.evaluate_with_vjp(t, state)
            pullback(tuple(None if value is None else torch.ones_like(value) for value in evaluation))

    def brownian_query(kind: str) -> Callable[[], None]:
        state = {}

        def query() -> None:  # a fresh motion per solve, asked for its steps in order, as the generator does
            n = state.get("n", steps)
            if n == steps:
                state["bm"] = make_brownian(kind, 0.0, float(steps), (batch, NOISE), torch.float32,
                                            torch.device("cpu"), 1.0)
                n = 0
            state["bm"](float(n), float(n + 1))
            state["n"] = n + 1

        return query

    path = torchcde.LinearInterpolation(coefficients)
    cde_times = path.interval
    optimiser = step.optimiser
    for parameter in list(generator.parameters()) + list(discriminator.parameters()):
        parameter.grad = torch.zeros_like(parameter)
    calls = max(1, 20 // max(1, batch // 64))
    fine = 200
    parts = [
        ("whole training step (brownian=interval)", median_seconds(lambda: step(index), 2, repeats), 1),
        ("whole training step (brownian=grid)", median_seconds(lambda: grid_step(index), 2, repeats), 1),
        ("generator solve, forward", median_seconds(generator_forward, calls, repeats), 1),
        ("generator solve, forward + backward", median_seconds(generator_forward_backward, calls, repeats), 1),
        ("discriminator solve, forward", median_seconds(discriminator_forward, calls, repeats), 2),
        ("discriminator solve, forward + backward (parameters only: the real batch)",
         median_seconds(discriminator_forward_backward, calls, repeats), 1),
        ("discriminator solve, forward + backward (parameters and path: the generated batch)",
         median_seconds(discriminator_forward_backward_to_generated_path, calls, repeats), 1),
        ("once per step: Discriminator.coefficients of the real batch (filled by the datamodule: checks only)",
         median_seconds(lambda: discriminator.coefficients(real), calls, repeats), 1),
        ("(for comparison) Discriminator.coefficients of the real batch with its missing values",
         median_seconds(lambda: discriminator.coefficients(real_with_missing_values), calls, repeats), 1),
        ("once per step: Adadelta step", median_seconds(optimiser.step, calls, repeats), 1),
        ("once per step: clip_linear_weights", median_seconds(lambda: clip_linear_weights(discriminator), fine,
                                                              repeats), 1),
        ("per solve: make_step_grid", median_seconds(lambda: make_step_grid(times, 1.0), fine, repeats), 3),
        ("per solver step: generator f_and_g evaluation (no autograd)",
         median_seconds(evaluation(sde_field, x), fine, repeats), steps + 1),
        ("per solver step: generator evaluation + hand-written VJP (evaluate_with_vjp)",
         median_seconds(lambda: vjp(sde_field, x), fine, repeats), steps + 1),
        ("(for comparison) generator evaluation with autograd + VJP",
         median_seconds(lambda: autograd_vjp(sde_field, x), fine, repeats), steps + 1),
        ("per solver step: discriminator evaluation (no autograd)",
         median_seconds(evaluation(cde_field, h), fine, repeats), 2 * (steps + 1)),
        ("per solver step: discriminator evaluation + hand-written VJP (evaluate_with_vjp)",
         median_seconds(lambda: vjp(cde_field, h), fine, repeats), 2 * (steps + 1)),
        ("(for comparison) discriminator evaluation with autograd + VJP",
         median_seconds(lambda: autograd_vjp(cde_field, h), fine, repeats), 2 * (steps + 1)),
        ("per solver step: Brownian Interval query", median_seconds(brownian_query("interval"), fine, repeats),
         2 * steps),
        ("per solver step: grid Brownian query", median_seconds(brownian_query("grid"), fine, repeats), 2 * steps),
        ("per grid time: torchcde LinearInterpolation.evaluate (path increments)",
         median_seconds(lambda: path.evaluate(cde_times[0]), fine, repeats), 2 * (steps + 1)),
    ]
    if compiled:
        parts += compiled_evaluations(sde_field, cde_field, t, x, h, fine, repeats, steps)
        parts += compiled_solver_step(sde_field, times, x, fine, repeats, steps)
    return parts


def compiled_evaluations(sde_field, cde_field, t, x, h, calls: int, repeats: int, steps: int):
    """Rows for the generator's and the discriminator's evaluations through ``torch.compile`` (no autograd), each
    named with its largest difference to the eager evaluation."""
    rows = []
    for name, field, state, per_step in (("generator f_and_g", sde_field, x, steps + 1),
                                         ("discriminator", cde_field, h, 2 * (steps + 1))):
        function = torch.compile(lambda time, value, field=field: field._evaluate(time, value), dynamic=False)
        with torch.no_grad():
            started = time.perf_counter()
            compiled_values = function(t, state)
            build = time.perf_counter() - started
            eager_values = field._evaluate(t, state)
        difference = max(float((a - b).abs().max()) for a, b in zip(compiled_values, eager_values) if a is not None)

        def evaluate(function=function, state=state) -> object:
            with torch.no_grad():
                return function(t, state)

        rows.append((f"per solver step: {name} evaluation, torch.compile'd (no autograd; built in {build:.0f} s; "
                     f"max abs(compiled - eager) {difference:.2g})", median_seconds(evaluate, calls, repeats), per_step))
    return rows


def compiled_solver_step(sde_field, times, x, calls: int, repeats: int, steps: int):
    """Rows for one reversible Heun step of the generator (no autograd, as in the forward solve of
    ``gradient="reversible"``), eager and through ``torch.compile``, the latter named with its largest difference
    to the eager step."""
    solver = ReversibleHeun(sde_field)
    t0, t1 = times[3], times[4]
    step_size = float(t1 - t0)
    increment = Increment(torch.randn(x.size(0), NOISE))
    with torch.no_grad():
        state = solver.initial_state(t0, x)
    compiled_step = torch.compile(solver.step, dynamic=False)

    def step_with(function) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad():
                return function(t0, t1, step_size, state, increment)

        return run

    started = time.perf_counter()
    compiled_state = step_with(compiled_step)()
    build = time.perf_counter() - started
    eager_state = step_with(solver.step)()
    difference = float((compiled_state[0] - eager_state[0]).abs().max())
    name = "per solver step: generator reversible Heun step (evaluation and arithmetic, no autograd)"
    return [(name, median_seconds(step_with(solver.step), calls, repeats), steps),
            (f"{name}, torch.compile'd (built in {build:.0f} s; max abs(compiled - eager) {difference:.2g})",
             median_seconds(step_with(compiled_step), calls, repeats), steps)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile'd evaluations and a compiled solver step")
    args = parser.parse_args()
    torch.set_num_threads(1)
    parts = measure(args.batch, args.repeats, args.compile)
    step_seconds = parts[0][1][0]
    print(f"batch {args.batch}, {LENGTH} observation times ({LENGTH - 1} solver steps per solve), one thread; "
          f"medians of {args.repeats} repeats\n")
    print("| part | us per call | ATen operators per call | calls per training step | ms per training step | "
          "share of the step |")
    print("|---|---|---|---|---|---|")
    for name, (seconds, operators), calls in parts:
        total = seconds * calls
        print(f"| {name} | {1e6 * seconds:.1f} | {operators:.1f} | {calls} | {1e3 * total:.2f} | "
              f"{100 * total / step_seconds:.0f}% |")


if __name__ == "__main__":
    main()
