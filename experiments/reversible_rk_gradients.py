"""Reversible Runge-Kutta vs recursive checkpointing at equal memory vs direct backprop vs continuous adjoint.

    python experiments/reversible_rk_gradients.py            # full size (a few minutes on one core)
    python experiments/reversible_rk_gradients.py --quick    # seconds

Claim (McCallum & Foster 2024): reversible solvers give gradients as exact as direct backprop (error ~1e-7 in
their float32 runs, where the continuous adjoint gives ~1e-4) with memory independent of the number of steps
(e.g. neural CDE RK4 1904 MB direct vs 480 MB reversible), and are 2-3x faster than recursive checkpointing at
equal memory.

Three tasks, each solved through ``sdegan.solvers`` for several numbers of steps:
- ``ode``: ``odeint`` of a neural ODE (MLP vector field), loss on the final state;
- ``cde``: ``cdeint`` of a neural CDE driven by random-walk paths (linear interpolation);
- ``sde``: ``sdeint`` of a Stratonovich general-noise neural SDE of the SDE-GAN generator's sizes on [0, 16].
Gradient methods: ``direct`` (backprop through the solver); ``recursive_checkpoint``: binomial (treeverse)
checkpointing of the plain solver's steps, saving ``checkpoints`` states for backward, their count chosen per problem
so that the bytes it saves match the reversible solve's (implemented here, not in the solvers: one
solve per step, recomputing from the nearest checkpoint with the schedule that minimises recomputed steps);
``segment_checkpoint``: the old baseline for reference, ``torch.utils.checkpoint`` around ~sqrt(steps) equal
segments (it saves few bytes, but its backward pass rebuilds a whole segment's graph); ``adjoint`` with midpoint:
the continuous adjoint, called from torchdiffeq / torchcde / torchsde directly (``sdegan.solvers`` refuses it: it is
not the gradient of the discretisation); ``reversible``: the exact reversible backward pass of reversible
Runge-Kutta (several base methods) and reversible Heun.
Each gradient's error is measured against direct backprop through the *same* discretisation in float64
(``grad_error_float64``), and the float32 gradient against that same float64 reference (``grad_error_float32``).
``saved_bytes``: the bytes autograd saves for the backward pass during the forward solve (saved_tensors_hooks,
``SavedTensorBytes``); ``peak_bytes``: the most bytes torch held at once over forward + backward (profiler memory
events), which also counts what a backward pass allocates (recomputed segments, checkpoints, adjoint states).
Times are forward + backward in float32, one torch thread, the median over repeats interleaved across the
gradient methods in one process.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import statistics
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torchcde
import torchdiffeq
import torchsde
from torch import Tensor, nn
from torch.profiler import ProfilerActivity, profile
from torch.utils.checkpoint import checkpoint
from torchsde import BaseBrownian

from measure import EvaluationCount, SavedTensorBytes, experiment_arguments, relative_error, time_call
from neural_problems import CDEField, NeuralSDE, ODEField, random_walk_paths
from results_table import PaperFigure, summarise, write_results
from sdegan.solvers import SolveSpec, make_brownian

NAME = "reversible_rk_gradients"
TASKS = ("ode", "cde", "sde")
SDE_HORIZON = 16.0  # the neural SDE is solved on [0, SDE_HORIZON] (the ODE on [0, 1], the CDE over the path)
MATCHED = ("reversible_midpoint", "reversible")  # the reversible solve whose saved bytes checkpointing matches
CHECKPOINTED = ("midpoint", "recursive_checkpoint")
_PLAIN = (("midpoint", "direct"), CHECKPOINTED, ("midpoint", "segment_checkpoint"), ("midpoint", "adjoint"))
# (method, gradient) pairs per task; each gradient's error is measured against (method, "direct").
SETTINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "ode": (*_PLAIN, ("reversible_euler", "reversible"), MATCHED, ("reversible_rk4", "reversible")),
    "cde": (*_PLAIN, ("reversible_euler", "reversible"), MATCHED, ("reversible_rk4", "reversible")),
    "sde": (*_PLAIN, MATCHED, ("reversible_heun", "reversible")),
}


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What one run measures."""

    steps: Sequence[int]
    batch: int
    seeds: int
    repeats: int
    tasks: Sequence[str] = TASKS


