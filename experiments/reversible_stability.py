"""Forward stability and float32 reconstruction error of the reversible solvers (acceptance item 8).

1. Linear test equation y' = a y, for h a on the negative real axis (y' = a y, decay) and on the imaginary
   axis (a 2-d rotation, y' = [[0, -w], [w, 0]] y with h a = i h w). For every reversible method and coupling:
   - the spectral radius of the one-step map on the solver state (y, z): the forward solve is stable when it
     is <= 1 (the reversible step has determinant of modulus coupling^d, so a decaying true mode comes with a
     parasitic mode);
   - the float32 reconstruction error: solve 100 steps forward in float32, reconstruct y_0 with the exact
     inverse steps of the backward pass, and report |reconstructed y_0 - y_0| / |y_0|.
2. A small neural SDE (the SDE-GAN generator's sizes, batch 64, 64 steps, Stratonovich general noise): float32
   reconstruction error of y_0 and the growth of the solution, per method, coupling and dt.

Writes results/reversible_stability.csv, .md and .png. Usage:

    python experiments/reversible_stability.py [--quick]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from measure import experiment_arguments  # noqa: E402
from sdegan.solvers.base import ReversibleSolver  # noqa: E402
from sdegan.solvers.brownian import make_brownian  # noqa: E402
from sdegan.solvers.sdegan_backend import REVERSIBLE_SOLVERS  # noqa: E402
from sdegan.solvers.controls import BrownianControl, Control, NoControl  # noqa: E402
from sdegan.solvers.grid import make_step_grid  # noqa: E402
from sdegan.solvers.reversible_heun import ReversibleHeun  # noqa: E402
from sdegan.solvers.vector_fields import ODEVectorField, SDEVectorField  # noqa: E402

COUPLINGS = (0.5, 0.7, 0.9, 0.99, 0.999, 1.0)
BASES = ("reversible_euler", "reversible_midpoint", "reversible_ralston3", "reversible_rk4")


class Linear(nn.Module):
    """y' = A y for a fixed matrix A."""

    def __init__(self, matrix: torch.Tensor):
        super().__init__()
        self.register_buffer("matrix", matrix)

    def forward(self, t, y):
        return y @ self.matrix.T


def _solver(method: str, field, coupling: float | None) -> ReversibleSolver:
    cls = REVERSIBLE_SOLVERS[method]
    return cls(field) if cls is ReversibleHeun else cls(field, coupling)


