"""sdegan-train's end-of-run summary: the headline MMD of trained/untrained generators beside the
real-vs-real reference, with the kernel's bound printed."""

import math

import torch
from omegaconf import OmegaConf

from sdegan.metrics import signature_mmd
from sdegan.train import print_summary, summary_mmd
from tests.metrics.simulated_ou import ou_paths

CFG = OmegaConf.create({"metrics": {"mmd": {"depth": 3}}})


def test_summary_mmd_is_bounded_and_compares_real_paths_with_their_own_gaps():
    real = ou_paths(64, 12, seed=0, missing_fraction=0.3)
    other_real = ou_paths(64, 12, seed=1, missing_fraction=0.3)
    far_off = ou_paths(64, 12, seed=2, level=3.0)
    far_off[..., 1:] *= 1e8
    reference = summary_mmd(CFG, real, other_real, generated=False)
    assert reference == signature_mmd(real, other_real, depth=3)  # its own missing pattern kept
    generated = summary_mmd(CFG, real, far_off)
    masked = far_off.clone()
    masked[..., 1:][torch.isnan(real[..., 1:])] = math.nan
    assert generated == signature_mmd(real, masked, depth=3)  # the real pattern applied
    assert abs(reference) < 0.05 < generated <= 4.0


def test_print_summary_shows_the_real_reference_and_the_bound(capsys):
    summary = {"run_dir": "outputs/x", "num_real_test_paths": 64, "mmd_trained": 0.02,
               "mmd_untrained": 0.9, "mmd_real": 0.001, "mmd_kernel": "normalised"}
    print_summary(summary)
    printed = capsys.readouterr().out
    assert "normalised kernel: 0 = same law, at most 4" in printed
    assert "real training paths: 0.001" in printed and "untrained generator: 0.9" in printed
    print_summary({**summary, "mmd_kernel": "linear"})
    assert "linear kernel: unbounded" in capsys.readouterr().out
