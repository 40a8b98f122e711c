"""Maximum mean discrepancy between two samples of paths with a truncated signature kernel.

``S(x)`` is the signature, truncated at ``depth``, of the path seen as a piecewise-linear curve in
``1 + channels`` dimensions (time is channel 0, so the path is time-augmented) started from the origin
(the *basepoint*: a zero point is prepended, so the signature also sees the initial value). Missing
values are filled first (see :func:`sdegan.paths.fill_missing`), and every increment,
including the one from the basepoint, is multiplied by ``scale`` before the signature is taken.

Two kernels (``kernel=``):

- ``"normalised"`` (the headline): ``k(x, y) = <phi(x), phi(y)> / (|phi(x)| |phi(y)|)`` with
  ``phi(x) = (1, S^1(x), ..., S^depth(x))`` the truncated signature *including* its level-0 term, i.e.
  the truncated signature kernel normalised by ``sqrt(k(x, x) k(y, y))``. The features are unit
  vectors, so MMD^2 lies in ``[0, 4]``; the level-0 term keeps the map injective (its normalised
  value ``1 / |phi(x)|`` records the norm). The normalisation is computed in log space from the
  signature of the path divided by its largest coordinate, so it is finite for any finite input.
- ``"linear"`` (the raw kernel): ``k(x, y) = <S(x), S(y)>`` (levels 1..depth), unbounded: level-k
  terms grow like the k-th power of the paths' size.

Both kernels have explicit finite features, so the unbiased estimator of MMD^2,

    1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i, y_j) - 2/(mn) sum_{i,j} k(x_i, y_j),

is computed exactly in the equivalent form ``|mean F(x) - mean F(y)|^2 - tr Cov F(x) / m -
tr Cov F(y) / n`` (``F`` the features, unbiased covariances), in float64, in O((m + n) * features)
time and memory, without Gram matrices.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from sdegan.paths import check_paths, check_same_channels, fill_missing
from sdegan.errors import ConfigurationError

SIGNATURE_BACKENDS = ("signatory", "pysiglib")
MMD_KERNELS = ("normalised", "linear")


def _scale_vector(scale: float | Sequence[float], width: int) -> Tensor:
    if isinstance(scale, (int, float)) and not isinstance(scale, bool):
        factors = torch.full((width,), float(scale), dtype=torch.float64)
    else:
        try:
            factors = torch.tensor([float(s) for s in scale], dtype=torch.float64)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(f"scale must be a positive number or a sequence of {width} positive "
                             f"numbers (one per channel, time first), got {scale!r}") from error
        if factors.numel() != width:
            raise ConfigurationError(f"scale has {factors.numel()} entries but the paths have {width} "
                             f"channels (time + values); give one number or one per channel")
    if not (torch.isfinite(factors).all() and (factors > 0).all()):
        raise ConfigurationError(f"scale must be positive and finite, got {scale!r}")
    return factors


def auto_scale(paths: Tensor) -> tuple[float, ...]:
    """Per-channel factors that put a sample of paths on unit scale: ``1 / time span`` for the time
    channel, ``1 / std`` of each value channel over all paths and times (gaps filled first, as for
    the signatures).

    ``signature_mmd(..., scale="auto")`` computes them from its first argument (the reference
    sample, e.g. the real paths) and applies the same factors to both samples, so the kernel is
    fixed by the reference and the result does not depend on the data's units or time range.
    """
    check_paths(paths, "paths", min_batch=2)
    values = fill_missing(paths.detach().to("cpu", torch.float64))
    span = float((values[:, -1, 0] - values[:, 0, 0]).mean())
    if not span > 0:
        raise ConfigurationError("scale='auto' needs paths whose time channel increases")
    factors = [1.0 / span]
    for channel in range(1, values.shape[-1]):
        channel_values = values[..., channel]
        size = float(channel_values.abs().max())  # std of values / size, so no square overflows
        std = size * float((channel_values / size).std()) if size > 0 else 0.0
        factors.append(1.0 / std if std > 0 else 1.0)
    return tuple(factors)


def _signatures_signatory(paths: Tensor, depth: int) -> Tensor:
    import signatory

    return signatory.signature(paths, depth, basepoint=True)


def _signatures_pysiglib(paths: Tensor, depth: int) -> Tensor:
    import pysiglib

    basepoint = torch.zeros_like(paths[:, :1])
    return pysiglib.sig(torch.cat([basepoint, paths], dim=1).contiguous(), depth)


_SIGNATURE_FUNCTIONS = {"signatory": _signatures_signatory, "pysiglib": _signatures_pysiglib}


def _signature_options(paths: Tensor, depth: int, scale: float | Sequence[float], backend: str,
                       batch_size: int) -> Tensor:
    """Validate the signature options; return the per-channel increment factors."""
    check_paths(paths, "paths")
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ConfigurationError(f"depth must be an integer >= 1, got {depth!r}")
    if backend not in _SIGNATURE_FUNCTIONS:
        raise ConfigurationError(f"unknown signature backend {backend!r}; valid choices: "
                                 f"{', '.join(SIGNATURE_BACKENDS)}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    return _scale_vector(scale, paths.shape[-1])


def _scaled_chunks(paths: Tensor, factors: Tensor, batch_size: int) -> Iterator[Tensor]:
    """``batch_size`` paths at a time: gaps filled, float64 on the CPU, increments scaled."""
    for start in range(0, paths.shape[0], batch_size):
        chunk = fill_missing(paths[start:start + batch_size].detach().to("cpu", torch.float64))
        yield chunk * factors


def path_signatures(paths: Tensor, *, depth: int = 4, scale: float | Sequence[float] = 1.0,
                    backend: str = "signatory", batch_size: int = 1024) -> Tensor:
    """Truncated signatures (without the constant level-0 term) of paths with basepoint.

    Arguments:
        paths: ``(batch, length, 1 + channels)``, NaN allowed in the value channels.
        depth: truncation depth (>= 1).
        scale: factor applied to every increment; one number, or one per channel (time first).
        backend: ``"signatory"`` or ``"pysiglib"``; they agree to floating-point rounding.
        batch_size: paths per backend call, bounding the working memory.

    Returns:
        ``(batch, features)`` float64 tensor on the CPU, ``features = sum_{k=1..depth} d^k`` with
        ``d = 1 + channels``, words in lexicographic order.
    """
    factors = _signature_options(paths, depth, scale, backend, batch_size)
    signature_function = _SIGNATURE_FUNCTIONS[backend]
    with torch.no_grad():
        return torch.cat([signature_function(chunk.contiguous(), depth)
                          for chunk in _scaled_chunks(paths, factors, batch_size)], dim=0)


def _signature_levels(width: int, depth: int) -> Tensor:
    """The level (1..depth) of each signature feature, in the backends' order."""
    return torch.cat([torch.full((width**level,), level) for level in range(1, depth + 1)])


