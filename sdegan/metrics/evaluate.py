"""All metrics of a generator at once, repeated over seeds, under the project's stable metric names.

Used by the Lightning callbacks (``prefix="val"`` or ``"test"``) and by ``sdegan-evaluate``. The
names are documented in docs/metrics.md.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from sdegan.metrics.classification import classification_accuracy
from sdegan.paths import (
    apply_missing_pattern,
    check_paths,
    check_same_channels,
    check_same_length,
)
from sdegan.metrics.prediction import prediction_loss, predictive_score
from sdegan.random_state import seeded
from sdegan.metrics.signature_mmd import signature_mmd
from sdegan.errors import ConfigurationError

METRIC_GROUPS = ("mmd", "classification", "prediction")


@dataclass(frozen=True)
class MMDSettings:
    """Keyword arguments of :func:`sdegan.metrics.signature_mmd`."""

    kernel: str = "normalised"
    depth: int = 4
    scale: float | tuple[float, ...] | str = "auto"
    backend: str = "signatory"
    batch_size: int = 1024


@dataclass(frozen=True)
class ClassificationSettings:
    """Keyword arguments of :func:`sdegan.metrics.classification_accuracy`."""

    model: str = "gru"
    hidden_size: int = 32
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-2
    train_fraction: float = 0.7
    solve_options: dict[str, Any] | None = None


@dataclass(frozen=True)
class PredictionSettings:
    """Keyword arguments of :func:`sdegan.metrics.prediction_loss`, plus ``num_train``: how many
    paths the predictors are trained on (generated for TSTR, real training paths for TRTR). The
    network and schedule keys also apply to :func:`sdegan.metrics.predictive_score`
    (``context_fraction`` does not)."""

    num_train: int = 1024
    context_fraction: float = 0.5
    hidden_size: int = 32
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-2


@dataclass(frozen=True)
class MetricsConfig:
    """What :func:`evaluate_generator` computes; mirrors ``sdegan/configs/metrics/*.yaml``.

    Attributes:
        repeats: independent repetitions (seeds ``seed, seed + 1, ...``); results are mean and std.
        num_samples: real test paths (at most; fewer if the split is smaller) and as many generated
            paths compared per repetition, for MMD, classification and as prediction test set.
        include: which metric groups to compute, a subset of ``mmd, classification, prediction``.
    """

    repeats: int = 3
    num_samples: int = 1024
    include: tuple[str, ...] = METRIC_GROUPS
    mmd: MMDSettings = field(default_factory=MMDSettings)
    classification: ClassificationSettings = field(default_factory=ClassificationSettings)
    prediction: PredictionSettings = field(default_factory=PredictionSettings)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> MetricsConfig:
        """Build from a (possibly nested, possibly OmegaConf) mapping such as the Hydra
        ``metrics`` group; unknown keys and invalid values raise ``ValueError``."""
        values = _checked_keys(mapping, cls, "metrics")
        nested = {"mmd": MMDSettings, "classification": ClassificationSettings,
                  "prediction": PredictionSettings}
        for name, settings_class in nested.items():
            if name in values:
                settings = _checked_keys(values[name], settings_class, f"metrics.{name}")
                if "scale" in settings and not isinstance(settings["scale"], (int, float, str)):
                    settings["scale"] = tuple(settings["scale"])
                if settings.get("solve_options") is not None:
                    settings["solve_options"] = _plain_dict(settings["solve_options"])
                values[name] = settings_class(**settings)
        if "include" in values:
            values["include"] = tuple(values["include"])
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        """Raise ``ValueError`` on invalid top-level values."""
        for name in ("repeats", "num_samples"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"metrics.{name} must be an integer >= 1, got {value!r}")
        unknown = [name for name in self.include if name not in METRIC_GROUPS]
        if unknown or not self.include:
            raise ConfigurationError(f"metrics.include must be a non-empty subset of "
                             f"{', '.join(METRIC_GROUPS)}; got {list(self.include)}")


def _plain_dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key): value for key, value in mapping.items()}


def _checked_keys(mapping: Any, settings_class: type, where: str) -> dict[str, Any]:
    if not isinstance(mapping, Mapping):
        raise ConfigurationError(f"{where} must be a mapping, got {type(mapping).__name__}")
    valid = [f.name for f in dataclasses.fields(settings_class)]
    unknown = sorted(set(map(str, mapping)) - set(valid))
    if unknown:
        raise ConfigurationError(f"unknown key(s) {unknown} in {where}; valid keys: {', '.join(valid)}")
    return _plain_dict(mapping)


def metric_names(prefix: str = "test",
                 include: tuple[str, ...] = METRIC_GROUPS) -> list[str]:
    """The names :func:`evaluate_generator` returns, in order (each mean followed by its std)."""
    bases = {"mmd": ["mmd", "mmd_real"], "classification": ["classification", "discriminative_score"],
             "prediction": ["prediction_tstr", "prediction_trtr", "predictive_score",
                            "predictive_score_real"]}
    names = []
    for group in METRIC_GROUPS:
        if group in include:
            for base in bases[group]:
                names += [f"{prefix}/{base}", f"{prefix}/{base}_std"]
    return names


def _subset(paths: Tensor, size: int) -> Tensor:
    return paths[torch.randperm(paths.shape[0])[:size].to(paths.device)]


def _sample(sample_fn: Callable[[int, Tensor], Tensor] | None, like: Tensor,
            sample_like_fn: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """As many generated paths as ``like`` holds, observed at ``like``'s times (path ``i`` at path ``i``'s):
    from ``sample_fn(n, times)``, or ``sample_like_fn(like)``."""
    num_samples, times = like.shape[0], like[..., 0]
    with torch.no_grad():
        paths = sample_like_fn(like) if sample_like_fn is not None else sample_fn(num_samples, times)
    check_paths(paths, "generated paths (sample_fn output)")
    if paths.shape[0] != num_samples:
        raise ConfigurationError(f"the generator returned {paths.shape[0]} paths for {num_samples} asked")
    check_same_channels(like, paths, "real paths", "generated paths")
    check_same_length(like, paths, "real paths", "generated paths")
    paths = paths.detach().to(like.device)
    if not torch.equal(paths[..., 0], times.to(paths.dtype)):
        raise ConfigurationError("sample_fn(num_samples, times) must return paths whose channel 0 is times")
    return paths


def _mean_and_std(values: list[float]) -> tuple[float, float]:
    std = statistics.stdev(values) if len(values) > 1 else math.nan
    return statistics.fmean(values), std


def evaluate_generator(sample_fn: Callable[[int, Tensor], Tensor] | None, train_paths: Tensor, test_paths: Tensor,
                       config: MetricsConfig | Mapping[str, Any] | None = None, *, seed: int = 0,
                       prefix: str = "test",
                       sample_like_fn: Callable[[Tensor], Tensor] | None = None) -> dict[str, float]:
    """Compute the configured metrics of a generator against real data, repeated over seeds.

    Repetition ``r`` uses seed ``seed + r``: it draws a random subset of at most ``num_samples``
    real test paths and as many generated paths for the signature MMD and the classification
    accuracy (and its discriminative score ``|accuracy - 0.5|``); ``mmd_real`` is the same MMD
    between that real test subset and as many real training paths (what a generator as good as the
    data scores). For prediction it draws ``prediction.num_train`` generated paths (TSTR,
    ``predictive_score``) and as many real training paths (TRTR, ``predictive_score_real``) and
    tests all predictors on the same real test subset. Each generated path is sampled at the
    observation times of the real path it is paired with and given its missing-value pattern
    (:func:`sdegan.paths.apply_missing_pattern`), so gaps are filled the same way on both
    sides and the metrics do not reward or punish the filling itself. Sampling
    happens under ``torch.no_grad()`` with torch, NumPy and Python seeded (and restored afterwards),
    so the result is deterministic whenever ``sample_fn`` draws only from those generators.

    Arguments:
        sample_fn: ``(num_samples, times) -> paths`` in the project's path format, observed at
            ``times`` ``(num_samples, length)`` (e.g. a model's ``sample``); it is called with the real
            paths' times, so generated and real paths are compared on the same times. ``None`` when
            ``sample_like_fn`` is given instead.
        sample_like_fn: ``real paths -> one generated path per real path, at its times`` (a training module's
            ``sample_like``), instead of ``sample_fn``. For an unconditional model it is ``sample_fn`` at the real
            paths' times; a model that continues observed paths (``model=sde_sigker_conditional``) continues each
            real path's prefix, so the MMD and the classifier compare each real test path with a continuation
            of its own prefix (the law of the continuations given real prefixes), and the predictors trained on
            generated paths see continuations of training paths' prefixes.
        train_paths: real training paths (for ``mmd_real`` and the predictors trained on real data).
        test_paths: real held-out paths.
        config: a :class:`MetricsConfig`, or a mapping such as the Hydra ``metrics`` config;
            ``None`` means the defaults.
        seed: base seed.
        prefix: name prefix, ``"test"`` or ``"val"`` (any name without ``/``).

    Returns:
        ``{f"{prefix}/mmd": mean, f"{prefix}/mmd_std": std, ...}`` for each included group, names as
        in :func:`metric_names`: mean and sample standard deviation over the repeats (std is NaN
        when ``repeats == 1``). MMD is the unbiased MMD^2 estimate with the configured kernel.
    """
    if (sample_fn is None) == (sample_like_fn is None):
        raise ConfigurationError("evaluate_generator needs exactly one of sample_fn and sample_like_fn")
    if config is None:
        config = MetricsConfig()
    elif not isinstance(config, MetricsConfig):
        config = MetricsConfig.from_mapping(config)
    else:
        config.check()
    if not isinstance(prefix, str) or not prefix or "/" in prefix:
        raise ConfigurationError(f"prefix must be a non-empty name without '/', e.g. 'test' or 'val'; "
                         f"got {prefix!r}")
    check_paths(test_paths, "test_paths", min_batch=2)
    check_paths(train_paths, "train_paths", min_batch=2)
    check_same_channels(train_paths, test_paths, "train_paths", "test_paths")
    check_same_length(train_paths, test_paths, "train_paths", "test_paths")
    include = config.include
    num_test = min(config.num_samples, test_paths.shape[0])
    num_train = min(config.prediction.num_train, train_paths.shape[0])
    prediction_options = dataclasses.asdict(config.prediction)
    del prediction_options["num_train"]
    predictive_options = dict(prediction_options)
    del predictive_options["context_fraction"]
    results: dict[str, list[float]] = {}
    for repeat in range(config.repeats):
        repeat_seed = seed + repeat
        with seeded(repeat_seed):
            real_test = _subset(test_paths, num_test)
            fake_test = apply_missing_pattern(_sample(sample_fn, real_test, sample_like_fn), real_test)
            if "prediction" in include:
                real_train = _subset(train_paths, num_train)
                fake_train = apply_missing_pattern(_sample(sample_fn, real_train, sample_like_fn), real_train)
        if "mmd" in include:
            with seeded(repeat_seed):
                real_reference = _subset(train_paths, num_test)
            mmd_options = dataclasses.asdict(config.mmd)
            results.setdefault("mmd", []).append(signature_mmd(real_test, fake_test, **mmd_options))
            results.setdefault("mmd_real", []).append(
                signature_mmd(real_test, real_reference, **mmd_options))
        if "classification" in include:
            accuracy = classification_accuracy(real_test, fake_test, seed=repeat_seed,
                                               **dataclasses.asdict(config.classification))
            results.setdefault("classification", []).append(accuracy)
            results.setdefault("discriminative_score", []).append(abs(accuracy - 0.5))
        if "prediction" in include:
            tstr = prediction_loss(fake_train, real_test, seed=repeat_seed, **prediction_options)
            trtr = prediction_loss(real_train, real_test, seed=repeat_seed, **prediction_options)
            results.setdefault("prediction_tstr", []).append(tstr)
            results.setdefault("prediction_trtr", []).append(trtr)
            results.setdefault("predictive_score", []).append(
                predictive_score(fake_train, real_test, seed=repeat_seed, **predictive_options))
            results.setdefault("predictive_score_real", []).append(
                predictive_score(real_train, real_test, seed=repeat_seed, **predictive_options))
    summary: dict[str, float] = {}
    for base, values in results.items():
        summary[f"{prefix}/{base}"], summary[f"{prefix}/{base}_std"] = _mean_and_std(values)
    return {name: summary[name] for name in metric_names(prefix, include)}