FULL = Sizes(steps=(16, 64, 256), batch=64, seeds=2, repeats=5)
QUICK = Sizes(steps=(4, 8), batch=4, seeds=1, repeats=2)


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


# ---------------------------------------------------------------- recursive (binomial) checkpointing


@functools.lru_cache(maxsize=None)
def checkpoint_schedule(num_steps: int, free_slots: int) -> tuple[np.ndarray, np.ndarray]:
    """The split points minimising recomputation when reversing up to ``num_steps`` steps from a stored state.

    ``cost[s, L]`` is the fewest steps recomputed (without autograd) to backpropagate through ``L`` steps from
    their stored initial state with ``s`` more states storable at once: with none, step ``k`` is reached again
    from the start (``L (L - 1) / 2``); otherwise advance ``j`` steps, store that state, reverse the last ``L - j``
    steps with ``s - 1`` slots, free it and reverse the first ``j`` with ``s`` slots (Griewank's binomial
    checkpointing, optimal split by dynamic programming). ``split[s, L]`` is the best ``j``.
    """
    lengths = np.arange(num_steps + 1)
    cost = np.zeros((free_slots + 1, num_steps + 1), dtype=np.int64)
    split = np.zeros((free_slots + 1, num_steps + 1), dtype=np.int64)
    cost[0] = lengths * (lengths - 1) // 2
    for s in range(1, free_slots + 1):
        for length in range(2, num_steps + 1):
            j = np.arange(1, length)
            candidates = j + cost[s - 1, length - j] + cost[s, j]
            best = int(np.argmin(candidates))
            cost[s, length], split[s, length] = candidates[best], j[best]
    return cost, split


def forward_checkpoint_steps(num_steps: int, checkpoints: int) -> list[int]:
    """The steps whose states the forward solve stores besides the initial one (the schedule's first descent)."""
    free = min(checkpoints - 1, max(num_steps - 1, 0))
    _, split = checkpoint_schedule(num_steps, free)
    stored, start = [], 0
    while free > 0 and num_steps - start > 1:
        start += int(split[free, num_steps - start])
        stored.append(start)
        free -= 1
    return stored


class RecursiveCheckpoint(torch.autograd.Function):
    """Backpropagation through ``num_steps`` calls ``y = step(n, y)`` saving ``checkpoints`` states for backward.

    The forward pass runs without autograd and saves the initial state and the states of
    :func:`forward_checkpoint_steps`; the backward pass recomputes every other state it needs from the nearest
    stored one (:func:`checkpoint_schedule`, at most ``checkpoints - 1`` further states at once, while the saved
    ones stay held until it ends) and differentiates one step at a time.
    """

    @staticmethod
    def forward(ctx, step, num_steps, checkpoints, y0, *params):
        stored_steps = forward_checkpoint_steps(num_steps, checkpoints)
        stored = []
        with torch.no_grad():
            y = y0
            for n in range(num_steps):
                if n in stored_steps:
                    stored.append(y.clone())
                y = step(n, y)
        ctx.step, ctx.num_steps, ctx.stored_steps, ctx.params = step, num_steps, stored_steps, params
        ctx.free = min(checkpoints - 1, max(num_steps - 1, 0))
        ctx.save_for_backward(y0, *stored)
        return y.clone()

    @staticmethod
    def backward(ctx, adjoint):
        y0, *stored = ctx.saved_tensors
        step, num_steps, inputs = ctx.step, ctx.num_steps, ctx.params
        known = dict(zip(ctx.stored_steps, stored))
        _, split = checkpoint_schedule(num_steps, ctx.free)
        grads = [torch.zeros_like(p) for p in inputs]

        def advance(y: Tensor, start: int, end: int) -> Tensor:
            with torch.no_grad():
                for n in range(start, end):
                    y = step(n, y)
            return y

        def differentiate(n: int, y: Tensor, adjoint: Tensor) -> Tensor:
            leaf = y.detach().requires_grad_(True)
            with torch.enable_grad():
                out = step(n, leaf)
            vjp = torch.autograd.grad(out, (leaf, *inputs), adjoint, allow_unused=True)
            for total, part in zip(grads, vjp[1:]):
                if part is not None:
                    total.add_(part)
            return vjp[0]

        def reverse(start: int, end: int, y: Tensor, free: int, adjoint: Tensor) -> Tensor:
            if end - start == 1:
                return differentiate(start, y, adjoint)
            if free == 0:
                for n in reversed(range(start, end)):
                    adjoint = differentiate(n, advance(y, start, n), adjoint)
                return adjoint
            middle = start + int(split[free, end - start])
            y_middle = known.pop(middle) if middle in known else advance(y, start, middle)
            adjoint = reverse(middle, end, y_middle, free - 1, adjoint)
            del y_middle
            return reverse(start, middle, y, free, adjoint)

        grad_y0 = reverse(0, num_steps, y0, ctx.free, adjoint)
        return (None, None, None, grad_y0, *grads)


