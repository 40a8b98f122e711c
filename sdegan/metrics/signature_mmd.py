"""Maximum mean discrepancy between two samples of paths with a truncated signature kernel.

The kernel is ``k(x, y) = <S(x), S(y)>`` where ``S`` is the signature, truncated at ``depth``, of
the path seen as a piecewise-linear curve in ``1 + channels`` dimensions (time is channel 0, so the
path is time-augmented) started from the origin (the *basepoint*: a zero point is prepended, so the
signature also sees the initial value). Missing values are filled first (see
:func:`sdegan.paths.fill_missing`), and every increment, including the one from the
basepoint, is multiplied by ``scale`` before the signature is taken.

Because the kernel has explicit finite features, the unbiased estimator of MMD^2,

    1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i, y_j) - 2/(mn) sum_{i,j} k(x_i, y_j),

is computed exactly in the equivalent form ``|mean S(x) - mean S(y)|^2 - tr Cov S(x) / m -
tr Cov S(y) / n`` (unbiased covariances), in float64, in O((m + n) * features) time and memory,
without Gram matrices.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from sdegan.paths import check_paths, check_same_channels, fill_missing
from sdegan.errors import ConfigurationError

SIGNATURE_BACKENDS = ("signatory", "pysiglib")


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
        std = float(values[..., channel].std())
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
    check_paths(paths, "paths")
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ConfigurationError(f"depth must be an integer >= 1, got {depth!r}")
    if backend not in _SIGNATURE_FUNCTIONS:
        raise ConfigurationError(f"unknown signature backend {backend!r}; valid choices: "
                         f"{', '.join(SIGNATURE_BACKENDS)}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    factors = _scale_vector(scale, paths.shape[-1])
    signature_function = _SIGNATURE_FUNCTIONS[backend]
    chunks = []
    with torch.no_grad():
        for start in range(0, paths.shape[0], batch_size):
            chunk = fill_missing(paths[start:start + batch_size].detach().to("cpu", torch.float64))
            chunks.append(signature_function((chunk * factors).contiguous(), depth))
    return torch.cat(chunks, dim=0)


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


def signature_mmd(x: Tensor, y: Tensor, *, depth: int = 4,
                  scale: float | Sequence[float] | str = "auto",
                  backend: str = "signatory", batch_size: int = 1024) -> float:
    """Unbiased estimate of the squared signature-kernel MMD between two samples of paths.

    The value reported is MMD^2 (not its square root): it is ~0 when both samples come from the
    same process (it may then be slightly negative) and positive when they differ. Lower is better.
    Filled gaps change signatures, so compare samples with the same observation pattern (see
    :func:`sdegan.metrics.apply_missing_pattern`; :func:`sdegan.metrics.evaluate_generator` does).

    Arguments:
        x, y: ``(batch, length, 1 + channels)`` paths; lengths may differ, channels must match; at
            least two paths each; NaN allowed in value channels (filled, see module docstring).
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
    if isinstance(scale, str):
        if scale != "auto":
            raise ConfigurationError(f"scale must be a number, one number per channel, or 'auto'; got {scale!r}")
        scale = auto_scale(x)
    options = dict(depth=depth, scale=scale, backend=backend, batch_size=batch_size)
    return unbiased_mmd2_from_features(path_signatures(x, **options), path_signatures(y, **options))
