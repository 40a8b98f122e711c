"""Training speed: an SDE-GAN training step of torchsde's example against sdegan's, and the Brownian sources.

    python experiments/training_speed.py                    # CPU, one thread: results/training_speed.*
    python experiments/training_speed.py --device cuda      # results/training_speed_cuda.*
    python experiments/training_speed.py --quick            # seconds; never writes into results/

Issue 13 asks for sdegan's clipped SDE-GAN training step to take at most 0.25x the time of torchsde's
``examples/sde_gan.py`` step at batch 1 (where only overhead counts: what a GPU would see) and at most 0.40x at
batch 1024, and for the Lightning step of ``experiment=ou_sde_gan`` to take at most 0.17 s. Measured here, side
by side in one process with the repeats interleaved (so drifts of a shared machine hit every variant alike):

1. Training steps at the paper's sizes (64 observation times, dt 1, hidden 16, noise 3, initial noise 5, MLP
   width 16 with one hidden layer, LipSwish; OU data with 30% missing values): generator forward and backward,
   the discriminator on generated and real paths, the generators' gradients negated, Adadelta steps, weight
   clipping.
   - ``torchsde example``: written here against torchsde's and torchcde's public API as the example does it:
     ``torchsde.sdeint_adjoint`` with reversible Heun and ``adjoint_reversible_heun`` (torchsde's own Brownian
     Interval), ``torchcde.cdeint`` with the torchsde backend, reversible Heun and ``adjoint_reversible_heun``,
     real-data coefficients computed once for the dataset, two Adadelta optimisers.
   - ``sdegan``: ``sdegan.models.Generator`` / ``Discriminator`` through their public API with the solve
     options of ``experiment=ou_sde_gan`` with the Brownian Interval, like the example (reversible Heun, reversible
     gradients; the experiment itself now defaults to the grid source), one Adadelta
     optimiser with two parameter groups and ``sdegan.nn.clip_linear_weights``, as ``sdegan.training.SDEGAN``
     does it; real paths are given with their missing values filled once for the dataset, as the datamodule gives
     them to the SDE-GAN (``PathDataModule.filled_train_paths``).
   - ``sdegan, brownian=grid``: the same with the fixed-grid Brownian source (``sdegan/configs/brownian/grid.yaml``).
2. Brownian sources: the cost per increment when a fresh source is asked for the 63 increments of a solve
   forwards and then in reverse (what a reversible solve asks): a raw ``torch.randn`` per increment, the grid
   source (``brownian=grid``) and torchsde's Brownian Interval as ``sdegan.solvers.make_brownian`` builds it.
3. The Lightning step of ``sdegan-train experiment=ou_sde_gan``: the median ``train/step_time`` of the full-batch
   steps of short runs, as the experiment is configured (``brownian=grid``: its solves are fixed-step on a known
   grid) and with ``brownian=interval`` (the paper's Brownian source), two runs of each, alternating. The step is
   also given as a multiple of the torchsde example's step measured in 1., since this shared machine's speed drifts
   from one hour to the next.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torchcde
import torchsde
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from measure import experiment_arguments
from results_table import DEFAULT_OUTPUT_DIR, PaperFigure, summarise, write_results
from training_runs import REPOSITORY, read_run, sdegan_train_command
from sdegan.data.ou import drop_entries, simulate_time_dependent_ou
from sdegan.models import Discriminator, Generator
from sdegan.nn import MLP, clip_linear_weights
from sdegan.paths import fill_missing
from sdegan.solvers import make_brownian

NAME = "training_speed"
REFERENCE, SDEGAN, SDEGAN_GRID = "torchsde example", "sdegan", "sdegan, brownian=grid"
VARIANTS = (REFERENCE, SDEGAN, SDEGAN_GRID)
SOURCES = ("torch.randn", "grid", "interval")
# Issue 13's targets: sdegan's step / the example's step, per batch; the Lightning step in seconds.
TARGET_RATIOS = {1: 0.25, 1024: 0.40}
TARGET_LIGHTNING_STEP_S = 0.17
FILED_REFERENCE_STEP_S = 0.499  # torchsde's example step at batch 1024 on this CPU when issue 13 set the targets
PAPER_BATCH = 1024  # experiment=ou_sde_gan
# The paper's sizes (torchsde's examples/sde_gan.py defaults).
DATA_CHANNELS, INITIAL_NOISE, NOISE, HIDDEN, WIDTH, DEPTH = 1, 5, 3, 16, 16, 1
SOLVE_OPTIONS = {"method": "reversible_heun", "gradient": "reversible", "brownian": "interval", "dt": 1.0}
GENERATOR_LR, DISCRIMINATOR_LR, WEIGHT_DECAY = 2e-4, 1e-3, 0.01  # experiment=ou_sde_gan
INITIAL_SCALE, VECTOR_FIELD_SCALE = 3.0, 0.5


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What one run measures."""

    batch_sizes: Sequence[int]
    length: int  # observation times (the solves take length - 1 steps of dt 1)
    num_paths: int
    repeats: int  # interleaved rounds; each times `steps` consecutive training steps of every variant and batch
    steps: int
    warm_up: int  # untimed steps of every variant and batch first
    brownian_repeats: int
    lightning_steps: int
    lightning_rounds: int  # Lightning runs per variant, the variants alternating run by run
    lightning_overrides: Sequence[str]


