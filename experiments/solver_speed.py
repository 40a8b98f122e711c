"""Forward + backward time and function evaluations of reversible Heun implementations (acceptance item 7).

Compares, side by side in one process, on the SDE-GAN generator's sizes (state 16, noise 3, MLPs of width
16 with one hidden layer, LipSwish, tanh; batch 1024; 64 steps of dt = 1; Brownian Interval with the dt hint):

- ours: ``sdegan.solvers.sdeint(method="reversible_heun", gradient="reversible")``
- torchsde: ``torchsde.sdeint_adjoint(method="reversible_heun", adjoint_method="adjoint_reversible_heun")``
- midpoint: ``sdegan.solvers.sdeint(method="midpoint", gradient="direct")`` (torchsde's midpoint, backprop)

Writes results/solver_speed.csv and results/solver_speed.md (a ``--quick`` run writes to outputs/quick_results/
unless ``--output-dir`` is given). Usage:

    python experiments/solver_speed.py [--repeats 15] [--threads 1] [--device cpu] [--quick] [--note TEXT]
"""

from __future__ import annotations

import statistics
import time

import pandas as pd
import torch
import torchsde
from torch import nn

from measure import experiment_arguments
from results_table import write_results
from sdegan.nn import LipSwish
from sdegan.solvers import make_brownian, sdeint


def _mlp(in_size: int, out_size: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_size, width), LipSwish(), nn.Linear(width, out_size), nn.Tanh())


class GeneratorSDE(nn.Module):
    """The SDE-GAN generator's vector fields: general-noise Stratonovich SDE of (t, x)."""

    noise_type = "general"
    sde_type = "stratonovich"

    def __init__(self, state: int, noise: int, width: int):
        super().__init__()
        self.state, self.brownian_size = state, noise
        self.drift = _mlp(1 + state, state, width)
        self.diffusion = _mlp(1 + state, state * noise, width)
        self.evaluations = 0

    def f_and_g(self, t, x):
        self.evaluations += 1
        tx = torch.cat([t.expand(x.size(0), 1), x], dim=1)
        return self.drift(tx), self.diffusion(tx).view(x.size(0), self.state, self.brownian_size)

    def f(self, t, x):
        return self.f_and_g(t, x)[0]

    def g(self, t, x):
        return self.f_and_g(t, x)[1]


def _solve(name: str, sde: GeneratorSDE, x0, ts, bm, dt: float):
    if name == "ours reversible_heun + reversible":
        return sdeint(sde, x0, ts, method="reversible_heun", gradient="reversible", brownian=bm, dt=dt)
    if name == "torchsde reversible_heun + adjoint_reversible_heun":
        return torchsde.sdeint_adjoint(
            sde, x0, ts, bm=bm, method="reversible_heun", adjoint_method="adjoint_reversible_heun", dt=dt
        )
    if name == "midpoint + direct":
        return sdeint(sde, x0, ts, method="midpoint", gradient="direct", brownian=bm, dt=dt)
    raise ValueError(name)


# The project's target for ours against torchsde's reversible adjoint: at most this ratio of median wall times.
TARGET_RATIO = 0.6