# ---------------------------------------------------------------- the problems


class Problem:
    """One task at one size and seed: networks, inputs, and ``solve(method, gradient)``.

    Random inputs and the Brownian sample are drawn in float64 and cast, so the float32 and float64 problems of a
    seed are the same problem up to rounding. ``checkpoints`` is the recursive checkpointing's number of states.
    """

    def __init__(self, task: str, num_steps: int, batch: int, seed: int, dtype: torch.dtype) -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        self.task, self.num_steps, self.dtype = task, num_steps, dtype
        self.checkpoints = 1
        self._specs: dict[tuple, SolveSpec] = {}
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        self.brownian = None
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
        self.params = tuple(self.field.parameters())
        self.inputs = [self.y0, *self.params]

    def _continuous_adjoint(self, y: Tensor, ts: Tensor, method: str) -> Tensor:
        """The libraries' continuous adjoint on their own fixed grid (the baseline sdegan.solvers refuses)."""
        if self.task == "ode":
            return torchdiffeq.odeint_adjoint(self.field, y, ts, method=method, options=dict(step_size=self.dt),
                                              adjoint_params=self.params)[-1]
        if self.task == "cde":
            return torchcde.cdeint(X=self.path, func=self.field, z0=y, t=ts, adjoint=True, method=method,
                                   options=dict(step_size=self.dt), adjoint_params=self.params)[:, -1]
        return torchsde.sdeint_adjoint(self.field, y, ts, bm=self.brownian, method=method, dt=self.dt)[-1]

    def _solve_span(self, y: Tensor, start: int, end: int, method: str, gradient: str) -> Tensor:
        """The state after steps ``start`` to ``end`` (exclusive) from ``y`` at step ``start``."""
        ts = torch.tensor([start * self.dt, end * self.dt], dtype=self.dtype)
        if gradient == "adjoint" and not method.startswith("reversible"):
            return self._continuous_adjoint(y, ts, method)
        key = (start, end, method, gradient)
        if key not in self._specs:  # built once: a checkpointed solve calls one spec per step many times
            self._specs[key] = SolveSpec.build(self.task, method=method, gradient=gradient, dt=self.dt, times=ts,
                                               brownian=self.brownian)
        spec = self._specs[key]
        if self.task == "cde":
            return spec.solve(self.field, y, self.path)[-1]
        return spec.solve(self.field, y)[-1]

    def segments(self) -> int:
        """The old checkpointing baseline's number of equal segments: the largest divisor <= sqrt(steps)."""
        return max(d for d in range(1, math.isqrt(self.num_steps) + 1) if self.num_steps % d == 0)

    def solve(self, method: str, gradient: str) -> Tensor:
        """The final state of one forward solve from ``y0`` (differentiable as ``gradient`` says)."""
        if gradient == "recursive_checkpoint":
            step = functools.partial(self._one_step, method)
            return RecursiveCheckpoint.apply(step, self.num_steps, self.checkpoints, self.y0, *self.params)
        if gradient == "segment_checkpoint":
            length = self.num_steps // self.segments()
            final = self.y0
            for start in range(0, self.num_steps, length):
                final = checkpoint(self._solve_span, final, start, start + length, method, "direct",
                                   use_reentrant=True)
            return final
        return self._solve_span(self.y0, 0, self.num_steps, method, gradient)

    def _one_step(self, method: str, n: int, y: Tensor) -> Tensor:
        return self._solve_span(y, n, n + 1, method, "direct")

    def gradients(self, method: str, gradient: str) -> Tensor:
        """All input gradients (initial state and parameters), flattened, of the loss mean(final state ** 2)."""
        for tensor in self.inputs:
            tensor.grad = None
        self.solve(method, gradient).square().mean().backward()
        return torch.cat([tensor.grad.flatten() for tensor in self.inputs])

    def saved_bytes(self, method: str, gradient: str) -> int:
        """Bytes autograd saves for backward during one forward solve (:class:`SavedTensorBytes`)."""
        with SavedTensorBytes() as saved:
            final = self.solve(method, gradient)
        del final
        return saved.bytes


