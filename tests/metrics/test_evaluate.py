"""evaluate_generator: names, repeats, determinism, missing-value handling, configs, errors."""

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from sdegan.metrics import MetricsConfig, classification_accuracy, evaluate_generator, metric_names
from tests.metrics.simulated_ou import ou_paths
from sdegan.config_dir import CONFIG_DIR as PACKAGE_CONFIG_DIR
from sdegan.errors import ConfigurationError

CONFIG_DIR = str(Path(PACKAGE_CONFIG_DIR) / "metrics")
LENGTH = 16


def ou_sampler(level=0.0, length=LENGTH):
    """A 'generator' drawing from torch's global generator, as a model's sample() would."""

    def sample(num_samples, times):
        return ou_paths(num_samples, length, seed=int(torch.randint(0, 2**31, ())), level=level)

    return sample


def compose_metrics(name):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        return compose(config_name=name)


TINY = {"repeats": 2, "num_samples": 64,
        "classification": {"hidden_size": 4, "epochs": 1, "batch_size": 32},
        "prediction": {"num_train": 64, "hidden_size": 4, "epochs": 1, "batch_size": 32}}


def test_returns_the_documented_names_with_mean_and_std_over_repeats():
    train, test = ou_paths(100, LENGTH, seed=0), ou_paths(100, LENGTH, seed=1)
    results = evaluate_generator(ou_sampler(), train, test, TINY, seed=0)
    assert list(results) == metric_names("test") == [
        "test/mmd", "test/mmd_std", "test/mmd_real", "test/mmd_real_std",
        "test/classification", "test/classification_std",
        "test/discriminative_score", "test/discriminative_score_std",
        "test/prediction_tstr", "test/prediction_tstr_std",
        "test/prediction_trtr", "test/prediction_trtr_std",
        "test/predictive_score", "test/predictive_score_std",
        "test/predictive_score_real", "test/predictive_score_real_std"]
    assert all(math.isfinite(value) for value in results.values())
    assert all(results[name] > 0 for name in results if name.endswith("_std"))


def test_deterministic_given_seed():
    train, test = ou_paths(100, LENGTH, seed=0), ou_paths(100, LENGTH, seed=1)
    first = evaluate_generator(ou_sampler(), train, test, TINY, seed=7)
    torch.manual_seed(1)
    assert evaluate_generator(ou_sampler(), train, test, TINY, seed=7) == first
    assert evaluate_generator(ou_sampler(), train, test, TINY, seed=8) != first


def test_val_prefix_and_subset_of_metrics():
    train, test = ou_paths(50, LENGTH, seed=0), ou_paths(50, LENGTH, seed=1)
    config = {"repeats": 1, "include": ["mmd"]}
    results = evaluate_generator(ou_sampler(), train, test, config, seed=0, prefix="val")
    assert list(results) == ["val/mmd", "val/mmd_std", "val/mmd_real", "val/mmd_real_std"]
    assert math.isnan(results["val/mmd_std"])  # one repeat: no spread


def test_true_generator_is_indistinguishable_from_real_data_with_missing_values():
    # The real data miss 30% of their values; the generator's paths are complete. evaluate_generator
    # gives each generated path a real path's missing pattern, so a perfect generator still scores
    # ~0.5 (without it the classifier spots the interpolated gaps: 0.78-0.87 measured here).
    length = 32
    train = ou_paths(300, length, seed=0, missing_fraction=0.3)
    test = ou_paths(300, length, seed=1, missing_fraction=0.3)
    config = {"repeats": 1, "num_samples": 300, "include": ["mmd", "classification"],
              "classification": {"hidden_size": 16, "epochs": 30, "batch_size": 64}}
    good = evaluate_generator(ou_sampler(length=length), train, test, config, seed=0)
    bad = evaluate_generator(ou_sampler(level=2.0, length=length), train, test, config, seed=0)
    assert abs(good["test/classification"] - 0.5) < 0.15
    assert bad["test/classification"] > 0.95
    # the discriminative score |accuracy - 0.5|: ~0 for the true law, near its maximum 0.5 otherwise
    for results in (good, bad):
        assert results["test/discriminative_score"] == abs(results["test/classification"] - 0.5)
    assert good["test/discriminative_score"] < 0.15 < 0.45 < bad["test/discriminative_score"]
    # the bounded MMD: the true generator scores like two real samples, a wrong one far above
    assert good["test/mmd_real"] == bad["test/mmd_real"]
    assert abs(good["test/mmd"]) < 0.02 and abs(good["test/mmd_real"]) < 0.02
    assert abs(good["test/mmd"] - good["test/mmd_real"]) < 0.05 * bad["test/mmd"]
    assert 0.2 < bad["test/mmd"] <= 4.0
    # The same comparison without the shared pattern is what the masking protects against.
    unmasked = classification_accuracy(test, ou_paths(300, length, seed=5), seed=0,
                                       **config["classification"])
    assert unmasked > 0.65