def _unit_features(signatures: Tensor, size: Tensor, levels: Tensor, depth: int) -> Tensor:
    """``(1, S^1, ..., S^depth) / norm`` of the signatures of paths shrunk by ``size``.

    ``signatures`` are those of ``path / size``; the signature of ``path`` has level-k terms
    ``size^k`` times larger. Norms, factors and products are taken in log space, so no
    intermediate overflows whatever ``size`` is.
    """
    log_size = size.log().unsqueeze(-1)
    squared_levels = torch.zeros(signatures.shape[0], depth, dtype=torch.float64)
    squared_levels.index_add_(1, levels - 1, signatures.square())
    level_powers = torch.arange(1, depth + 1, dtype=torch.float64)
    log_squared_norms = torch.cat([torch.zeros_like(log_size),
                                   2 * level_powers * log_size + squared_levels.log()], dim=1)
    log_norm = 0.5 * torch.logsumexp(log_squared_norms, dim=1, keepdim=True)
    log_factors = (level_powers * log_size - log_norm)[:, levels - 1]
    normalised = signatures.sign() * (signatures.abs().log() + log_factors).exp()
    return torch.cat([(-log_norm).exp(), normalised], dim=1)


def normalised_signature_features(paths: Tensor, *, depth: int = 4,
                                  scale: float | Sequence[float] = 1.0, backend: str = "signatory",
                                  batch_size: int = 1024) -> Tensor:
    """Unit feature vectors of the normalised signature kernel.

    ``phi(x) / |phi(x)|`` with ``phi(x) = (1, S^1(x), ..., S^depth(x))`` the truncated signature of
    the path with basepoint, level-0 term included, so that ``<F(x), F(y)>`` is the truncated
    signature kernel divided by ``sqrt(k(x, x) k(y, y))``. Computed from the signature of the path
    divided by its largest coordinate magnitude and rescaled in log space: finite for any finite
    input, however large. Arguments as :func:`path_signatures`.

    Returns:
        ``(batch, 1 + features)`` float64 tensor on the CPU of unit rows; column 0 is
        ``1 / |phi(x)|``, the rest follow :func:`path_signatures`'s order.
    """
    factors = _signature_options(paths, depth, scale, backend, batch_size)
    signature_function = _SIGNATURE_FUNCTIONS[backend]
    levels = _signature_levels(paths.shape[-1], depth)
    chunks = []
    with torch.no_grad():
        for chunk in _scaled_chunks(paths, factors, batch_size):
            size = chunk.abs().amax(dim=(1, 2))
            size = torch.where(size > 0, size, torch.ones_like(size))
            signatures = signature_function((chunk / size.view(-1, 1, 1)).contiguous(), depth)
            chunks.append(_unit_features(signatures, size, levels, depth))
    return torch.cat(chunks, dim=0)


