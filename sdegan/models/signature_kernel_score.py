"""Signature kernels of time-augmented paths and the signature-kernel score (Issa et al. 2023).

For a law ``P`` on paths and an observed path ``y`` the score is

    S(P, y) = E k(X, X') - 2 E k(X, y),      X, X' ~ P independent,

strictly proper for a characteristic kernel ``k``: ``E_{y~Q} S(P, y) - E_{y~Q} S(Q, y) = MMD_k(P, Q)^2``,
so minimising its expectation over the data in the generator's parameters fits the law of the data
without a discriminator. :func:`signature_kernel_score` estimates it on a batch: the first term by the
unbiased U-statistic over distinct pairs of generated paths, the second by the mean over all
(generated, real) pairs; the result is the mean of ``S(P, y_j)`` over the real batch.

Kernels (:class:`SignatureKernel`):

* ``backend="pysiglib"``: the untruncated signature kernel, solution of a Goursat PDE (Salvi et al. 2021),
  with a static kernel lifting the path's points: ``"rbf"`` ``exp(-|a - b|^2 / (2 bandwidth^2))`` or
  ``"linear"`` ``<a, b>``; the PDE is solved on the grid refined ``2^dyadic_order`` times per step.
* ``backend="signatory"``: the truncated signature kernel ``1 + <S(x), S(y)>`` (signature levels
  ``1..depth``), linear static kernel only; cheap, and a fallback where pysiglib is unavailable.

Before the kernel, every path is prepared the same way (:meth:`SignatureKernel.prepare`): missing
values filled as everywhere in the project (:func:`sdegan.paths.fill_missing`), time (channel 0, so the
paths are time-augmented) mapped onto ``[0, 1]`` over ``time_span``, and a zero point prepended (the
basepoint, so the kernel sees the initial value and not only the increments).

Memory and time grow with the number of path pairs: each pair's PDE grid has
``(2^dyadic_order (L - 1) + 1)^2`` entries for paths of ``L`` points, and the autograd graph keeps them
for the backward pass. The pairs are therefore evaluated in chunks of at most ``max_pairs``, each
recomputed in the backward pass (activation checkpointing) when there is more than one chunk, so the
working memory is bounded by one chunk's grids whatever the batch sizes; docs/signature_kernel.md
gives the measured figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from sdegan.errors import ConfigurationError
from sdegan.models.conditional_generator import fill_missing_or_zero
from sdegan.paths import apply_missing_pattern

__all__ = [
    "KERNEL_BACKENDS",
    "STATIC_KERNELS",
    "SignatureKernel",
    "signature_kernel_score",
    "signature_kernel_score_terms",
    "conditional_signature_kernel_score_terms",
]

KERNEL_BACKENDS = ("pysiglib", "signatory")
STATIC_KERNELS = ("rbf", "linear")


def _positive_int(value: object, name: str, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigurationError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class SignatureKernel:
    """A signature kernel of prepared (gap-filled, time-normalised, basepointed) paths.

    Arguments:
        time_span: ``(t0, t1)``: time ``t`` enters the kernel as ``(t - t0) / (t1 - t0)``.
        backend: ``"pysiglib"`` (PDE kernel) or ``"signatory"`` (truncated kernel).
        static_kernel: ``"rbf"`` or ``"linear"`` (pysiglib only: the signatory kernel is linear).
        bandwidth: RBF length scale ``sigma`` of ``exp(-|a - b|^2 / (2 sigma^2))``.
        dyadic_order: PDE grid refinement (pysiglib only): ``2^dyadic_order`` cells per path step.
        depth: truncation depth (signatory only).
        max_pairs: most path pairs per kernel call (pysiglib only); bounds the working memory.
    """

    time_span: tuple[float, float] = (0.0, 1.0)
    backend: str = "pysiglib"
    static_kernel: str = "rbf"
    bandwidth: float = 1.0
    dyadic_order: int = 0
    depth: int = 4
    max_pairs: int = 1024

    def __post_init__(self) -> None:
        if self.backend not in KERNEL_BACKENDS:
            raise ConfigurationError(f"unknown signature-kernel backend {self.backend!r}; valid choices: "
                                     f"{list(KERNEL_BACKENDS)}")
        if self.static_kernel not in STATIC_KERNELS:
            raise ConfigurationError(f"unknown static kernel {self.static_kernel!r}; valid choices: "
                                     f"{list(STATIC_KERNELS)}")
        if self.backend == "signatory" and self.static_kernel != "linear":
            raise ConfigurationError("the signatory (truncated) signature kernel has the linear static kernel "
                                     "only: set static_kernel=linear or backend=pysiglib")
        if not (isinstance(self.bandwidth, (int, float)) and self.bandwidth > 0):
            raise ConfigurationError(f"bandwidth must be a positive number, got {self.bandwidth!r}")
        _positive_int(self.dyadic_order, "dyadic_order", minimum=0)
        _positive_int(self.depth, "depth")
        _positive_int(self.max_pairs, "max_pairs")
        t0, t1 = (float(t) for t in self.time_span)
        if not t1 > t0:
            raise ConfigurationError(f"time_span must be increasing, got {self.time_span}")

    # ------------------------------------------------------------------------------------------ paths
    def prepare(self, paths: Tensor) -> Tensor:
        """Gaps filled, time on ``[0, 1]``, a zero point prepended: ``(batch, length + 1, 1 + C)``.

        A value channel with no observation in a path (possible in slices such as continuations) is 0.
        """
        filled = fill_missing_or_zero(paths)
        t0, t1 = (float(t) for t in self.time_span)
        time = (filled[..., :1] - t0) / (t1 - t0)
        prepared = torch.cat([time, filled[..., 1:]], dim=-1)
        return torch.cat([torch.zeros_like(prepared[:, :1]), prepared], dim=1).contiguous()

    # ------------------------------------------------------------------------------------------ kernels
    def pairs(self, x: Tensor, y: Tensor, i: Tensor, j: Tensor) -> Tensor:
        """``k(x_{i_p}, y_{j_p})`` for index pairs ``(i_p, j_p)`` into two batches of prepared paths."""
        if self.backend == "signatory":
            return 1.0 + (self.signatures(x[i]) * self.signatures(y[j])).sum(-1)
        chunks = []
        several = i.numel() > self.max_pairs
        for start in range(0, i.numel(), self.max_pairs):
            chunk_i, chunk_j = i[start:start + self.max_pairs], j[start:start + self.max_pairs]
            if several and torch.is_grad_enabled() and (x.requires_grad or y.requires_grad):
                chunks.append(checkpoint(self._pde, x, y, chunk_i, chunk_j, use_reentrant=False))
            else:
                chunks.append(self._pde(x, y, chunk_i, chunk_j))
        return torch.cat(chunks)

    def _pde(self, x: Tensor, y: Tensor, i: Tensor, j: Tensor) -> Tensor:
        import pysiglib.torch_api as pysiglib

        if self.static_kernel == "rbf":
            static: object = pysiglib.RBFKernel(2.0 * float(self.bandwidth) ** 2)
        else:
            static = pysiglib.LinearKernel()
        # Indexing copies, so pysiglib gets contiguous tensors that own their memory. pysiglib returns a view of
        # the pairs' whole PDE grids; the clone keeps only the final values, so the grids can be freed.
        return pysiglib.sig_kernel(x[i], y[j], dyadic_order=self.dyadic_order, static_kernel=static).clone()

    def signatures(self, x: Tensor) -> Tensor:
        """Truncated signatures of prepared paths (signatory backend): ``k(x, y) = 1 + <S(x), S(y)>``.

        Prepared paths start at the basepoint (their prepended zero point), so none is added here.
        """
        import signatory

        return signatory.signature(x, self.depth)

    def gram_mean(self, x: Tensor, y: Tensor) -> Tensor:
        """Mean of ``k(x_i, y_j)`` over all pairs of two batches of prepared paths."""
        if self.backend == "signatory":
            return 1.0 + self.signatures(x).mean(0) @ self.signatures(y).mean(0)
        i, j = torch.meshgrid(torch.arange(x.shape[0], device=x.device),
                              torch.arange(y.shape[0], device=y.device), indexing="ij")
        return self.pairs(x, y, i.flatten(), j.flatten()).mean()

    def distinct_pairs_mean(self, x: Tensor) -> Tensor:
        """Mean of ``k(x_i, x_j)`` over the pairs ``i != j`` of one batch (each unordered pair once)."""
        m = x.shape[0]
        if self.backend == "signatory":
            features = self.signatures(x)
            total = features.sum(0)
            off_diagonal = total @ total - (features * features).sum()
            return 1.0 + off_diagonal / (m * (m - 1))
        i, j = torch.triu_indices(m, m, offset=1, device=x.device)
        return self.pairs(x, x, i, j).mean()


def _cycled_pattern(real: Tensor, count: int) -> Tensor:
    index = torch.arange(count, device=real.device) % real.shape[0]
    return real[index]


def signature_kernel_score_terms(
    generated: Tensor, real: Tensor, kernel: SignatureKernel, *,
    self_batch_size: int | None = None, cross_batch_size: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The two estimated expectations ``(E k(X, X'), E k(X, y))`` of the signature-kernel score.

    Arguments:
        generated: paths of the model ``(m, length, 1 + C)`` (complete, or with NaN gaps).
        real: observed paths ``(n, length, 1 + C)``, NaN where missing.
        kernel: the signature kernel.
        self_batch_size: generated paths used for ``E k(X, X')`` (the first ones; ``None`` = all, >= 2).
        cross_batch_size: generated paths used for ``E k(X, y)`` (the first ones; ``None`` = all).

    Generated path ``i`` first gets the missing-value pattern of real path ``i mod n``
    (:func:`sdegan.paths.apply_missing_pattern`), so both sides are gap-filled alike, as in the metrics.
    ``E k(X, X')`` is the U-statistic over distinct generated pairs, ``E k(X, y)`` the mean over all
    (generated, real) pairs; both are unbiased and differentiable in ``generated``.
    """
    if generated.ndim != 3 or generated.shape[1:] != real.shape[1:]:
        raise ConfigurationError(f"generated and real paths must have the same length and channels, got "
                                 f"{tuple(generated.shape)} and {tuple(real.shape)}")
    m = generated.shape[0]
    self_size = m if self_batch_size is None else min(_positive_int(self_batch_size, "self_batch_size", 2), m)
    cross_size = m if cross_batch_size is None else min(_positive_int(cross_batch_size, "cross_batch_size"), m)
    if self_size < 2:
        raise ConfigurationError(f"the score needs at least 2 generated paths, got {m}")
    needed = max(self_size, cross_size)
    patterned = apply_missing_pattern(generated[:needed], _cycled_pattern(real, needed))
    x = kernel.prepare(patterned)
    y = kernel.prepare(real)
    return kernel.distinct_pairs_mean(x[:self_size]), kernel.gram_mean(x[:cross_size], y)


