"""Reversible Runge-Kutta vs direct backprop vs continuous adjoint vs checkpointing: memory, time, gradient error.

    python experiments/reversible_rk_gradients.py            # full size
    python experiments/reversible_rk_gradients.py --quick    # seconds

Claim (McCallum & Foster 2024): reversible solvers give gradients as exact as direct backprop (error ~1e-7 in
their float32 runs, where the continuous adjoint gives ~1e-4) with memory independent of the number of steps
(e.g. neural CDE RK4 1904 MB direct vs 480 MB reversible), and are faster than recursive checkpointing.

Three tasks, each solved through ``sdegan.solvers`` for several numbers of steps:
- ``ode``: ``odeint`` of a neural ODE (MLP vector field), loss on the final state;
- ``cde``: ``cdeint`` of a neural CDE driven by random-walk paths (linear interpolation);
- ``sde``: ``sdeint`` of a Stratonovich general-noise neural SDE of the SDE-GAN generator's sizes on [0, 16].
Gradient methods: ``direct`` (backprop through the solver), ``checkpoint`` (direct backprop with
``torch.utils.checkpoint`` around ~sqrt(steps) equal segments of the solve; implemented here, not in the solvers),
``adjoint`` and ``reversible`` (exact reconstruction). ``adjoint`` with midpoint is the continuous adjoint,
called here from torchdiffeq / torchcde / torchsde directly as the baseline (``sdegan.solvers`` refuses it: it
is not the gradient of the discretisation); with reversible Heun it is ``sdegan.solvers``' exact discrete
adjoint (the reversible backward pass, on the same grid as the forward pass).
Each gradient's error is measured against direct backprop through the *same* discretisation in float64
(``grad_error_float64``), and the float32 gradient against that same float64 reference (``grad_error_float32``).
Memory is the bytes autograd saves for the backward pass during the forward solve (saved_tensors_hooks).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
import torch
import torchcde
import torchdiffeq
import torchsde
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint
from torchsde import BaseBrownian

from measure import EvaluationCount, SavedTensorBytes, experiment_arguments, relative_error, time_call
from neural_problems import CDEField, NeuralSDE, ODEField, random_walk_paths
from results_table import PaperFigure, summarise, write_results
from sdegan.solvers import cdeint, make_brownian, odeint, sdeint

NAME = "reversible_rk_gradients"
TASKS = ("ode", "cde", "sde")
SDE_HORIZON = 16.0  # the neural SDE is solved on [0, SDE_HORIZON] (the ODE on [0, 1], the CDE over the path)
# (method, gradient) pairs per task; each gradient's error is measured against (method, "direct").
SETTINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "ode": (("midpoint", "direct"), ("midpoint", "checkpoint"), ("midpoint", "adjoint"),
            ("reversible_midpoint", "direct"), ("reversible_midpoint", "reversible")),
    "cde": (("midpoint", "direct"), ("midpoint", "checkpoint"), ("midpoint", "adjoint"),
            ("reversible_midpoint", "direct"), ("reversible_midpoint", "reversible")),
    "sde": (("midpoint", "direct"), ("midpoint", "checkpoint"), ("midpoint", "adjoint"),
            ("reversible_midpoint", "reversible"), ("reversible_heun", "direct"), ("reversible_heun", "reversible"),
            ("reversible_heun", "adjoint")),
}


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What one run measures."""

    steps: Sequence[int]
    batch: int
    seeds: int
    tasks: Sequence[str] = TASKS


FULL = Sizes(steps=(16, 64, 256, 1024), batch=256, seeds=5)
QUICK = Sizes(steps=(4, 8), batch=4, seeds=2)