def _state_from(solver: ReversibleSolver, t: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
    """The solver state with given y and z (reversible Heun also carries the vector field at z)."""
    if isinstance(solver, ReversibleHeun):
        return y, z, solver.vector_field.evaluate(t, z)
    return y, z


def spectral_radius(method: str, coupling: float | None, matrix: torch.Tensor, h: float) -> float:
    """Spectral radius of the linear one-step map (y, z) -> (y', z') for y' = matrix y."""
    dim = matrix.size(0)
    solver = _solver(method, ODEVectorField(Linear(matrix)), coupling)
    eye, zero = torch.eye(dim, dtype=torch.float64), torch.zeros(dim, dim, dtype=torch.float64)
    y, z = torch.cat([eye, zero]), torch.cat([zero, eye])  # the 2 dim basis states, as a batch
    t0, t1 = torch.tensor(0.0, dtype=torch.float64), torch.tensor(h, dtype=torch.float64)
    with torch.no_grad():
        new = solver.step(t0, t1, h, _state_from(solver, t0, y, z), None)
    step_matrix = torch.cat([new[0], new[1]], dim=1).T  # column j = image of basis state j
    return float(torch.linalg.eigvals(step_matrix).abs().max())


def reconstruction_error(solver: ReversibleSolver, y0: torch.Tensor, ts: torch.Tensor, dt: float, control_for) -> tuple:
    """Solves forward, reconstructs y0 with the exact inverse steps; returns (relative error, |y_T| / |y_0|)."""
    grid = make_step_grid(ts, dt)
    control: Control = control_for(grid)
    times = grid.times_on(y0.dtype, y0.device)
    with torch.no_grad():
        state = solver.initial_state(times[0], y0)
        for n in range(grid.num_steps):
            state = solver.step(times[n], times[n + 1], grid.step_size(n), state, control.increment(n))
        final = state[0]
        carry = solver.backward_start(times[-1], solver.terminal_state(state), torch.zeros_like(y0))
        for n in reversed(range(grid.num_steps)):
            carry, _ = solver.backward_step(times[n], times[n + 1], grid.step_size(n), carry, control.increment(n), False)
    reconstructed = carry.state[0]
    error = float((reconstructed - y0).norm() / y0.norm())
    growth = float(final.norm() / y0.norm())
    return error, growth


def linear_rows(quick: bool) -> list[dict]:
    rows = []
    decays = np.linspace(-2.0, -0.05, 3 if quick else 40)
    frequencies = np.linspace(0.05, 1.5, 2 if quick else 30)
    steps = 10 if quick else 100
    problems = [("decay", x, torch.tensor([[x]], dtype=torch.float64)) for x in decays]
    problems += [("rotation", w, torch.tensor([[0.0, -w], [w, 0.0]], dtype=torch.float64)) for w in frequencies]
    methods = [(m, c) for m in BASES for c in COUPLINGS] + [("reversible_heun", None)]
    for kind, value, matrix in problems:
        for method, coupling in methods:
            radius = spectral_radius(method, coupling, matrix, 1.0)
            solver = _solver(method, ODEVectorField(Linear(matrix.float())), coupling)
            y0 = torch.ones(1, matrix.size(0))
            ts = torch.tensor([0.0, float(steps)])
            error, growth = reconstruction_error(solver, y0, ts, 1.0, lambda grid: NoControl())
            rows.append(
                dict(problem=f"linear_{kind}", method=method, coupling=coupling, ha=value, dt=1.0, steps=steps,
                     spectral_radius=radius, growth=growth, reconstruction_error_float32=error)
            )
    return rows


class SmallNeuralSDE(nn.Module):
    """The SDE-GAN generator's vector fields (state 16, noise 3, width 16, LipSwish, tanh)."""

    noise_type = "general"
    sde_type = "stratonovich"

    def __init__(self):
        super().__init__()
        self.drift = nn.Sequential(nn.Linear(17, 16), nn.SiLU(), nn.Linear(16, 16), nn.Tanh())
        self.diffusion = nn.Sequential(nn.Linear(17, 16), nn.SiLU(), nn.Linear(16, 48), nn.Tanh())

    def f_and_g(self, t, y):
        ty = torch.cat([t.expand(y.size(0), 1), y], dim=1)
        return self.drift(ty), self.diffusion(ty).view(-1, 16, 3)


def neural_rows(quick: bool) -> list[dict]:
    rows = []
    torch.manual_seed(0)
    sde = SmallNeuralSDE()
    batch, horizon = (4, 4.0) if quick else (64, 64.0)
    y0 = torch.randn(batch, 16)
    ts = torch.tensor([0.0, horizon])
    methods = [(m, c) for m in ("reversible_midpoint", "reversible_rk4") for c in COUPLINGS]
    methods += [("reversible_heun", None)]
    for dt in (1.0,) if quick else (0.25, 0.5, 1.0):
        bm = make_brownian("interval", 0.0, horizon, (batch, 3), torch.float32, y0.device, dt=dt, entropy=1)
        for method, coupling in methods:
            solver = _solver(method, SDEVectorField(sde), coupling)
            error, growth = reconstruction_error(solver, y0, ts, dt, lambda grid: BrownianControl(bm, grid))
            rows.append(
                dict(problem="neural_sde", method=method, coupling=coupling, ha=np.nan, dt=dt, steps=round(horizon / dt),
                     spectral_radius=np.nan, growth=growth, reconstruction_error_float32=error)
            )
    return rows


def plot(frame: pd.DataFrame, path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    decay = frame[(frame.problem == "linear_decay") & (frame.method == "reversible_midpoint")]
    for coupling, group in decay.groupby("coupling"):
        axes[0].plot(group.ha, group.spectral_radius, label=f"coupling {coupling}")
    heun = frame[(frame.problem == "linear_decay") & (frame.method == "reversible_heun")]
    axes[0].plot(heun.ha, heun.spectral_radius, "k--", label="reversible_heun")
    axes[0].axhline(1.0, color="grey", lw=0.5)
    axes[0].set(xlabel="h a (real, y' = a y)", ylabel="spectral radius of the step", yscale="log",
                title="Forward stability, reversible midpoint")
    axes[0].legend(fontsize=7)
    for coupling, group in decay.groupby("coupling"):
        axes[1].plot(group.ha, group.reconstruction_error_float32.clip(lower=1e-9), label=f"coupling {coupling}")
    axes[1].plot(heun.ha, heun.reconstruction_error_float32.clip(lower=1e-9), "k--", label="reversible_heun")
    axes[1].set(xlabel="h a (real)", ylabel="relative error of reconstructed y0", yscale="log",
                title=f"float32 reconstruction after {decay.steps.max()} steps")
    neural = frame[(frame.problem == "neural_sde") & (frame.dt == 1.0)]
    for method, group in neural.groupby("method"):
        if method == "reversible_heun":
            axes[2].axhline(group.reconstruction_error_float32.item(), color="k", ls="--", label=method)
        else:
            axes[2].plot(group.coupling, group.reconstruction_error_float32, "o-", label=method)
    axes[2].set(xlabel="coupling", ylabel="relative error of reconstructed y0", yscale="log",
                title="Neural SDE (generator sizes), dt = 1, float32")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def summary(frame: pd.DataFrame, command: str, notes: Sequence[str] = ()) -> str:
    """The .md: the stability table of the linear test equation and the neural SDE's reconstructions."""
    decay = frame[frame.problem == "linear_decay"]
    rotation = frame[frame.problem == "linear_rotation"]
    mildest = decay.ha[decay.ha < 0].max()
    lines = [
        "# Reversible solvers: forward stability and float32 reconstruction",
        "",
        f"Command: `{command}`",
        "",
        f"Linear test equation, {decay.steps.max()} steps of h = 1 (h a varied): `stable_real_ha` is the most negative real h a "
        "down to which every tested step is forward stable (spectral radius <= 1 + 1e-9; 'none' if even the "
        f"mildest decay tested, h a = {mildest:g}, is unstable); `max_stable_rotation` the largest h w on the imaginary axis that is "
        "stable; `worst_reconstruction_stable` the largest float32 relative reconstruction error of y0 over "
        "the stable real h a.",
        "",
        "| method | coupling | stable_real_ha | max_stable_rotation | worst_reconstruction_stable |",
        "|---|---|---|---|---|",
    ]
    for (method, coupling), group in decay.groupby(["method", "coupling"], dropna=False, sort=False):
        group = group.sort_values("ha", ascending=False)
        stable = group.spectral_radius <= 1 + 1e-9
        unstable_from = group.ha[~stable].max() if (~stable).any() else None
        stable_part = group[stable & (group.ha > (unstable_from if unstable_from is not None else -np.inf))]
        stable_ha = f"{stable_part.ha.min():.2f}" if len(stable_part) else "none"
        worst = f"{stable_part.reconstruction_error_float32.max():.1e}" if len(stable_part) else "-"
        rot = rotation[(rotation.method == method) & (rotation.coupling.fillna(-1) == (-1 if pd.isna(coupling) else coupling))]
        rot_stable = rot[rot.spectral_radius <= 1 + 1e-9]
        max_rot = f"{rot_stable.ha.max():.2f}" if len(rot_stable) else "none"
        lines.append(f"| {method} | {coupling if not pd.isna(coupling) else '-'} | {stable_ha} | {max_rot} | {worst} |")
    neural = frame[frame.problem == "neural_sde"]
    lines += [
        "",
        "Neural SDE (SDE-GAN generator sizes, general noise, float32): relative reconstruction error of y0 "
        f"after solving to t = {neural.steps.max() * neural.dt.min():g} and back, and the growth |y_T| / |y_0|.",
        "",
        "| method | coupling | dt | steps | reconstruction_error | growth |",
        "|---|---|---|---|---|---|",
    ]
    for row in neural.itertuples():
        coupling = "-" if pd.isna(row.coupling) else row.coupling
        lines.append(
            f"| {row.method} | {coupling} | {row.dt} | {row.steps} | {row.reconstruction_error_float32:.1e} "
            f"| {row.growth:.2f} |"
        )
    if notes:
        lines += ["", "## Notes", "", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = experiment_arguments(__doc__.splitlines()[0]).parse_args(argv)
    torch.set_num_threads(1)
    frame = pd.DataFrame(linear_rows(args.quick) + neural_rows(args.quick))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.output_dir / "reversible_stability.csv", index=False)
    plot(frame, args.output_dir / "reversible_stability.png")
    command = "python " + " ".join(["experiments/reversible_stability.py", *(argv if argv is not None else sys.argv[1:])])
    (args.output_dir / "reversible_stability.md").write_text(summary(frame, command, args.note))
    print(summary(frame, command, args.note))


if __name__ == "__main__":
    main()
