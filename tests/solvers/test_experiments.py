"""The solver experiments run end to end in their --quick mode and write their results."""

import pandas as pd

from tests.experiments.results_files import load_experiment_module as _load


def test_solver_speed_quick(tmp_path):
    _load("solver_speed").main(["--quick", "--output", str(tmp_path)])
    frame = pd.read_csv(tmp_path / "solver_speed.csv")
    assert len(frame) == 3 and (frame.median_ms > 0).all()
    ours = frame[frame.method.str.startswith("ours")].iloc[0]
    torchsde_row = frame[frame.method.str.startswith("torchsde")].iloc[0]
    # one evaluation per step (8) plus one at each end, versus two per step for torchsde's adjoint
    assert ours.forward_evaluations == 9 and ours.backward_evaluations == 9
    assert torchsde_row.backward_evaluations == 16
    assert "Command:" in (tmp_path / "solver_speed.md").read_text()


def test_reversible_stability_quick(tmp_path):
    _load("reversible_stability").main(["--quick", "--output", str(tmp_path)])
    frame = pd.read_csv(tmp_path / "reversible_stability.csv")
    assert set(frame.problem) == {"linear_decay", "linear_rotation", "neural_sde"}
    assert (tmp_path / "reversible_stability.png").stat().st_size > 0
    # reversible Heun is never stable on a decaying real mode (its step has determinant -1)
    heun_decay = frame[(frame.problem == "linear_decay") & (frame.method == "reversible_heun")]
    assert (heun_decay.spectral_radius > 1).all()