class CastBrownian(BaseBrownian):
    """A float64 Brownian motion whose increments are returned in ``dtype`` (the same sample in both precisions)."""

    def __init__(self, brownian: BaseBrownian, dtype: torch.dtype) -> None:
        self._brownian, self._dtype = brownian, dtype

    def __call__(self, ta, tb=None, return_U=False, return_A=False):
        return self._brownian(ta, tb, return_U, return_A).to(self._dtype)

    def __repr__(self) -> str:
        return f"CastBrownian({self._brownian!r}, {self._dtype})"

    dtype = property(lambda self: self._dtype)
    device = property(lambda self: self._brownian.device)
    shape = property(lambda self: self._brownian.shape)
    levy_area_approximation = property(lambda self: self._brownian.levy_area_approximation)


class Problem:
    """One task at one size and seed: networks, inputs, and ``loss(method, gradient)``.

    Random inputs and the Brownian sample are drawn in float64 and cast, so the float32 and float64 problems of a
    seed are the same problem up to rounding.
    """

    def __init__(self, task: str, num_steps: int, batch: int, seed: int, dtype: torch.dtype) -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        self.task, self.num_steps = task, num_steps
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        if task == "ode":
            self.field: nn.Module = ODEField().to(dtype)
            self.counted = self.field
            self.y0 = torch.randn(batch, 16, generator=generator, dtype=torch.float64).to(dtype)
            self.t_end, self.dt = 1.0, 1.0 / num_steps
        elif task == "cde":
            self.field = CDEField().to(dtype)
            self.counted = self.field
            paths = random_walk_paths(batch, num_steps + 1, 3, generator, torch.float64).to(dtype)
            self.path = torchcde.LinearInterpolation(torchcde.linear_interpolation_coeffs(paths))
            self.y0 = torch.randn(batch, 16, generator=generator, dtype=torch.float64).to(dtype)
            self.t_end, self.dt = float(num_steps), 1.0
        else:
            sde = NeuralSDE().to(dtype)
            self.field, self.counted = sde, sde.drift
            self.y0 = torch.randn(batch, sde.state_size, generator=generator, dtype=torch.float64).to(dtype)
            self.t_end, self.dt = SDE_HORIZON, SDE_HORIZON / num_steps
            exact = make_brownian("interval", 0.0, self.t_end, (batch, sde.brownian_size), torch.float64,
                                  torch.device("cpu"), self.dt, entropy=seed)
            self.brownian = exact if dtype == torch.float64 else CastBrownian(exact, dtype)
        self.y0.requires_grad_(True)
        self.inputs = [self.y0, *self.field.parameters()]

    def _continuous_adjoint(self, y: Tensor, ts: Tensor, method: str) -> Tensor:
        """The libraries' continuous adjoint on their own fixed grid (the baseline sdegan.solvers refuses)."""
        params = tuple(self.field.parameters())
        if self.task == "ode":
            return torchdiffeq.odeint_adjoint(self.field, y, ts, method=method, options=dict(step_size=self.dt),
                                              adjoint_params=params)[-1]
        if self.task == "cde":
            return torchcde.cdeint(X=self.path, func=self.field, z0=y, t=ts, adjoint=True, method=method,
                                   options=dict(step_size=self.dt), adjoint_params=params)[:, -1]
        return torchsde.sdeint_adjoint(self.field, y, ts, bm=self.brownian, method=method, dt=self.dt)[-1]

    def _solve_span(self, y: Tensor, t_start: float, t_end: float, method: str, gradient: str) -> Tensor:
        ts = torch.tensor([t_start, t_end], dtype=y.dtype)
        if gradient == "adjoint" and not method.startswith("reversible"):
            return self._continuous_adjoint(y, ts, method)
        if self.task == "ode":
            return odeint(self.field, y, ts, method=method, gradient=gradient, dt=self.dt)[-1]
        if self.task == "cde":
            return cdeint(self.field, y, self.path, ts, method=method, gradient=gradient, dt=self.dt)[-1]
        return sdeint(self.field, y, ts, method=method, gradient=gradient, brownian=self.brownian, dt=self.dt)[-1]

    def loss(self, method: str, gradient: str) -> Tensor:
        """The scalar loss of one forward solve (``gradient="checkpoint"``: direct backprop, checkpointed)."""
        if gradient != "checkpoint":
            final = self._solve_span(self.y0, 0.0, self.t_end, method, gradient)
        else:
            segments = max(d for d in range(1, math.isqrt(self.num_steps) + 1) if self.num_steps % d == 0)
            steps_per_segment = self.num_steps // segments
            bounds = [k * steps_per_segment * self.dt for k in range(segments + 1)]
            final = self.y0
            for a, b in zip(bounds, bounds[1:]):
                final = checkpoint(self._solve_span, final, a, b, method, "direct", use_reentrant=True)
        return final.square().mean()

    def gradients(self, method: str, gradient: str) -> Tensor:
        """All input gradients (initial state and parameters), flattened, from ``loss().backward()``."""
        for tensor in self.inputs:
            tensor.grad = None
        self.loss(method, gradient).backward()
        return torch.cat([tensor.grad.flatten() for tensor in self.inputs])


