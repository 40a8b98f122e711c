"""Models: the SDE-GAN generator (neural SDE) and discriminator (neural CDE), and the latent SDE."""

from sdegan.models.discriminator import Discriminator, DiscriminatorVectorField, index_step
from sdegan.models.generator import Generator, GeneratorVectorField
from sdegan.models.latent_sde import LatentSDEModel

__all__ = [
    "Discriminator",
    "DiscriminatorVectorField",
    "Generator",
    "GeneratorVectorField",
    "LatentSDEModel",
    "index_step",
]
