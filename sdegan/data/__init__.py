"""Datasets as paths ``(batch, length, 1 + channels)`` served by one LightningDataModule family.

Chosen by ``sdegan/configs/dataset/<name>.yaml`` (``_target_`` one of the data modules below); see docs/data.md.
"""

from sdegan.data.air_quality import AirQualityDataModule
from sdegan.data.csv_series import CSVDataModule
from sdegan.data.datamodule import DataModuleOptions, PathDataModule
from sdegan.data.normaliser import Normaliser
from sdegan.data.ou import OUDataModule, simulate_time_dependent_ou
from sdegan.data.raw import RawPaths, split_indices, validate_paths
from sdegan.data.weights import WeightsDataModule, generate_weight_trajectories

__all__ = [
    "AirQualityDataModule",
    "CSVDataModule",
    "Normaliser",
    "OUDataModule",
    "DataModuleOptions",
    "PathDataModule",
    "RawPaths",
    "WeightsDataModule",
    "generate_weight_trajectories",
    "simulate_time_dependent_ou",
    "split_indices",
    "validate_paths",
]