def signature_kernel_score(
    generated: Tensor, real: Tensor, kernel: SignatureKernel, *,
    self_batch_size: int | None = None, cross_batch_size: int | None = None,
) -> Tensor:
    """Batch estimate of ``mean_j S(P, y_j) = E k(X, X') - 2 E k(X, y)`` (a scalar tensor).

    Unbiased for the expected score of the real batch's law; lower is better; its expectation exceeds
    the data's own expected score by exactly the squared MMD of the kernel. See
    :func:`signature_kernel_score_terms` for the arguments.
    """
    self_term, cross_term = signature_kernel_score_terms(
        generated, real, kernel, self_batch_size=self_batch_size, cross_batch_size=cross_batch_size
    )
    return self_term - 2.0 * cross_term



def conditional_signature_kernel_score_terms(
    generated: Tensor, real: Tensor, kernel: SignatureKernel
) -> tuple[Tensor, Tensor]:
    """The conditional score's two expectations, each averaged over the conditioning prefixes.

    For real continuation ``y_j`` and ``m`` continuations ``X_{j,1..m}`` drawn from the model given
    ``y_j``'s prefix, ``S(P_j, y_j) = E k(X_j, X_j') - 2 E k(X_j, y_j)`` is estimated by the U-statistic
    over the ``m (m - 1) / 2`` distinct pairs of ``X_j`` and the mean over its ``m`` pairs with ``y_j``;
    returned are the means over ``j`` of the two terms, so ``self - 2 cross`` is the batch estimate of
    the expected conditional score (unbiased; strictly proper per prefix for a characteristic kernel).

    Arguments:
        generated: ``(n * m, length, 1 + C)``, the continuations of prefix ``j`` in rows ``j m .. j m + m - 1``
            (as :class:`sdegan.models.conditional_generator.ConditionalGenerator` returns them), ``m >= 2``.
        real: the real continuations ``(n, length, 1 + C)``, NaN where missing; each generated path gets
            the missing-value pattern of its own real continuation.
        kernel: the signature kernel (all pairs of the batch go to it in one call).
    """
    n = real.shape[0]
    if generated.ndim != 3 or generated.shape[1:] != real.shape[1:] or generated.shape[0] % max(n, 1):
        raise ConfigurationError(f"generated continuations must be (n * m, length, channels) for n = {n} real "
                                 f"ones of shape {tuple(real.shape[1:])}, got {tuple(generated.shape)}")
    m = generated.shape[0] // n
    if m < 2:
        raise ConfigurationError(f"the conditional score needs at least 2 continuations per prefix, got {m}")
    patterned = apply_missing_pattern(generated, real.repeat_interleave(m, dim=0))
    x = kernel.prepare(patterned)
    y = kernel.prepare(real)
    first, second = torch.triu_indices(m, m, offset=1, device=x.device)
    offsets = (torch.arange(n, device=x.device) * m).unsqueeze(1)
    self_values = kernel.pairs(x, x, (offsets + first).flatten(), (offsets + second).flatten())
    rows = torch.arange(n * m, device=x.device)
    cross_values = kernel.pairs(x, y, rows, rows // m)
    return self_values.mean(), cross_values.mean()
