"""Forward + backward time and function evaluations of reversible Heun implementations (acceptance item 7).

Compares, side by side in one process, on the SDE-GAN generator's sizes (state 16, noise 3, MLPs of width
16 with one hidden layer, LipSwish, tanh; batch 1024; 64 steps of dt = 1; Brownian Interval with the dt hint):

- ours: ``sdegan.solvers.sdeint(method="reversible_heun", gradient="reversible")``
- torchsde: ``torchsde.sdeint_adjoint(method="reversible_heun", adjoint_method="adjoint_reversible_heun")``
- midpoint: ``sdegan.solvers.sdeint(method="midpoint", gradient="direct")`` (torchsde's midpoint, backprop)

Writes results/solver_speed.csv and results/solver_speed.md. Usage:

    python experiments/solver_speed.py [--repeats 15] [--threads 1] [--device cpu] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import torchsde
from torch import nn

from sdegan.nn import LipSwish
from sdegan.solvers import make_brownian, sdeint

RESULTS = Path(__file__).resolve().parents[1] / "results"


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


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu_names() -> str:
    if not torch.cuda.is_available():
        return ", no GPU"
    return ", GPU " + ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (floats to 3 significant digits)."""
    cells = [[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row] for row in frame.itertuples(index=False)]
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    return "\n".join([header, rule] + ["| " + " | ".join(row) + " |" for row in cells])


def _markdown(frame: pd.DataFrame, command: str, threads: int) -> str:
    ours = frame.loc[frame.method == METHODS[0]]
    lines = [
        "# Solver speed: reversible Heun forward + backward",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {_cpu_name()}, {os.cpu_count()} logical cores, {platform.system()}, torch {torch.__version__}, "
        f"torch threads {threads}{_gpu_names()}. The CPU was shared with other jobs while this ran (2 cores, several "
        "processes), so absolute times are noisy; the methods were interleaved repeat by repeat so that the "
        "ratios are comparable. `median_cpu_ms` is the process CPU time (one torch thread), less sensitive to "
        "the other jobs than wall time.",
        "",
        "Setting: SDE-GAN generator sizes (state 16, noise 3, drift and diffusion MLPs of width 16 with one hidden "
        "layer, LipSwish, tanh), general noise, Stratonovich; batch and steps below; dt = 1; Brownian Interval "
        "with the dt hint. Evaluations count drift+diffusion evaluations (one `f_and_g` call each).",
        "",
        markdown_table(frame),
        "",
    ]
    for _, row in ours.iterrows():
        lines.append(
            f"On {row.device}: ours takes {row.ratio_to_torchsde:.2f}x torchsde's median wall time "
            f"({row.min_ratio_to_torchsde:.2f}x comparing the fastest repeats, {row.cpu_ratio_to_torchsde:.2f}x "
            "comparing the median CPU time of this process, which other jobs disturb less; target <= 0.6x), with "
            f"{row.backward_evaluations} backward evaluations (one per step plus one at the final time) where "
            "torchsde's adjoint takes two per step."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or 'all' (cpu and, if present, cuda)")
    parser.add_argument("--quick", action="store_true", help="tiny run (batch 16, 8 steps, 2 repeats) for tests")
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder for solver_speed.csv/.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    batch, steps, repeats = (16, 8, 2) if args.quick else (1024, 64, args.repeats)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d != "cuda" or torch.cuda.is_available()]
    frame = pd.concat([measure(batch, steps, repeats, torch.device(d)) for d in devices], ignore_index=True)
    args.output.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.output / "solver_speed.csv", index=False)
    command = "python " + " ".join(["experiments/solver_speed.py", *(argv if argv is not None else sys.argv[1:])])
    (args.output / "solver_speed.md").write_text(_markdown(frame, command, args.threads))
    print(frame.to_string(index=False))


if __name__ == "__main__":
    main()