def choose_checkpoints(problem: Problem, target_bytes: int) -> tuple[int, int]:
    """The recursive checkpointing's number of states whose saved bytes come closest to ``target_bytes``.

    Tries 1, 2, ... states (saved bytes grow with the count) until the bytes reach the target or stop growing;
    returns ``(count, saved bytes)``, the smaller count on a tie.
    """
    best: tuple[int, int] | None = None
    previous = -1
    for count in range(1, problem.num_steps + 1):
        problem.checkpoints = count
        saved = problem.saved_bytes(*CHECKPOINTED)
        if best is None or abs(saved - target_bytes) < abs(best[1] - target_bytes):
            best = (count, saved)
        if saved >= target_bytes or saved == previous:
            break
        previous = saved
    problem.checkpoints = best[0]
    return best


def peak_bytes(fn: Callable[[], object]) -> int:
    """The most bytes torch held at once during ``fn()`` beyond what it held before (profiler memory events)."""
    with tempfile.TemporaryDirectory() as folder:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
            fn()
        trace = Path(folder) / "trace.json"
        profiler.export_chrome_trace(str(trace))
        events = json.loads(trace.read_text())["traceEvents"]
    totals = [event["args"]["Total Allocated"] for event in events if event.get("name") == "[memory]"]
    return int(max(totals, default=0))


def measure(task: str, num_steps: int, batch: int, seed: int, repeats: int, peak: bool) -> list[dict]:
    """Rows for every setting of ``task`` at one size and seed."""
    settings = SETTINGS[task]
    fast = Problem(task, num_steps, batch, seed, torch.float32)
    exact = Problem(task, num_steps, batch, seed, torch.float64)
    saved = {setting: fast.saved_bytes(*setting) for setting in settings if setting != CHECKPOINTED}
    fast.checkpoints, saved[CHECKPOINTED] = choose_checkpoints(fast, saved[MATCHED])
    exact.checkpoints = fast.checkpoints

    references: dict[str, Tensor] = {}
    rows = []
    for method, gradient in settings:
        if method not in references:
            references[method] = exact.gradients(method, "direct")
        reference = references[method]
        with EvaluationCount(fast.counted) as count:
            error32 = relative_error(fast.gradients(method, gradient), reference)  # also the timing's warm-up
        count_used = dict(recursive_checkpoint=fast.checkpoints, segment_checkpoint=fast.segments())
        rows.append(dict(
            task=task, method=method, gradient=gradient, steps=num_steps, seed=seed,
            checkpoints=count_used.get(gradient, math.nan),
            saved_bytes=saved[(method, gradient)],
            saved_bytes_ratio_to_reversible=saved[(method, gradient)] / saved[MATCHED],
            nfe=count.count,
            peak_bytes=peak_bytes(lambda: fast.gradients(method, gradient)) if peak else math.nan,
            grad_error_float64=relative_error(exact.gradients(method, gradient), reference),
            grad_error_float32=error32,
        ))
    times: dict[tuple[str, str], list[float]] = {setting: [] for setting in settings}
    for repeat in range(repeats):  # interleaved: each repeat times every setting once, starting at another one
        for setting in settings[repeat % len(settings):] + settings[:repeat % len(settings)]:
            times[setting].append(time_call(lambda: fast.gradients(*setting)))
    for row in rows:
        row["time_s"] = statistics.median(times[(row["method"], row["gradient"])])
    return rows


