"""Figures of real vs generated paths."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sdegan.errors import ConfigurationError

__all__ = ["sample_paths_figure"]


def sample_paths_figure(
    real: torch.Tensor,
    generated: torch.Tensor,
    *,
    channel: int = 0,
    num_paths: int = 32,
    histogram_fractions: Sequence[float] = (0.0, 0.5, 1.0),
    bins: int = 30,
    title: str = "",
) -> Figure:
    """Paths (top row: real, generated) and marginal histograms at a few times (bottom row).

    Arguments:
        real, generated: ``(batch, length, 1 + C)`` paths in the units to plot (NaN gaps allowed).
        channel: which value channel to show (0 = the first after time).
        num_paths: paths drawn per panel; the histograms use every path.
        histogram_fractions: positions along the path (0 = first, 1 = last observation); with paths
            observed at different times the marginal is over each path's observation at that position.
    """
    if not 0 <= channel < real.size(-1) - 1:
        raise ConfigurationError(f"channel must be in [0, {real.size(-1) - 2}], got {channel}")
    real, generated = real.detach().cpu().double(), generated.detach().cpu().double()
    column = channel + 1
    figure = plt.figure(figsize=(4 * max(2, len(histogram_fractions)), 7), constrained_layout=True)
    grid = figure.add_gridspec(2, 2 * len(histogram_fractions))
    half = len(histogram_fractions)
    panels = [(figure.add_subplot(grid[0, :half]), real, "real", "tab:blue"),
              (figure.add_subplot(grid[0, half:]), generated, "generated", "tab:orange")]
    limits = _value_limits(real[..., column], generated[..., column])
    for axes, paths, name, colour in panels:
        for path in paths[:num_paths]:
            observed = ~torch.isnan(path[:, column])
            axes.plot(path[observed, 0], path[observed, column], color=colour, alpha=0.4, lw=0.8,
                      marker=".", ms=2)
        axes.set_title(f"{name} paths (channel {channel})")
        axes.set_xlabel("time")
        axes.set_ylim(*limits)
    for k, fraction in enumerate(histogram_fractions):
        axes = figure.add_subplot(grid[1, 2 * k : 2 * k + 2] if half > 1 else grid[1, :])
        index_real = round(fraction * (real.size(1) - 1))
        index_generated = round(fraction * (generated.size(1) - 1))
        real_values = real[:, index_real, column]
        real_values = real_values[~torch.isnan(real_values)]
        generated_values = generated[:, index_generated, column]
        value_range = _value_limits(real_values, generated_values)
        axes.hist(real_values.numpy(), bins=bins, range=value_range, density=True, alpha=0.5,
                  color="tab:blue", label="real")
        axes.hist(generated_values.numpy(), bins=bins, range=value_range, density=True, alpha=0.5,
                  color="tab:orange", label="generated")
        times = real[:, index_real, 0]
        low, high = times.min().item(), times.max().item()
        where = f"t = {low:.3g}" if low == high else f"observation {index_real} (t in [{low:.3g}, {high:.3g}])"
        axes.set_title(f"marginal at {where}")
        axes.legend()
    if title:
        figure.suptitle(title)
    return figure


def _value_limits(*values: torch.Tensor) -> tuple[float, float]:
    finite = torch.cat([v[torch.isfinite(v)].flatten() for v in values])
    if finite.numel() == 0:
        return -1.0, 1.0
    low, high = torch.quantile(finite, 0.005).item(), torch.quantile(finite, 0.995).item()
    pad = 0.05 * (high - low) + 1e-6
    return low - pad, high + pad