METHODS = (
    "ours reversible_heun + reversible",
    "torchsde reversible_heun + adjoint_reversible_heun",
    "midpoint + direct",
)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(batch: int, steps: int, repeats: int, device: torch.device) -> pd.DataFrame:
    torch.manual_seed(0)
    sde = GeneratorSDE(state=16, noise=3, width=16).to(device)
    x0 = torch.randn(batch, 16, device=device)
    dt = 1.0
    ts = torch.arange(steps + 1, dtype=torch.float32, device=device) * dt
    times = {name: [] for name in METHODS}
    cpu_times = {name: [] for name in METHODS}
    evaluations = {}
    for repeat in range(repeats + 1):  # the first round warms up and is discarded
        for name in METHODS:  # interleaved, so load changes on a shared machine hit every method alike
            bm = make_brownian("interval", 0.0, float(ts[-1]), (batch, 3), x0.dtype, device, dt=dt, entropy=repeat)
            sde.zero_grad(set_to_none=True)
            sde.evaluations = 0
            _synchronize(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            xs = _solve(name, sde, x0, ts, bm, dt)
            forward_evaluations = sde.evaluations
            (xs**2).mean().backward()
            _synchronize(device)
            elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
            if repeat > 0:
                times[name].append(elapsed)
                cpu_times[name].append(elapsed_cpu)
            evaluations[name] = (forward_evaluations, sde.evaluations - forward_evaluations)
    rows = []
    for name in METHODS:
        rows.append(
            dict(
                method=name,
                device=device.type,
                batch=batch,
                steps=steps,
                repeats=repeats,
                median_ms=1000 * statistics.median(times[name]),
                min_ms=1000 * min(times[name]),
                median_cpu_ms=1000 * statistics.median(cpu_times[name]),
                forward_evaluations=evaluations[name][0],
                backward_evaluations=evaluations[name][1],
            )
        )
    frame = pd.DataFrame(rows)
    reference = frame.loc[frame.method == METHODS[1]]
    frame["ratio_to_torchsde"] = frame.median_ms / reference.median_ms.item()
    frame["min_ratio_to_torchsde"] = frame.min_ms / reference.min_ms.item()
    frame["cpu_ratio_to_torchsde"] = frame.median_cpu_ms / reference.median_cpu_ms.item()
    return frame


def _conclusions(frame: pd.DataFrame) -> list[str]:
    """Sentences derived from the measured rows: ours and midpoint against torchsde, per device, and whether ours
    met :data:`TARGET_RATIO`."""
    lines = []
    for device, rows in frame.groupby("device", sort=False):
        ours = rows.loc[rows.method == METHODS[0]].iloc[0]
        torchsde_row = rows.loc[rows.method == METHODS[1]].iloc[0]
        midpoint = rows.loc[rows.method == METHODS[2]].iloc[0]
        faster = "less" if ours.ratio_to_torchsde < 1 else "more"
        lines.append(
            f"On {device}: ours takes {ours.ratio_to_torchsde:.2f}x torchsde's median wall time ({faster} time; "
            f"{ours.min_ratio_to_torchsde:.2f}x comparing the fastest repeats, {ours.cpu_ratio_to_torchsde:.2f}x "
            f"comparing this process's median CPU time), with {ours.backward_evaluations} backward evaluations "
            f"for {ours.steps} steps where torchsde's adjoint takes {torchsde_row.backward_evaluations}; midpoint "
            f"with direct backpropagation takes {midpoint.ratio_to_torchsde:.2f}x torchsde's time and "
            f"{midpoint.forward_evaluations} forward evaluations. Target ours <= {TARGET_RATIO}x torchsde's "
            f"median wall time: {'met' if ours.ratio_to_torchsde <= TARGET_RATIO else 'not met'} "
            f"({ours.ratio_to_torchsde:.3g}x)."
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = experiment_arguments(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or 'all' (cpu and, if present, cuda)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    batch, steps, repeats = (16, 8, 2) if args.quick else (1024, 64, args.repeats)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d != "cuda" or torch.cuda.is_available()]
    frame = pd.concat([measure(batch, steps, repeats, torch.device(d)) for d in devices], ignore_index=True)
    write_results(
        "solver_speed",
        frame,
        args.output_dir,
        title="Solver speed: reversible Heun forward + backward",
        description=(
            "Setting: SDE-GAN generator sizes (state 16, noise 3, drift and diffusion MLPs of width 16 with one "
            "hidden layer, LipSwish, tanh), general noise, Stratonovich; dt = 1; Brownian Interval with the dt "
            "hint. The methods are interleaved repeat by repeat (the first round is a discarded warm-up), so load "
            "changes on the machine hit all alike; `median_cpu_ms` is this process's CPU time. Evaluations count "
            "drift+diffusion evaluations (one `f_and_g` call each)."
        ),
        budget=f"batch {batch}, {steps} steps, {repeats} repeats, {args.threads} torch thread(s), devices {devices}"
        + (" (quick mode)" if args.quick else ""),
        notes=[*_conclusions(frame), *args.note],
    )
    print(frame.to_string(index=False))


if __name__ == "__main__":
    main()