def run(sizes: Sizes, peak_max_steps: int) -> pd.DataFrame:
    rows = []
    for task in sizes.tasks:
        for num_steps in sizes.steps:
            for seed in range(sizes.seeds):
                rows += measure(task, num_steps, sizes.batch, seed, sizes.repeats,
                                peak=seed == 0 and num_steps <= peak_max_steps)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- the report

KEYS = ["task", "method", "gradient", "steps"]
# Fixed by the problem's shapes (one value per setting whatever the seed), so they name the setting in the table.
SHAPE_DETERMINED = ["checkpoints", "saved_bytes", "saved_bytes_ratio_to_reversible", "nfe"]


def summary(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per setting: the shape-determined columns, and the median and max over seeds of the rest."""
    return summarise(raw, by=KEYS + SHAPE_DETERMINED,
                     values=["time_s", "peak_bytes", "grad_error_float64", "grad_error_float32"],
                     statistics=("median", "max"))


def _row(table: pd.DataFrame, task: str, steps: int, setting: tuple[str, str]) -> pd.Series:
    rows = table[(table.task == task) & (table.steps == steps) & (table.method == setting[0])
                 & (table.gradient == setting[1])]
    return rows.iloc[0]


def time_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Per task and size: the checkpoint count chosen, its bytes ratio, and each method's time over the matched
    reversible solve's."""
    rows = []
    for (task, steps), _ in table.groupby(["task", "steps"], sort=False):
        reversible = _row(table, task, steps, MATCHED)
        checkpointed = _row(table, task, steps, CHECKPOINTED)
        row = dict(task=task, steps=steps, checkpoints=int(checkpointed.checkpoints),
                   saved_bytes_ratio_to_reversible=checkpointed.saved_bytes_ratio_to_reversible)
        for setting in (CHECKPOINTED, ("midpoint", "segment_checkpoint"), ("midpoint", "direct"),
                        ("midpoint", "adjoint")):
            row[f"time_{setting[1]}_over_reversible"] = (_row(table, task, steps, setting).time_s_median
                                                        / reversible.time_s_median)
        rows.append(row)
    return pd.DataFrame(rows)


def _range(values: Sequence[float], digits: str = ".2g") -> str:
    low, high = min(values), max(values)
    return f"{low:{digits}}" if format(low, digits) == format(high, digits) else f"{low:{digits}} to {high:{digits}}"


def headline(table: pd.DataFrame, ratios: pd.DataFrame) -> list[PaperFigure]:
    """The paper's figures next to ours at the largest number of steps."""
    steps = int(table.steps.max())
    largest = ratios[ratios.steps == steps]
    tasks = list(largest.task)
    memory = ", ".join(f"{task} {_row(table, task, steps, ('midpoint', 'direct')).saved_bytes / 2**20:.3g} MB vs "
                       f"{_row(table, task, steps, MATCHED).saved_bytes / 2**20:.3g} MB" for task in tasks)
    reversible = table[(table.gradient == "reversible") & (table.steps == steps)].grad_error_float32_max
    adjoint = table[(table.gradient == "adjoint") & (table.steps == steps)].grad_error_float32_median
    return [
        PaperFigure(f"time of recursive checkpointing at equal memory / time of reversible ({steps} steps)", "2-3x",
                    f"{_range(largest.time_recursive_checkpoint_over_reversible)}x at saved-bytes ratio "
                    f"{_range(largest.saved_bytes_ratio_to_reversible, '.3g')} (checkpoints "
                    f"{_range(largest.checkpoints, 'd')})"),
        PaperFigure(f"memory saved for backward, direct midpoint vs reversible midpoint ({steps} steps)",
                    "CNF 4016 MB vs 576 MB; neural CDE (RK4) 1904 MB vs 480 MB", memory),
        PaperFigure("float32 gradient error vs direct backprop: reversible", "~1e-7",
                    f"up to {reversible.max():.2g}"),
        PaperFigure("float32 gradient error vs direct backprop: continuous adjoint", "~1e-4", _range(adjoint)),
    ]


def _compare(ours: float, low: float, high: float) -> str:
    if ours < low:
        return f"below the paper's {low:g}-{high:g}x"
    if ours > high:
        return f"above the paper's {low:g}-{high:g}x"
    return f"within the paper's {low:g}-{high:g}x"


def findings(table: pd.DataFrame, ratios: pd.DataFrame) -> list[str]:
    """Sentences read off the measured table."""
    lines = []
    for task, group in ratios.groupby("task", sort=False):
        parts = []
        for _, row in group.iterrows():
            ratio = row.time_recursive_checkpoint_over_reversible
            parts.append(f"{row.steps} steps: {row.checkpoints} checkpoints, saved bytes "
                         f"{row.saved_bytes_ratio_to_reversible:.3g}x the reversible's, time {ratio:.2g}x the "
                         f"reversible's ({_compare(ratio, 2, 3)})")
        lines.append(f"{task}, recursive checkpointing of midpoint vs reversible midpoint: " + "; ".join(parts) + ".")
    unmatched = ratios[ratios.saved_bytes_ratio_to_reversible != 1.0]
    if unmatched.empty:
        lines.append("The chosen checkpoint counts save exactly the reversible solve's bytes in every row.")
    for _, row in unmatched.iterrows():
        ratio = row.saved_bytes_ratio_to_reversible
        if ratio > 1 and row.checkpoints == 1:
            reason = "the minimum, 1 checkpoint (the initial state), already saves more"
        elif ratio < 1:
            reason = "these few steps need no more checkpoints, so more add no bytes"
        else:
            reason = "checkpoints come in whole states; this is the closest count"
        lines.append(f"{row.task} at {row.steps} steps: exact equality is impossible ({reason}); "
                     f"{row.checkpoints} checkpoints save {ratio:.3g}x the reversible's bytes.")
    peak = table.dropna(subset=["peak_bytes_median"])
    if not peak.empty:
        steps = int(peak.steps.max())
        parts = []
        for task in dict.fromkeys(peak.task):
            rows = {setting: _row(peak, task, steps, setting).peak_bytes_median
                    for setting in (MATCHED, CHECKPOINTED, ("midpoint", "segment_checkpoint"), ("midpoint", "direct"))}
            parts.append(f"{task} reversible {rows[MATCHED] / 2**20:.3g} MB, recursive checkpointing "
                         f"{rows[CHECKPOINTED] / 2**20:.3g} MB, segment checkpointing "
                         f"{rows[('midpoint', 'segment_checkpoint')] / 2**20:.3g} MB, direct "
                         f"{rows[('midpoint', 'direct')] / 2**20:.3g} MB")
        lines.append(f"Peak memory over forward + backward at {steps} steps: " + "; ".join(parts) + ".")
    exact = table[table.gradient.isin(["reversible", "recursive_checkpoint", "segment_checkpoint"])]
    lines.append(f"In float64 the reversible and checkpointed gradients differ from direct backprop by at most "
                 f"{exact.grad_error_float64_max.max():.2g} (relative); the continuous adjoint's by "
                 f"{_range(table[table.gradient == 'adjoint'].grad_error_float64_median)} (a discretisation error).")
    return lines


def plot(table: pd.DataFrame) -> Callable[[Path], None]:
    def draw(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        tasks = list(dict.fromkeys(table.task))
        panels = [("saved_bytes", "saved for backward (bytes)"), ("peak_bytes_median", "peak memory (bytes)"),
                  ("time_s_median", "median time fwd+bwd (s)")]
        fig, axes = plt.subplots(len(panels), len(tasks), figsize=(4.2 * len(tasks), 9.0), squeeze=False)
        for column, task in enumerate(tasks):
            rows = table[table.task == task]
            for (method, gradient), group in rows.groupby(["method", "gradient"], sort=False):
                for row, (value, _) in enumerate(panels):
                    axes[row, column].plot(group.steps, group[value], marker="o", label=f"{method} / {gradient}")
            axes[0, column].set_title(task)
            for row, (_, label) in enumerate(panels):
                axis = axes[row, column]
                axis.set(yscale="log", ylabel=label)
                axis.set_xscale("log", base=2)
                axis.set_xticks(sorted(set(rows.steps)), [str(steps) for steps in sorted(set(rows.steps))])
                axis.minorticks_off()
            axes[-1, column].set_xlabel("steps")
            axes[0, column].legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)

    return draw


def main() -> None:
    parser = experiment_arguments(__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", help="override the numbers of steps")
    parser.add_argument("--batch", type=int, help="override the batch size")
    parser.add_argument("--seeds", type=int, help="override the number of seeds")
    parser.add_argument("--repeats", type=int, help="override the number of timed repeats per seed")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, help="run only these tasks")
    parser.add_argument("--peak-max-steps", type=int, default=64,
                        help="measure peak memory (slow: the profiler records every operation; first seed only) up "
                             "to this many steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = QUICK if args.quick else FULL
    overrides = {key: value for key, value in dict(batch=args.batch, seeds=args.seeds, repeats=args.repeats).items()
                 if value is not None}
    if args.steps:
        overrides["steps"] = tuple(args.steps)
    if args.tasks:
        overrides["tasks"] = tuple(args.tasks)
    sizes = dataclasses.replace(sizes, **overrides)

    table = summary(run(sizes, args.peak_max_steps))
    ratios = time_ratios(table)
    write_results(
        NAME,
        table,
        args.output_dir,
        title="Reversible Runge-Kutta vs recursive checkpointing at equal memory vs direct backprop vs continuous "
              "adjoint",
        description=__doc__.split("\n\n", 2)[2].strip(),
        budget=(f"{'quick mode' if args.quick else 'full size'}: steps {list(sizes.steps)}, batch {sizes.batch}, "
                f"{sizes.seeds} seeds (network initialisation, data and Brownian sample), {sizes.repeats} timed "
                f"repeats per seed after a warm-up; peak memory for the first seed up to {args.peak_max_steps} "
                "steps; one torch thread"),
        paper=headline(table, ratios),
        extra_tables=[("Times over the matched reversible solve's (reversible midpoint)", ratios)],
        notes=[
            *findings(table, ratios),
            "checkpoints: the recursive checkpointing's number of states saved for backward (the initial state "
            "included; its backward pass holds at most checkpoints - 1 more at once), chosen per problem as the "
            "count whose saved bytes come closest to the reversible midpoint solve's (its final y and z); for "
            "segment_checkpoint, the number of segments. "
            "saved_bytes_ratio_to_reversible divides by the reversible midpoint solve's saved bytes.",
            "saved_bytes counts each distinct storage saved for backward once (parameters included when an operation "
            "saves them); it excludes what a backward pass allocates while it runs (a recomputed segment, the "
            "recursive checkpointing's further checkpoints, the reversible reconstruction's single step, and for "
            "CDEs the path's controls, which a reversible backward pass recomputes from the path); peak_bytes "
            "includes all of those.",
            "nfe counts forward calls of the vector-field network (SDE: the drift network) during one forward + "
            "backward; recursive checkpointing's recomputation shows there.",
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