FULL = Sizes(batch_sizes=(1, 64, 1024), length=64, num_paths=4096, repeats=12, steps=2, warm_up=2, brownian_repeats=30,
             lightning_steps=40, lightning_rounds=2, lightning_overrides=())
QUICK = Sizes(batch_sizes=(1, 8), length=8, num_paths=64, repeats=2, steps=1, warm_up=1, brownian_repeats=2,
              lightning_steps=3, lightning_rounds=1,
              lightning_overrides=("dataset.num_paths=128", "dataset.batch_size=16", "dataset.length=8"))


def ou_paths(num_paths: int, length: int, seed: int) -> torch.Tensor:
    """OU paths of the paper's dataset in the path format ``(paths, length, 1 + 1)``, 30% of values missing,
    normalised by the mean and std of the observed initial values (as the example does)."""
    rng = np.random.default_rng(seed)
    times, values = simulate_time_dependent_ou(num_paths, length, rng=rng)
    values = drop_entries(values, 0.3, rng)
    initial = values[:, 0][~np.isnan(values[:, 0])]
    values = (values - initial.mean()) / initial.std()
    time_channel = np.broadcast_to(times, values.shape)
    return torch.tensor(np.stack([time_channel, values], axis=-1), dtype=torch.float32)


# ---------------------------------------------------------------------------------------------------------------
# torchsde's examples/sde_gan.py, written against torchsde's and torchcde's public API.

