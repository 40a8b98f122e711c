"""The run's solves as ``sdegan-train`` builds them: the reference configuration (reversible Heun with the
adjoint gradient for the generator SDE and the discriminator CDE) trains, and a combination that one solve
of the run cannot do is refused before the first training step, naming the valid choices."""

from __future__ import annotations

import re

import pytest
import torch
from hydra import compose, initialize_config_dir

from sdegan import builders
from sdegan.errors import ConfigurationError, input_error_cause
from tests.entry_points.test_train_cli import BIN, TINY, run
from tests.configs.test_compose import CONFIG_DIR


def test_adjoint_gradient_trains(tmp_path):
    """Before: "gradient='adjoint' is not available for method='reversible_heun' (cde)" at the first step."""
    result = run([str(BIN / "sdegan-train"), "gradient=adjoint", *TINY, "trainer.max_steps=2", "metrics.include=[mmd]",
                  f"hydra.run.dir={tmp_path}"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_combination_the_discriminator_cannot_do_is_refused_before_training(tmp_path):
    """heun solves the generator SDE but not the discriminator CDE: refused in one line, nothing trained."""
    result = run([str(BIN / "sdegan-train"), "solver=heun", *TINY, f"hydra.run.dir={tmp_path}"], cwd=tmp_path)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "Unknown cde method 'heun'; valid methods: reversible_heun" in message, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize("overrides,match", [
    (["solver=midpoint", "gradient=adjoint"], "continuous adjoint would not give the gradient"),
    (["solver=dopri5"], "Unknown sde method 'dopri5'"),
    (["solver=milstein"], "does not handle noise_type='general'.*valid methods: reversible_heun, reversible_midpoint"),
    (["metrics=cde_adaptive", "solver.grid_policy=nearest"], "grid_policy must be one of"),
])
def test_run_specs_refuse_up_front(overrides, match):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose(config_name="train", overrides=["dataset.num_paths=64", *overrides])

    class Data:
        num_channels, times, dt = 1, torch.arange(8.0), 1.0

    with pytest.raises(Exception) as refused:
        builders.build_model(cfg, Data())
    cause = input_error_cause(refused.value)  # what the entry points print as one line
    assert isinstance(cause, ConfigurationError) and re.search(match, str(cause))


def test_every_spec_of_the_run_is_built():
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose(config_name="train", overrides=["metrics=cde_adaptive"])

    class Data:
        num_channels, times, dt = 1, torch.arange(8.0), 1.0

    specs = builders.build_run_specs(cfg, builders.build_model(cfg, Data()))
    assert {name: spec.problem for name, spec in specs.items()} == {
        "generator_options": "sde", "discriminator_options": "cde", "penalty_options": "cde", "metric_classifier": "cde"}
    assert specs["generator_options"].grid.num_steps == 7 and specs["metric_classifier"].method == "dopri5"