_FEATURE_FUNCTIONS = {"normalised": normalised_signature_features, "linear": path_signatures}


def unbiased_mmd2_from_features(features_x: Tensor, features_y: Tensor) -> float:
    """Unbiased estimate of MMD^2 for the linear kernel on the given feature vectors.

    Equal to the classic U-statistic over all pairs ``i != j``; it can be slightly negative when
    the two distributions are close. Needs at least two rows in each sample.
    """
    if features_x.shape[0] < 2 or features_y.shape[0] < 2:
        raise ConfigurationError("the unbiased MMD estimator needs at least 2 samples on each side, got "
                         f"{features_x.shape[0]} and {features_y.shape[0]}")
    x = features_x.to(torch.float64)
    y = features_y.to(torch.float64)
    mean_x = x.mean(dim=0)
    mean_y = y.mean(dim=0)
    trace_cov_x = (x - mean_x).square().sum() / (x.shape[0] - 1)
    trace_cov_y = (y - mean_y).square().sum() / (y.shape[0] - 1)
    value = (mean_x - mean_y).square().sum() - trace_cov_x / x.shape[0] - trace_cov_y / y.shape[0]
    return float(value)




def signature_mmd(x: Tensor, y: Tensor, *, kernel: str = "normalised", depth: int = 4,
                  scale: float | Sequence[float] | str = "auto",
                  backend: str = "signatory", batch_size: int = 1024) -> float:
    """Unbiased estimate of the squared signature-kernel MMD between two samples of paths.

    The value reported is MMD^2 (not its square root): its expectation is 0 when both samples come
    from the same process (the estimate may then be slightly negative) and positive when they
    differ. Lower is better. With ``kernel="normalised"`` (default) MMD^2 is at most 4 and the
    estimate lies in ``[-(1/(m-1) + 1/(n-1)), 4]`` for sample sizes ``m``, ``n``; with ``scale="auto"``
    (default) it does not depend on the data's units. ``kernel="linear"`` is the raw truncated
    signature kernel, unbounded. Filled gaps change signatures, so compare samples with the same
    observation pattern (see :func:`sdegan.metrics.apply_missing_pattern`;
    :func:`sdegan.metrics.evaluate_generator` does).

    Arguments:
        x, y: ``(batch, length, 1 + channels)`` paths; lengths may differ, channels must match; at
            least two paths each; NaN allowed in value channels (filled, see module docstring).
        kernel: ``"normalised"`` or ``"linear"`` (module docstring).
        depth: signature truncation depth.
        scale: factor applied to every path increment before the signature (one number, or one
            per channel with time first), or ``"auto"`` (default): the factors of
            :func:`auto_scale` computed from ``x``, so pass the real (reference) sample first.
        backend: ``"signatory"`` (default) or ``"pysiglib"``.
        batch_size: paths per signature call (memory bound); the result does not depend on it.

    Returns:
        The unbiased MMD^2 estimate as a Python float.
    """
    check_paths(x, "x", min_batch=2)
    check_paths(y, "y", min_batch=2)
    check_same_channels(x, y, "x", "y")
    if kernel not in _FEATURE_FUNCTIONS:
        raise ConfigurationError(f"unknown MMD kernel {kernel!r}; valid choices: {', '.join(MMD_KERNELS)}")
    if isinstance(scale, str):
        if scale != "auto":
            raise ConfigurationError(f"scale must be a number, one number per channel, or 'auto'; got {scale!r}")
        scale = auto_scale(x)
    features = _FEATURE_FUNCTIONS[kernel]
    options = dict(depth=depth, scale=scale, backend=backend, batch_size=batch_size)
    return unbiased_mmd2_from_features(features(x, **options), features(y, **options))
