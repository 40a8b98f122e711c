"""On a CUDA device: solves and gradients equal the CPU's, the grid Brownian source is exact and reconstructible
there, and a training run of the entry point works. Skipped without CUDA (marker ``cuda``; scripts/gpu_check.sh)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sdegan.models import Discriminator
from sdegan.solvers import GridBrownian, sdeint
from tests.solvers.solver_problems import NeuralSDE

pytestmark = pytest.mark.cuda

CUDA = torch.device("cuda")
TOLERANCE = 1e-9  # float64: CUDA and CPU kernels differ only by the order of floating-point sums


class OnDevice:
    """A CPU Brownian object whose increments are moved to ``device``: both devices see the same path."""

    def __init__(self, brownian, device: torch.device):
        self.brownian, self.device = brownian, device

    def __call__(self, ta, tb):
        return self.brownian(ta, tb).to(self.device)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b| (0 when both are zero)."""
    scale = b.abs().max().cpu().clamp_min(torch.finfo(b.dtype).tiny)
    return ((a.cpu() - b.cpu()).abs().max() / scale).item()


def _loss(ys: torch.Tensor) -> torch.Tensor:
    return (ys**2).sum() + ys.sin().sum()


def _sde_solution_and_gradients(device, method, gradient):
    torch.manual_seed(0)
    sde = NeuralSDE(state=16, noise=3, width=16).double().to(device)
    y0 = torch.randn(32, 16, dtype=torch.float64).to(device).requires_grad_(True)
    ts = torch.arange(9, dtype=torch.float64, device=device)
    bm = OnDevice(GridBrownian.uniform(0.0, 8.0, 0.5, (32, 3), dtype=torch.float64, entropy=4), device)
    ys = sdeint(sde, y0, ts, method=method, gradient=gradient, brownian=bm, dt=0.5)
    return ys, torch.autograd.grad(_loss(ys), [y0, *sde.parameters()])


@pytest.mark.parametrize("gradient", ["direct", "reversible"])
@pytest.mark.parametrize("method", ["reversible_heun", "reversible_midpoint"])
def test_sde_solve_and_gradients_on_cuda_equal_cpu(method, gradient):
    ys_cuda, grads_cuda = _sde_solution_and_gradients(CUDA, method, gradient)
    ys_cpu, grads_cpu = _sde_solution_and_gradients(torch.device("cpu"), method, gradient)
    assert ys_cuda.device.type == "cuda"
    assert _relative(ys_cuda, ys_cpu) <= TOLERANCE
    assert max(_relative(a, b) for a, b in zip(grads_cuda, grads_cpu)) <= TOLERANCE


def _discriminator_scores_and_gradients(device, gradient):
    torch.manual_seed(0)
    discriminator = Discriminator(data_channels=2, hidden_size=16, width=16).double().to(device)
    times = torch.arange(12, dtype=torch.float64).view(1, -1, 1).expand(8, -1, 1)
    values = torch.randn(8, 12, 2, dtype=torch.float64).cumsum(dim=1)
    values[torch.rand(values.shape) < 0.3] = float("nan")
    values[:, 0] = 0.0
    paths = torch.cat([times, values], dim=-1).to(device)
    options = {"method": "reversible_heun", "gradient": gradient, "dt": 0.5}
    scores = discriminator(paths, options)
    return scores, torch.autograd.grad(scores.sum(), list(discriminator.parameters()))


@pytest.mark.parametrize("gradient", ["direct", "reversible"])
def test_cde_discriminator_on_cuda_equals_cpu(gradient):
    scores_cuda, grads_cuda = _discriminator_scores_and_gradients(CUDA, gradient)
    scores_cpu, grads_cpu = _discriminator_scores_and_gradients(torch.device("cpu"), gradient)
    assert _relative(scores_cuda, scores_cpu) <= TOLERANCE
    assert max(_relative(a, b) for a, b in zip(grads_cuda, grads_cpu)) <= TOLERANCE


def test_grid_brownian_on_cuda_is_exact_and_bit_identical_in_reverse():
    times = [0.1 * k for k in range(41)]
    bm = GridBrownian(times, (4000, 3), dtype=torch.float64, device=CUDA, entropy=3, block_steps=7)
    steps = list(zip(times[:-1], times[1:]))
    forward = [bm(a, b).clone() for a, b in steps]
    assert forward[0].device.type == "cuda"
    reverse = [bm(a, b).clone() for a, b in reversed(steps)][::-1]
    fresh = GridBrownian(times, (4000, 3), dtype=torch.float64, device=CUDA, entropy=3, block_steps=7)
    assert all(torch.equal(x, y) and torch.equal(x, fresh(*step)) for x, y, step in zip(forward, reverse, steps))
    normalised = torch.stack(forward) / 0.1**0.5
    n = normalised.numel()
    assert abs(normalised.mean().item()) * n**0.5 < 5.0  # z-score; 5 sigma
    assert abs((normalised**2).mean().item() - 1.0) * (n / 2) ** 0.5 < 5.0  # variance, z-score


def test_reversible_gradients_with_the_grid_source_on_cuda_equal_direct():
    torch.manual_seed(0)
    sde = NeuralSDE(state=16, noise=3, width=16).double().to(CUDA)
    y0 = torch.randn(16, 16, dtype=torch.float64, device=CUDA, requires_grad=True)
    ts = torch.arange(9, dtype=torch.float64, device=CUDA)
    bm = GridBrownian.uniform(0.0, 8.0, 0.5, (16, 3), dtype=torch.float64, device=CUDA, entropy=8, block_steps=3)
    inputs = [y0, *sde.parameters()]
    grads = {g: torch.autograd.grad(_loss(sdeint(sde, y0, ts, method="reversible_heun", gradient=g, brownian=bm,
                                                 dt=0.5)), inputs) for g in ("direct", "reversible")}
    assert max(_relative(a, b) for a, b in zip(grads["reversible"], grads["direct"])) <= TOLERANCE


@pytest.mark.parametrize("brownian", ["interval", "grid"])
def test_sdegan_train_runs_on_the_gpu(tmp_path, brownian):
    overrides = ["trainer=gpu", f"brownian={brownian}", "trainer.max_steps=3", "trainer.log_every_n_steps=1",
                 "dataset.num_paths=160", "dataset.batch_size=32", "summary_samples=64", "metrics=quick",
                 "logger=csv", "trainer.enable_progress_bar=false", f"hydra.run.dir={tmp_path}"]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", "from sdegan.train import main; main()", *overrides],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["mmd_trained"] == summary["mmd_trained"]  # not NaN
    assert "train/loss" in (tmp_path / "csv" / "metrics.csv").read_text()