def measure(task: str, num_steps: int, batch: int, seed: int) -> list[dict]:
    """Rows for every setting of ``task`` at one size and seed."""
    fast = Problem(task, num_steps, batch, seed, torch.float32)
    exact = Problem(task, num_steps, batch, seed, torch.float64)
    references = {method: exact.gradients(method, "direct") for method, gradient in SETTINGS[task] if gradient == "direct"}
    rows = []
    for method, gradient in SETTINGS[task]:
        reference = references.get(method)
        if reference is None:
            reference = exact.gradients(method, "direct")
        error64 = relative_error(exact.gradients(method, gradient), reference)
        fast.gradients(method, gradient)  # warm-up
        with SavedTensorBytes() as saved:
            loss = fast.loss(method, gradient)
        del loss
        with EvaluationCount(fast.counted) as count:
            seconds = time_call(lambda: fast.gradients(method, gradient))
        error32 = relative_error(fast.gradients(method, gradient), reference)
        rows.append(dict(task=task, method=method, gradient=gradient, steps=num_steps, seed=seed,
                         saved_mb=saved.bytes / 2**20, time_s=seconds, nfe=count.count,
                         grad_error_float64=error64, grad_error_float32=error32))
    return rows


def run(sizes: Sizes) -> pd.DataFrame:
    rows = []
    for task in sizes.tasks:
        for num_steps in sizes.steps:
            for seed in range(sizes.seeds):
                rows += measure(task, num_steps, sizes.batch, seed)
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame) -> Callable[[Path], None]:
    def draw(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        tasks = list(dict.fromkeys(table.task))
        fig, axes = plt.subplots(2, len(tasks), figsize=(4.2 * len(tasks), 6.4), squeeze=False)
        for column, task in enumerate(tasks):
            rows = table[table.task == task]
            for (method, gradient), group in rows.groupby(["method", "gradient"], sort=False):
                label = f"{method} / {gradient}"
                axes[0, column].plot(group.steps, group.saved_mb_mean, marker="o", label=label)
                axes[1, column].plot(group.steps, group.time_s_median, marker="o", label=label)
            axes[0, column].set(title=task, yscale="log", ylabel="saved for backward (MB)")
            axes[1, column].set(yscale="log", xlabel="steps", ylabel="median time fwd+bwd (s)")
            for axis in axes[:, column]:
                axis.set_xscale("log", base=2)
                axis.set_xticks(sorted(set(rows.steps)), [str(steps) for steps in sorted(set(rows.steps))])
                axis.minorticks_off()
            axes[0, column].legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)

    return draw


