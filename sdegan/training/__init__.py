"""LightningModules (SDE-GAN, latent SDE, signature-kernel scores) and training callbacks."""

from sdegan.training.callbacks import (
    FinalStepCheckpoint,
    GeneratorMetricsCallback,
    SamplePlotCallback,
    TrainingCurvesCallback,
)
from sdegan.training.checkpoint_io import AtomicCheckpointIO
from sdegan.training.errors import CheckpointWriteError, NonFiniteLossError
from sdegan.training.latent_sde import LatentSDE
from sdegan.training.sde_gan import LIPSCHITZ_METHODS, SDEGAN
from sdegan.training.sde_sigker import SDESigKer
from sdegan.training.sde_sigker_conditional import SDESigKerConditional

__all__ = [
    "AtomicCheckpointIO",
    "CheckpointWriteError",
    "FinalStepCheckpoint",
    "GeneratorMetricsCallback",
    "LIPSCHITZ_METHODS",
    "LatentSDE",
    "NonFiniteLossError",
    "SDEGAN",
    "SDESigKer",
    "SDESigKerConditional",
    "SamplePlotCallback",
    "TrainingCurvesCallback",
]