@pytest.mark.parametrize("name, classifier", [("default", "gru"), ("quick", "gru"),
                                              ("cde_adaptive", "cde")])
def test_configs_compose_into_a_valid_metrics_config(name, classifier):
    config = MetricsConfig.from_mapping(compose_metrics(name))
    assert config.include == ("mmd", "classification", "prediction")
    assert config.mmd.backend == "signatory" and config.classification.model == classifier
    assert config.mmd.kernel == "normalised"


def test_default_config_has_the_documented_sizes():
    config = MetricsConfig.from_mapping(compose_metrics("default"))
    assert (config.repeats, config.num_samples, config.mmd.depth) == (3, 1024, 4)


def test_adaptive_cde_config_runs_dopri5_with_the_seminorm_adjoint():
    config = MetricsConfig.from_mapping(compose_metrics("cde_adaptive"))
    assert config.classification.solve_options == dict(
        method="dopri5", gradient="adjoint", dt=None, rtol=1e-3, atol=1e-5, norm="seminorm")
    tiny = dataclasses.replace(
        config, repeats=1, num_samples=16, include=("classification",),
        classification=dataclasses.replace(config.classification, hidden_size=4, epochs=1))
    train, test = ou_paths(16, 6, seed=0), ou_paths(16, 6, seed=1)
    results = evaluate_generator(ou_sampler(length=6), train, test, tiny, seed=0)
    assert 0.0 <= results["test/classification"] <= 1.0


def test_quick_config_runs():
    train, test = ou_paths(200, LENGTH, seed=0), ou_paths(200, LENGTH, seed=1)
    results = evaluate_generator(ou_sampler(), train, test, compose_metrics("quick"), seed=0)
    assert set(results) == set(metric_names("test"))


@pytest.mark.parametrize(
    "config, message",
    [
        ({"repeat": 2}, "valid keys: repeats, num_samples, include"),
        ({"mmd": {"level": 3}}, "valid keys: kernel, depth, scale, backend, batch_size"),
        ({"mmd": {"kernel": "gauss"}, "include": ["mmd"]}, "valid choices: normalised, linear"),
        ({"include": ["mmd", "fid"]}, "subset of mmd, classification, prediction"),
        ({"repeats": 0}, "repeats"),
        ({"mmd": {"backend": "esig"}, "include": ["mmd"]}, "valid choices: signatory, pysiglib"),
    ],
)
def test_bad_config_raises_clear_errors(config, message):
    train, test = ou_paths(20, LENGTH, seed=0), ou_paths(20, LENGTH, seed=1)
    with pytest.raises(ValueError, match=message):
        evaluate_generator(ou_sampler(), train, test, config, seed=0)


