"""The shared PathDataModule machinery: validation, deterministic splits, train-only normalisation, loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdegan.data import Normaliser, PathDataModule, RawPaths, split_indices, validate_paths
from tests.data.fixtures import identical


class ArrayDataModule(PathDataModule):
    """Serves given raw arrays (the machinery under test, without any dataset-specific loading)."""

    def __init__(self, raw: RawPaths, **kwargs) -> None:
        super().__init__(**kwargs)
        self.raw = raw

    @property
    def description(self) -> str:
        return "array dataset"

    def load_raw(self) -> RawPaths:
        return RawPaths(self.raw.times.copy(), self.raw.values.copy(), self.raw.channel_names, self.raw.groups)


def random_raw(num_paths: int = 50, length: int = 7, channels: int = 2, seed: int = 0) -> RawPaths:
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.uniform(0.1, 1.0, size=(num_paths, length)), axis=1)
    values = 3.0 + 2.0 * rng.standard_normal((num_paths, length, channels))
    values[rng.random(values.shape) < 0.2] = np.nan
    values[:, 0, 0] = 1.0  # keep every path partly observed
    return RawPaths(times, values, [f"c{i}" for i in range(channels)])


def test_splits_are_disjoint_cover_everything_and_are_deterministic():
    train, val, test = split_indices(100, 0.2, 0.1, seed=3)
    assert (len(train), len(val), len(test)) == (70, 20, 10)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    again = split_indices(100, 0.2, 0.1, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    other = split_indices(100, 0.2, 0.1, seed=4)
    assert not np.array_equal(test, other[2])


def test_grouped_split_keeps_groups_together():
    groups = np.repeat(np.arange(30), 4)  # 30 groups of 4 items
    train, val, test = split_indices(len(groups), 0.1, 0.2, seed=0, groups=groups)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(groups)))
    assert set(groups[train]).isdisjoint(groups[val]) and set(groups[train]).isdisjoint(groups[test])
    assert set(groups[val]).isdisjoint(groups[test])
    assert len(test) >= 0.2 * len(groups) and len(val) >= 0.1 * len(groups)


@pytest.mark.parametrize(
    ("val_fraction", "test_fraction", "message"),
    [
        (0.0, 0.1, "val_fraction must lie strictly between 0 and 1"),
        (0.5, 0.5, "must be below 1"),
        (0.1, 1.2, "test_fraction"),
    ],
)
def test_bad_split_fractions_are_rejected(val_fraction, test_fraction, message):
    with pytest.raises(ValueError, match=message):
        split_indices(100, val_fraction, test_fraction, seed=0)


def test_too_few_paths_for_a_split():
    with pytest.raises(ValueError, match="too few"):
        split_indices(2, 0.1, 0.1, seed=0)


def test_path_format_and_normalisation_from_train_only():
    raw = random_raw()
    module = ArrayDataModule(raw, batch_size=8, seed=1)
    module.setup()
    assert module.num_channels == 2 and module.channel_names == ["c0", "c1"]
    for paths in (module.train_paths, module.val_paths, module.test_paths):
        assert paths.dtype == torch.float32 and paths.shape[1:] == (7, 3)
        assert not torch.isnan(paths[..., 0]).any() and (paths[..., 0].diff(dim=1) > 0).all()
    assert len(module.train_paths) + len(module.val_paths) + len(module.test_paths) == 50
    # train values are standardised exactly; the statistics are those of the train split's raw values
    train_index, _, test_index = split_indices(50, 0.1, 0.1, seed=1)
    expected = Normaliser.fit(raw.values[train_index], raw.channel_names)
    np.testing.assert_allclose(module.normaliser.mean, expected.mean, rtol=1e-12)
    np.testing.assert_allclose(module.normaliser.std, expected.std, rtol=1e-12)
    train_values = module.train_paths[..., 1:].double().reshape(-1, 2)
    for channel in range(2):
        observed = train_values[:, channel][~torch.isnan(train_values[:, channel])]
        assert abs(observed.mean().item()) < 1e-6 and abs(observed.std().item() - 1.0) < 1e-6


def test_test_data_does_not_influence_normalisation():
    raw = random_raw()
    _, _, test_index = split_indices(50, 0.1, 0.1, seed=1)
    corrupted = RawPaths(raw.times.copy(), raw.values.copy(), raw.channel_names)
    corrupted.values[test_index] = 1e6  # wildly different test data
    clean_module = ArrayDataModule(raw, batch_size=8, seed=1)
    corrupted_module = ArrayDataModule(corrupted, batch_size=8, seed=1)
    clean_module.setup()
    corrupted_module.setup()
    np.testing.assert_array_equal(clean_module.normaliser.mean, corrupted_module.normaliser.mean)
    np.testing.assert_array_equal(clean_module.normaliser.std, corrupted_module.normaliser.std)
    assert identical(clean_module.train_paths, corrupted_module.train_paths)


def test_inverse_transform_recovers_original_units():
    raw = random_raw()
    module = ArrayDataModule(raw, batch_size=8, seed=1)
    module.setup()
    train_index, _, _ = split_indices(50, 0.1, 0.1, seed=1)
    restored = module.normaliser.inverse_transform(module.train_paths.double())
    original = np.concatenate([raw.times[train_index, :, None], raw.values[train_index]], axis=-1)
    np.testing.assert_allclose(restored.numpy(), original, rtol=1e-5, atol=1e-5)


def test_dataloaders_yield_path_batches_deterministically():
    module = ArrayDataModule(random_raw(), batch_size=8, seed=1)
    module.setup()
    first = torch.cat(list(module.train_dataloader()))
    assert first.shape == module.train_paths.shape
    assert not identical(first, module.train_paths)  # shuffled
    other = ArrayDataModule(random_raw(), batch_size=8, seed=1)
    other.setup()
    assert identical(torch.cat(list(other.train_dataloader())), first)
    batch = next(iter(module.val_dataloader()))
    assert isinstance(batch, torch.Tensor) and batch.shape == (5, 7, 3)
    assert identical(torch.cat(list(module.test_dataloader())), module.test_paths)


def test_generation_times_for_irregular_paths_are_an_exact_uniform_grid_over_the_mean_span():
    raw = random_raw()
    module = ArrayDataModule(raw, batch_size=8, seed=1)
    module.setup()
    train_index, _, _ = split_indices(50, 0.1, 0.1, seed=1)
    start, end = raw.times[train_index, 0].mean(), raw.times[train_index, -1].mean()
    step = (end - start) / 6
    assert abs(module.dt - step) < step / 2**8  # the step is rounded to 8 significant bits
    # the start is rounded to a multiple of the step (it is 0 for the csv dataset, whose times start at 0)
    tolerance = step / 2 + 6 * step / 2**8
    np.testing.assert_allclose(module.times.numpy(), np.linspace(start, end, 7), rtol=0, atol=tolerance)
    # every grid point is an exact multiple of dt (in float32 too), as fixed-step solvers need
    ratios = module.times.double() / module.dt
    assert torch.equal(ratios, ratios.round())


def test_generation_times_for_regular_paths_are_the_common_grid():
    raw = random_raw()
    raw.times[:] = np.arange(7.0) * 0.5
    module = ArrayDataModule(raw, batch_size=8, seed=1)
    module.setup()
    assert module.times.tolist() == (np.arange(7.0) * 0.5).tolist() and module.dt == 0.5


def test_validation_rejects_all_nan_paths_and_non_increasing_times():
    raw = random_raw()
    raw.values[3] = np.nan
    with pytest.raises(ValueError, match=r"array dataset: 1 of 50 paths have no observed values at all \(all NaN\)"):
        validate_paths(raw, "array dataset")
    raw = random_raw()
    raw.times[4, 2] = raw.times[4, 1]
    with pytest.raises(ValueError, match="strictly increasing along each path; path 4"):
        validate_paths(raw, "array dataset")
    raw = random_raw()
    raw.times[0, 0] = np.nan
    with pytest.raises(ValueError, match="times must be finite"):
        validate_paths(raw, "array dataset")
    empty = RawPaths(np.zeros((0, 5)), np.zeros((0, 5, 1)), ["c"])
    with pytest.raises(ValueError, match="no paths were produced"):
        validate_paths(empty, "array dataset")


def test_constant_channel_cannot_be_normalised():
    raw = random_raw()
    raw.values[..., 1] = 2.0
    with pytest.raises(ValueError, match="channel 'c1' cannot be normalised"):
        ArrayDataModule(raw, batch_size=8, seed=1).setup()


def test_dataloader_before_setup_is_an_error():
    with pytest.raises(RuntimeError, match="setup"):
        ArrayDataModule(random_raw(), batch_size=8, seed=1).train_dataloader()


@pytest.mark.parametrize(("keyword", "value"), [("batch_size", 0), ("seed", -1), ("num_workers", -2)])
def test_bad_module_arguments(keyword, value):
    arguments = {"batch_size": 8, "seed": 1, keyword: value}
    with pytest.raises(ValueError, match=keyword):
        ArrayDataModule(random_raw(), **arguments)


DATASET_CLASSES = ["OUDataModule", "WeightsDataModule", "AirQualityDataModule", "CSVDataModule"]


@pytest.mark.parametrize("name", DATASET_CLASSES)
def test_every_dataset_takes_the_shared_options_through_the_base(name):
    import inspect
    import typing

    import sdegan.data as data

    cls = getattr(data, name)
    parameters = inspect.signature(cls.__init__).parameters
    shared = set(typing.get_type_hints(data.DataModuleOptions))
    assert shared == {"batch_size", "seed", "val_fraction", "test_fraction", "num_workers"}
    assert shared.isdisjoint(parameters)  # declared once, in PathDataModule
    assert parameters["options"].kind is inspect.Parameter.VAR_KEYWORD


def test_shared_options_reach_the_base_with_per_dataset_default_batch_sizes(tmp_path):
    from sdegan.data import CSVDataModule, OUDataModule, WeightsDataModule

    ou = OUDataModule(num_paths=20, length=4, seed=2, val_fraction=0.2, test_fraction=0.3, num_workers=1)
    assert (ou.batch_size, ou.seed, ou.val_fraction, ou.test_fraction, ou.num_workers) == (1024, 2, 0.2, 0.3, 1)
    weights = WeightsDataModule(num_paths=8, length=3, seed=5, batch_size=4, cache_dir=None)
    assert weights.batch_size == 4 and weights.generation_settings["seed"] == 5
    assert CSVDataModule(path="example").batch_size == 256
    with pytest.raises(ValueError, match="batch_size"):
        OUDataModule(batch_size=0)
    with pytest.raises(TypeError):
        OUDataModule(batch_sizes=3)


def test_irregular_paths_keep_their_own_times_and_the_generation_grid_is_regular():
    from sdegan.data import CSVDataModule

    datamodule = CSVDataModule(path="example", seed=0)
    datamodule.setup()
    times = datamodule.train_paths[..., 0]
    assert not (times == times[:1]).all()  # the example's series are observed at different times
    assert torch.equal(datamodule.times, torch.arange(times.size(1), dtype=torch.float32))


def test_normaliser_state_round_trips_with_its_time_unit():
    fitted = Normaliser.fit(random_raw().values, ["c0", "c1"], time_unit=0.25)
    restored = Normaliser.from_state_dict(fitted.state_dict())
    assert restored.state_dict() == fitted.state_dict() and restored.time_unit == 0.25
    older = {key: value for key, value in fitted.state_dict().items() if key != "time_unit"}
    assert Normaliser.from_state_dict(older).time_unit == 1.0  # checkpoints written before the time unit


def test_values_that_squash_normalisation_are_refused_with_the_reason():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((100, 10, 1))
    Normaliser.fit(values, ["x"])  # ordinary data
    heavy = values.copy()
    heavy[0, 0, 0] = 1e5  # an outlier 1e5 spreads away: normalised, the rest still varies by ~3e-4
    Normaliser.fit(heavy, ["x"])
    heavy[0, 0, 0] = 1e9  # the rest would vary by ~3e-8, below float32 resolution at its level
    with pytest.raises(ValueError, match=r"channel 'x' cannot be normalised meaningfully: .*largest magnitude 1e\+09"):
        Normaliser.fit(heavy, ["x"])
    mostly_zero = np.where(rng.random((100, 10, 1)) < 0.9, 0.0, rng.exponential(size=(100, 10, 1)))
    Normaliser.fit(mostly_zero, ["rain"])  # median absolute deviation 0 (like RAIN): no robust spread to compare


def test_held_out_values_far_outside_the_train_range_are_refused():
    normaliser = Normaliser([0.0], [2.0], ["x"])
    paths = torch.tensor([[[0.0, 1.0], [1.0, 2e6]], [[0.0, 1.0], [1.0, 3e6]]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"path 1, observation 1: channel 'x' has value 3e\+06, 1.5e\+06 train standard"):
        normaliser.transform(paths)
    assert normaliser.transform(paths[:1]).shape == (1, 2, 2)