class ReferenceGeneratorField(nn.Module):
    """Drift and diffusion MLPs of ``(t, x)``, Stratonovich with general noise."""

    sde_type, noise_type = "stratonovich", "general"

    def __init__(self) -> None:
        super().__init__()
        self.drift = MLP(1 + HIDDEN, HIDDEN, WIDTH, DEPTH, "lipswish", final_tanh=True)
        self.diffusion = MLP(1 + HIDDEN, HIDDEN * NOISE, WIDTH, DEPTH, "lipswish", final_tanh=True)

    def f_and_g(self, t: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tx = torch.cat([t.expand(x.size(0), 1), x], dim=1)
        return self.drift(tx), self.diffusion(tx).view(x.size(0), HIDDEN, NOISE)


class ReferenceGenerator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.initial = MLP(INITIAL_NOISE, HIDDEN, WIDTH, DEPTH, "lipswish")
        self.field = ReferenceGeneratorField()
        self.readout = nn.Linear(HIDDEN, DATA_CHANNELS)

    def forward(self, ts: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Interpolation coefficients of generated paths (time as channel 0)."""
        x0 = self.initial(torch.randn(batch_size, INITIAL_NOISE, device=ts.device))
        xs = torchsde.sdeint_adjoint(self.field, x0, ts, method="reversible_heun", dt=1.0,
                                     adjoint_method="adjoint_reversible_heun")
        ys = self.readout(xs.transpose(0, 1))
        time_channel = ts.unsqueeze(0).unsqueeze(-1).expand(batch_size, ts.size(0), 1)
        return torchcde.linear_interpolation_coeffs(torch.cat([time_channel, ys], dim=2))


class ReferenceDiscriminatorField(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = MLP(1 + HIDDEN, HIDDEN * (1 + DATA_CHANNELS), WIDTH, DEPTH, "lipswish", final_tanh=True)

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        th = torch.cat([t.expand(h.size(0), 1), h], dim=1)
        return self.net(th).view(h.size(0), HIDDEN, 1 + DATA_CHANNELS)


class ReferenceDiscriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.initial = MLP(1 + DATA_CHANNELS, HIDDEN, WIDTH, DEPTH, "lipswish")
        self.field = ReferenceDiscriminatorField()
        self.readout = nn.Linear(HIDDEN, 1)

    def forward(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Mean score of the paths with these linear-interpolation coefficients."""
        path = torchcde.LinearInterpolation(coeffs)
        h0 = self.initial(path.evaluate(path.interval[0]))
        hs = torchcde.cdeint(path, self.field, h0, path.interval, method="reversible_heun", backend="torchsde", dt=1.0,
                             adjoint_method="adjoint_reversible_heun",
                             adjoint_params=(coeffs,) + tuple(self.field.parameters()))
        return self.readout(hs[:, -1]).mean()


class ReferenceStep:
    """One clipped training step of the example (its models, initial scaling and optimisers)."""

    def __init__(self, times: torch.Tensor, paths: torch.Tensor) -> None:
        device = times.device
        self.times = times
        self.coeffs = torchcde.linear_interpolation_coeffs(paths).to(device)  # once, for the dataset
        self.generator, self.discriminator = ReferenceGenerator().to(device), ReferenceDiscriminator().to(device)
        with torch.no_grad():
            for parameter in self.generator.initial.parameters():
                parameter *= INITIAL_SCALE
            for parameter in self.generator.field.parameters():
                parameter *= VECTOR_FIELD_SCALE
        self.generator_optimiser = torch.optim.Adadelta(self.generator.parameters(), lr=GENERATOR_LR,
                                                        weight_decay=WEIGHT_DECAY)
        self.discriminator_optimiser = torch.optim.Adadelta(self.discriminator.parameters(), lr=DISCRIMINATOR_LR,
                                                            weight_decay=WEIGHT_DECAY)

    def __call__(self, index: torch.Tensor) -> None:
        real = self.coeffs[index]
        loss = self.discriminator(self.generator(self.times, real.size(0))) - self.discriminator(real)
        loss.backward()
        for parameter in self.generator.parameters():
            parameter.grad *= -1
        self.generator_optimiser.step()
        self.discriminator_optimiser.step()
        self.generator_optimiser.zero_grad()
        self.discriminator_optimiser.zero_grad()
        with torch.no_grad():
            for module in self.discriminator.modules():
                if isinstance(module, nn.Linear):
                    bound = 1 / module.out_features
                    module.weight.clamp_(-bound, bound)


# ---------------------------------------------------------------------------------------------------------------
# sdegan's step: its networks through their public API, the training module's clipped step.

class SdeganStep:
    """The clipped step of ``sdegan.training.SDEGAN`` on sdegan's Generator and Discriminator."""

    def __init__(self, times: torch.Tensor, paths: torch.Tensor, brownian: str) -> None:
        device = times.device
        self.times, self.paths = times, fill_missing(paths).to(device)  # once, as PathDataModule does
        self.options = {**SOLVE_OPTIONS, "brownian": brownian}
        self.generator = Generator(DATA_CHANNELS, INITIAL_NOISE, NOISE, HIDDEN, WIDTH, DEPTH, "lipswish",
                                   INITIAL_SCALE, VECTOR_FIELD_SCALE).to(device)
        self.discriminator = Discriminator(DATA_CHANNELS, HIDDEN, WIDTH, DEPTH, "lipswish").to(device)
        self.optimiser = torch.optim.Adadelta(
            [{"params": self.generator.parameters(), "lr": GENERATOR_LR},
             {"params": self.discriminator.parameters(), "lr": DISCRIMINATOR_LR}], weight_decay=WEIGHT_DECAY)

    def __call__(self, index: torch.Tensor) -> None:
        real = self.paths[index]
        self.optimiser.zero_grad(set_to_none=True)
        fake = self.generator(self.times, real.size(0), self.options)
        loss = self.discriminator.wasserstein(fake, real, self.options)  # one solve of both, as SDEGAN does
        loss.backward()
        for parameter in self.generator.parameters():
            parameter.grad.neg_()
        self.optimiser.step()
        clip_linear_weights(self.discriminator)


def make_steps(times: torch.Tensor, paths: torch.Tensor) -> dict[str, Callable[[torch.Tensor], None]]:
    torch.manual_seed(0)
    return {REFERENCE: ReferenceStep(times, paths), SDEGAN: SdeganStep(times, paths, "interval"),
            SDEGAN_GRID: SdeganStep(times, paths, "grid")}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training_steps(sizes: Sizes, device: torch.device) -> pd.DataFrame:
    """One row per (variant, batch, repeat): seconds per training step, the mean of ``sizes.steps`` steps."""
    paths = ou_paths(sizes.num_paths, sizes.length, seed=0)
    times = paths[0, :, 0].to(device)
    steps = make_steps(times, paths)
    batches = torch.Generator().manual_seed(1)

    def indices(batch: int) -> torch.Tensor:
        return torch.randint(0, sizes.num_paths, (batch,), generator=batches).to(device)

    for batch in sizes.batch_sizes:
        for step in steps.values():
            for _ in range(sizes.warm_up):
                step(indices(batch))
    rows = []
    for repeat in range(sizes.repeats):
        for batch in sizes.batch_sizes:
            for variant, step in steps.items():
                chosen = [indices(batch) for _ in range(sizes.steps)]
                synchronize(device)
                started = time.perf_counter()
                for index in chosen:
                    step(index)
                synchronize(device)
                seconds = (time.perf_counter() - started) / sizes.steps
                rows.append(dict(measurement="training step", variant=variant, batch=batch, repeat=repeat,
                                 time_ms=1e3 * seconds))
    return pd.DataFrame(rows)


def time_brownian_sources(sizes: Sizes, device: torch.device) -> pd.DataFrame:
    """One row per (source, batch, repeat): microseconds per increment over a solve's forward and reverse queries."""
    num_steps = sizes.length - 1
    t1 = float(num_steps)
    order = list(range(num_steps)) + list(reversed(range(num_steps)))
    rows = []
    for repeat in range(sizes.brownian_repeats + 1):  # the first round warms up and is not kept
        for batch in sizes.batch_sizes:
            for source in SOURCES:
                size = (batch, NOISE)
                synchronize(device)
                started = time.perf_counter()
                if source == "torch.randn":
                    for _ in order:
                        torch.randn(size, device=device)
                else:
                    bm = make_brownian(source, 0.0, t1, size, torch.float32, device, 1.0, entropy=repeat)
                    for n in order:
                        bm(float(n), float(n + 1))
                synchronize(device)
                if repeat:
                    rows.append(dict(measurement="brownian increment", variant=source, batch=batch, repeat=repeat,
                                     time_ms=1e3 * (time.perf_counter() - started) / len(order)))
    return pd.DataFrame(rows)


# The experiment as configured, then with the paper's Brownian source.
LIGHTNING_VARIANTS: tuple[tuple[str, ...], ...] = ((), ("brownian=interval",))


def lightning_step(sizes: Sizes, device: torch.device, runs_dir: Path, extra: Sequence[str] = (),
                   run: int = 0) -> pd.DataFrame:
    """``train/step_time`` of every full-batch step of a short ``sdegan-train experiment=ou_sde_gan`` run with the
    ``extra`` overrides: the first step, which builds the Brownian source's caches and the optimiser state, is
    dropped, and so is each epoch's last step when it trains on the train split's remainder (at the paper's sizes
    6,554 train paths make 6 batches of 1024 and one of 410), so that every row is a step of the batch it names."""
    run_dir = runs_dir / "_".join([f"ou_sde_gan_{device.type}", *(item.replace("=", "_") for item in extra),
                                   f"run{run}"])
    overrides = ["experiment=ou_sde_gan", *extra, *sizes.lightning_overrides,
                 f"trainer.max_steps={sizes.lightning_steps}",
                 "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false", "logger=csv",
                 "summary_samples=64", f"trainer={'gpu' if device.type == 'cuda' else 'cpu'}",
                 f"hydra.run.dir={run_dir}"]
    result = subprocess.run([*sdegan_train_command(), *overrides], cwd=REPOSITORY, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise RuntimeError(f"sdegan-train failed:\n{' '.join(overrides)}\n{tail}")
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    read_run(run_dir, cfg)  # the run finished and wrote its summary
    metrics = pd.read_csv(run_dir / "csv" / "metrics.csv").dropna(subset=["train/step_time"])
    batch = int(cfg.dataset.batch_size)
    datamodule = instantiate(cfg.dataset)
    datamodule.setup("fit")
    steps = metrics["step"].to_numpy()
    step_times = metrics["train/step_time"].to_numpy()[full_batch_steps(steps, len(datamodule.train_paths), batch)
                                                       & (steps > steps.min())]
    return pd.DataFrame(dict(measurement="lightning step (experiment=ou_sde_gan)",
                             variant=" ".join(["sdegan-train", *extra]), batch=batch,
                             repeat=range(len(step_times)), time_ms=1e3 * step_times))


def lightning_steps(sizes: Sizes, device: torch.device, runs_dir: Path) -> list[pd.DataFrame]:
    """:func:`lightning_step` for every variant, ``sizes.lightning_rounds`` times, the variants alternating run by
    run, so that a drift of the machine's speed over the minutes they take reaches both."""
    return [lightning_step(sizes, device, runs_dir, extra, run)
            for run in range(sizes.lightning_rounds) for extra in LIGHTNING_VARIANTS]


def full_batch_steps(steps: np.ndarray, num_train: int, batch: int) -> np.ndarray:
    """Which of the (0-based) training ``steps`` train on a full batch: each epoch's batches of ``num_train`` paths
    end with the remainder ``num_train % batch`` when that is not zero (the datamodule keeps the last batch)."""
    per_epoch = -(-num_train // batch)
    if num_train % batch == 0:
        return np.ones_like(steps, dtype=bool)
    return steps % per_epoch != per_epoch - 1


def ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Per batch: median sdegan step / median example step, and each Brownian source / raw randn."""
    median = table.set_index(["measurement", "variant", "batch"]).time_ms_median
    rows = []
    for batch in sorted(set(table.batch[table.measurement == "training step"])):
        reference = median[("training step", REFERENCE, batch)]
        for variant in (SDEGAN, SDEGAN_GRID):
            target = TARGET_RATIOS.get(batch)
            ratio = median[("training step", variant, batch)] / reference
            rows.append(dict(comparison=f"{variant} / {REFERENCE}", batch=batch, ratio=ratio,
                             target=f"<= {target}" if target else "-",
                             met="-" if target is None else ("yes" if ratio <= target else "no")))
    for batch in sorted(set(table.batch[table.measurement == "brownian increment"])):
        raw = median[("brownian increment", "torch.randn", batch)]
        for source, target in (("grid", 2.0), ("interval", None)):
            ratio = median[("brownian increment", source, batch)] / raw
            rows.append(dict(comparison=f"{source} / torch.randn per increment", batch=batch, ratio=ratio,
                             target=f"<= {target}" if target else "-",
                             met="-" if target is None else ("yes" if ratio <= target else "no")))
    return pd.DataFrame(rows)


def per_solver_step(table: pd.DataFrame, num_steps: int) -> pd.DataFrame:
    """Median step time divided by the solver steps of one training step: forward and backward of the generator's
    solve and of the discriminator's two solves (6 x steps) -- at batch 1, the overhead per solver step."""
    steps = table[table.measurement == "training step"]
    return pd.DataFrame(dict(variant=steps.variant, batch=steps.batch,
                             us_per_solver_step=1e3 * steps.time_ms_median / (6 * num_steps)))


def figures(ratio_table: pd.DataFrame, table: pd.DataFrame) -> list[PaperFigure]:
    """The issue's targets next to what was measured."""
    figures = []
    for batch, target in TARGET_RATIOS.items():
        row = ratio_table[(ratio_table.comparison == f"{SDEGAN} / {REFERENCE}") & (ratio_table.batch == batch)]
        if not row.empty:
            ratio = float(row.ratio.iloc[0])
            figures.append(PaperFigure(f"sdegan step / torchsde example step, batch {batch} (issue 13 target)",
                                       f"<= {target}x", f"{ratio:.3g}x ({'met' if ratio <= target else 'not met'})"))
    lightning = table[table.measurement.str.startswith("lightning") & (table.variant == "sdegan-train")]
    if not lightning.empty:
        seconds, batch = float(lightning.time_ms_median.iloc[0]) / 1e3, int(lightning.batch.iloc[0])
        verdict = ("met" if seconds <= TARGET_LIGHTNING_STEP_S else "not met") if batch == PAPER_BATCH else \
            f"batch {batch}, not the paper's {PAPER_BATCH}: not assessed"
        measured = f"{seconds:.3g} s ({verdict})"
        reference = table[(table.measurement == "training step") & (table.variant == REFERENCE)
                          & (table.batch == batch)]
        if not reference.empty:
            reference_s = float(reference.time_ms_median.iloc[0]) / 1e3
            measured += (f"; {seconds / reference_s:.3g}x this run's torchsde example step at batch {batch} "
                         f"({reference_s:.3g} s), against {TARGET_LIGHTNING_STEP_S / FILED_REFERENCE_STEP_S:.3g}x for "
                         f"the target when the issue measured that step at {FILED_REFERENCE_STEP_S} s")
        figures.append(PaperFigure("Lightning step of experiment=ou_sde_gan (issue 13 target)",
                                   f"<= {TARGET_LIGHTNING_STEP_S} s at batch {PAPER_BATCH}", measured))
    grid = ratio_table[ratio_table.comparison == "grid / torch.randn per increment"]
    figures.append(PaperFigure("grid Brownian source per increment / raw torch.randn", "<= 2x",
                               f"{grid.ratio.min():.3g}x to {grid.ratio.max():.3g}x"))
    return figures


def main() -> None:
    parser = experiment_arguments(__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--repeats", type=int, help="override the interleaved rounds of training steps")
    parser.add_argument("--runs-dir", type=Path, default=REPOSITORY / "outputs" / "experiments" / NAME,
                        help="where the Lightning run's folder goes")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available to this torch build")
    sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        sizes = dataclasses.replace(sizes, repeats=args.repeats)
    if args.quick and args.output_dir.resolve() == DEFAULT_OUTPUT_DIR.resolve():
        raise SystemExit("--quick runs do not overwrite results/: pass another --output-dir (default outputs/quick_results)")
    torch.set_num_threads(1)

    started = time.perf_counter()
    raw = pd.concat([time_training_steps(sizes, device), time_brownian_sources(sizes, device),
                     *lightning_steps(sizes, device, args.runs_dir)],
                    ignore_index=True)
    wall = time.perf_counter() - started
    table = summarise(raw, by=["measurement", "variant", "batch"], values=["time_ms"],
                      statistics=("median", "mean", "std"))
    ratio_table = ratios(table)
    name = NAME if device.type == "cpu" else f"{NAME}_{device.type}"
    write_results(
        name, table, args.output_dir,
        title=f"Training speed on {device.type}: torchsde's SDE-GAN example step vs sdegan's",
        description=__doc__.split("\n\n", 2)[2].strip() + (
            "\n\nTimes in milliseconds (per training step, per Brownian increment, per Lightning step); median and "
            "mean ± std over the interleaved repeats. One torch thread."),
        budget=(f"{'quick mode' if args.quick else 'full size'}: batch sizes {list(sizes.batch_sizes)}, "
                f"{sizes.length} observation times, {sizes.repeats} interleaved rounds x {sizes.steps} steps per "
                f"variant and batch after {sizes.warm_up} warm-up steps; Brownian sources {sizes.brownian_repeats} "
                f"rounds; {sizes.lightning_rounds} Lightning run(s) of {sizes.lightning_steps} steps per variant, "
                f"alternating; {wall:.0f} s in all"),
        paper=figures(ratio_table, table),
        extra_tables=[("Ratios against the issue's targets", ratio_table),
                      ("Time per solver step", per_solver_step(table, sizes.length - 1))],
        notes=[*args.note, "No compiled path is offered, so only eager steps are measured here; "
               "`python experiments/profile_training_step.py --compile [--batch 1024]` times torch.compile'd "
               "vector-field evaluations and a torch.compile'd reversible Heun step of the generator beside the eager "
               "ones (a diagnostic that writes no results file). The "
               "reversible backward's vector-Jacobian products of sdegan's MLP vector fields are hand-written "
               "(`sdegan.models.mlp_vjp`; the same script times them beside autograd's)."],
        plot=plot(table),
    )
    print(ratio_table.to_string(index=False))


def plot(table: pd.DataFrame) -> Callable[[Path], None]:
    def draw(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
        for axis, measurement, variants in ((axes[0], "training step", VARIANTS),
                                            (axes[1], "brownian increment", SOURCES)):
            rows = table[table.measurement == measurement]
            for variant in variants:
                selected = rows[rows.variant == variant]
                axis.plot(selected.batch, selected.time_ms_median, marker="o", label=variant)
            axis.set(title=measurement, xscale="log", yscale="log", xlabel="batch size", ylabel="median time (ms)")
            axis.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)

    return draw


if __name__ == "__main__":
    main()