@pytest.mark.parametrize(
    "sample_fn, message",
    [
        (ou_sampler(length=LENGTH + 1), "same length"),
        (lambda n, times: ou_paths(n, LENGTH, seed=0, channels=2), "same number of channels"),
        (lambda n, times: ou_paths(n - 1, LENGTH, seed=0), "returned"),
        (lambda n, times: ou_paths(n, LENGTH, seed=0)[..., 1], "3 dimensions"),
        (lambda n, times: ou_paths(n, LENGTH, seed=0) * 2, "channel 0 is times"),
    ],
)
def test_bad_sampler_output_raises_clear_errors(sample_fn, message):
    train, test = ou_paths(20, LENGTH, seed=0), ou_paths(20, LENGTH, seed=1)
    with pytest.raises(ValueError, match=message):
        evaluate_generator(sample_fn, train, test, {"include": ["mmd"], "repeats": 1}, seed=0)


def test_runs_inside_inference_mode_as_in_lightning_test_loops():
    with torch.inference_mode():
        train, test = ou_paths(40, LENGTH, seed=0), ou_paths(40, LENGTH, seed=1)
        results = evaluate_generator(ou_sampler(), train, test, TINY, seed=0)
    assert all(math.isfinite(value) for value in results.values())


def test_raw_kernel_is_an_option_and_the_real_reference_uses_real_training_paths():
    train, test = ou_paths(60, LENGTH, seed=0), ou_paths(60, LENGTH, seed=1)
    config = {"repeats": 1, "num_samples": 40, "include": ["mmd"], "mmd": {"kernel": "linear"}}
    raw = evaluate_generator(ou_sampler(level=2.0), train, test, config, seed=0)
    bounded = evaluate_generator(ou_sampler(level=2.0), train, test, {**config, "mmd": {}}, seed=0)
    assert raw["test/mmd"] > 4.0 >= bounded["test/mmd"]
    # mmd_real compares the real test subset with real training paths: a training split from
    # another law moves it, the generator does not.
    shifted_train = ou_paths(60, LENGTH, seed=0, level=2.0)
    moved = evaluate_generator(ou_sampler(), shifted_train, test, {**config, "mmd": {}}, seed=0)
    assert moved["test/mmd_real"] > 0.2 > abs(bounded["test/mmd_real"])


def test_a_forecaster_is_judged_on_continuations_of_the_real_paths_own_prefixes():
    # sample_like_fn gets the real paths each generated path is paired with (test paths for MMD and the
    # classifier, training paths for the predictors trained on generated data) and returns one path per real
    # path: keeping each real path's first half and continuing it truly scores like the data, continuing it
    # shifted is caught.
    length = 32
    train, test = ou_paths(300, length, seed=0), ou_paths(300, length, seed=1)
    seen = []

    def continuer(shift):
        def continue_paths(real):
            seen.append(real)
            paths = real.clone()
            paths[:, length // 2:, 1:] += shift
            return paths
        return continue_paths

    config = {"repeats": 1, "num_samples": 300, "include": ["mmd", "classification", "prediction"],
              "classification": {"hidden_size": 16, "epochs": 30, "batch_size": 64},
              "prediction": {"num_train": 100, "hidden_size": 4, "epochs": 1, "batch_size": 32}}
    good = evaluate_generator(None, train, test, config, seed=0, sample_like_fn=continuer(0.0))
    rows = {tuple(path.flatten().tolist()) for path in torch.cat([train, test])}
    assert len(seen) == 2 and all(tuple(path.flatten().tolist()) in rows for real in seen for path in real)
    bad = evaluate_generator(None, train, test, config, seed=0, sample_like_fn=continuer(2.0))
    assert abs(good["test/mmd"]) < 0.02 and 0.2 < bad["test/mmd"]
    assert good["test/discriminative_score"] < 0.1 < 0.45 < bad["test/discriminative_score"]
    assert good["test/prediction_tstr"] < bad["test/prediction_tstr"]


@pytest.mark.parametrize("sample_fn, sample_like_fn", [(None, None), (ou_sampler(), lambda real: real)])
def test_exactly_one_way_of_generating_is_given(sample_fn, sample_like_fn):
    train, test = ou_paths(20, LENGTH, seed=0), ou_paths(20, LENGTH, seed=1)
    with pytest.raises(ConfigurationError, match="exactly one of sample_fn and sample_like_fn"):
        evaluate_generator(sample_fn, train, test, TINY, sample_like_fn=sample_like_fn)
