"""Every config of every group composes with the root config, and unknown choices list the valid ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf
from sdegan.config_dir import CONFIG_DIR as PACKAGE_CONFIG_DIR

CONFIG_DIR = Path(PACKAGE_CONFIG_DIR)
GROUPS = ["dataset", "model", "solver", "gradient", "brownian", "logger", "trainer", "metrics", "experiment",
          "callbacks", "debug"]


def choices(group: str) -> list[str]:
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


def compose_train(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=True)


def test_every_group_has_choices():
    for group in GROUPS:
        assert choices(group), f"config group {group} is empty"


@pytest.mark.parametrize(
    "group,choice", [(group, choice) for group in GROUPS for choice in choices(group)]
)
def test_choice_composes_and_resolves(group: str, choice: str):
    cfg = compose_train([f"{group}={choice}"])
    # Resolve everything except Hydra's runtime-only interpolations.
    cfg_no_hydra = OmegaConf.masked_copy(cfg, [k for k in cfg if k not in ("hydra", "logger", "callbacks")])
    OmegaConf.to_container(cfg_no_hydra, resolve=True)
    assert cfg.seed == 0
    assert "max_steps" in cfg.trainer


def test_required_keys_exist():
    cfg = compose_train([])
    assert cfg.dataset.num_paths > 0
    assert cfg.trainer.max_steps > 0
    assert cfg.solver.method == "reversible_heun"
    assert cfg.gradient.name == "reversible"
    assert cfg.brownian.name == "interval"
    assert set(cfg.logger) == {"csv", "wandb"}


def test_paper_experiment_is_paper_sized():
    cfg = compose_train(["experiment=ou_sde_gan"])
    assert cfg.trainer.max_steps == 10_000
    assert cfg.dataset.batch_size == 1024
    assert cfg.dataset.num_paths == 8192
    assert cfg.model.generator_lr == 2e-4 and cfg.model.discriminator_lr == 1e-3
    assert cfg.model.swa_start == 5000


@pytest.mark.parametrize("experiment", choices("experiment"))
def test_experiments_solve_on_a_fixed_grid_with_the_grid_brownian_source(experiment):
    cfg = compose_train([f"experiment={experiment}"])
    assert cfg.brownian.name == "grid"
    assert cfg.solver.method in ("reversible_heun", "midpoint")  # fixed-step methods without Levy area


def test_unknown_choice_lists_valid_ones():
    with pytest.raises(MissingConfigException) as error:
        compose_train(["solver=nonexistent"])
    message = str(error.value)
    for valid in ("reversible_heun", "midpoint", "reversible_rk4"):
        assert valid in message