def headline(table: pd.DataFrame) -> list[PaperFigure]:
    """Memory ratio direct / reversible and the gradient errors at the largest number of steps."""
    largest = table[table.steps == table.steps.max()]
    tasks = list(dict.fromkeys(table.task))

    def value(task: str, method: str, gradient: str, column: str) -> float:
        row = largest[(largest.task == task) & (largest.method == method) & (largest.gradient == gradient)]
        return float(row[column].iloc[0])

    memory = ", ".join(
        f"{task} {value(task, 'midpoint', 'direct', 'saved_mb_mean'):.3g} MB vs "
        f"{value(task, 'reversible_midpoint', 'reversible', 'saved_mb_mean'):.3g} MB" for task in tasks
    )
    reversible = max(value(task, "reversible_midpoint", "reversible", "grad_error_float32_mean") for task in tasks)
    adjoint = [value(task, "midpoint", "adjoint", "grad_error_float32_mean") for task in tasks]
    checkpoint_ratio = [value(task, "midpoint", "checkpoint", "time_s_median")
                        / value(task, "reversible_midpoint", "reversible", "time_s_median") for task in tasks]
    steps = int(table.steps.max())
    return [
        PaperFigure(f"memory, direct midpoint vs reversible midpoint ({steps} steps)",
                    "CNF 4016 MB vs 576 MB; neural CDE (RK4) 1904 MB vs 480 MB", memory),
        PaperFigure("float32 gradient error vs direct backprop: reversible", "~1e-7", f"up to {reversible:.2g}"),
        PaperFigure("float32 gradient error vs direct backprop: continuous adjoint", "~1e-4",
                    f"{min(adjoint):.2g} to {max(adjoint):.2g}"),
        PaperFigure("time of checkpointing / time of reversible", "2-3x",
                    f"{min(checkpoint_ratio):.2g}x to {max(checkpoint_ratio):.2g}x"),
    ]


def main() -> None:
    parser = experiment_arguments(__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", help="override the numbers of steps")
    parser.add_argument("--batch", type=int, help="override the batch size")
    parser.add_argument("--seeds", type=int, help="override the number of seeds")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, help="run only these tasks")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = QUICK if args.quick else FULL
    overrides = {key: value for key, value in dict(batch=args.batch, seeds=args.seeds).items() if value is not None}
    if args.steps:
        overrides["steps"] = tuple(args.steps)
    if args.tasks:
        overrides["tasks"] = tuple(args.tasks)
    sizes = dataclasses.replace(sizes, **overrides)

    raw = run(sizes)
    table = summarise(raw, by=["task", "method", "gradient", "steps"],
                      values=["saved_mb", "time_s", "nfe", "grad_error_float64", "grad_error_float32"],
                      statistics=("median", "mean", "std"))
    write_results(
        NAME,
        table,
        args.output_dir,
        title="Reversible Runge-Kutta vs direct backprop vs continuous adjoint vs checkpointing",
        description=__doc__.split("\n\n", 2)[2].strip(),
        budget=(f"{'quick mode' if args.quick else 'full size'}: steps {list(sizes.steps)}, batch {sizes.batch}, "
                f"{sizes.seeds} seeds (network initialisation, data and Brownian sample); one timed call per seed "
                "after a warm-up; one torch thread"),
        paper=headline(table),
        notes=[
            "saved_mb counts each distinct storage saved for backward once (parameters included); it excludes "
            "what a backward pass allocates while it runs (recomputation of a checkpointed segment, the "
            "reversible reconstruction's single step, and for CDEs the path's controls, which a reversible "
            "backward pass recomputes from the path instead of keeping them).",
            "nfe counts forward calls of the vector-field network (SDE: the drift network) during one forward + "
            "backward.",
            "Errors: max |g - g_ref| / max |g_ref| over the gradients of the initial state and every parameter; "
            "g_ref = direct backprop through the same method in float64. The continuous adjoint's error is a "
            "discretisation error of the adjoint equation (it does not vanish in float64); the reversible "
            "method's float32 error is the reconstruction's round-off.",
            *args.note,
        ],
        plot=plot(table),
    )


if __name__ == "__main__":
    main()
