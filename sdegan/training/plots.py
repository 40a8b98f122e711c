"""Figures of a run: real vs generated paths, and training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sdegan.errors import ConfigurationError

__all__ = ["sample_paths_figure", "training_curves_figure", "value_limits"]

REFERENCE_SUFFIX = "_real"


def sample_paths_figure(
    real: torch.Tensor,
    generated: torch.Tensor,
    *,
    channels: Sequence[int] | None = None,
    channel_labels: Sequence[str] | None = None,
    num_paths: int = 32,
    histogram_fractions: Sequence[float] = (0.0, 0.5, 1.0),
    bins: int = 30,
    time_label: str = "time",
    title: str = "",
) -> Figure:
    """One row per value channel: real paths, generated paths, then marginal histograms at a few times.

    Arguments:
        real, generated: ``(batch, length, 1 + C)`` paths in the units to plot (NaN gaps allowed); column 0
            is time, column ``1 + c`` value channel ``c``.
        channels: the value channels to show (0 = the first after time); default every channel.
        channel_labels: one label per value channel of the data (name and unit), default ``channel <c>``.
        num_paths: paths drawn per panel; the histograms use every path.
        histogram_fractions: positions along the path (0 = first, 1 = last observation); with paths
            observed at different times the marginal is over each path's observation at that position.

    The y-limits of a row cover every drawn real path (see :func:`value_limits`).
    """
    num_channels = real.size(-1) - 1
    channels = list(range(num_channels)) if channels is None else list(channels)
    if not channels or any(not 0 <= c < num_channels for c in channels):
        raise ConfigurationError(f"channels must be in [0, {num_channels - 1}], got {channels}")
    labels = list(channel_labels) if channel_labels is not None else [f"channel {c}" for c in range(num_channels)]
    if len(labels) != num_channels:
        raise ConfigurationError(f"{len(labels)} channel labels given for {num_channels} channels")
    real, generated = real.detach().cpu().double(), generated.detach().cpu().double()
    columns = 2 + len(histogram_fractions)
    figure, axes = plt.subplots(len(channels), columns, figsize=(3.6 * columns, 3.0 * len(channels)),
                                squeeze=False, constrained_layout=True)
    for row, channel in zip(axes, channels):
        _draw_channel(row, real, generated, channel + 1, labels[channel], num_paths, histogram_fractions, bins,
                      time_label)
    if title:
        figure.suptitle(title)
    return figure


def _draw_channel(row, real: torch.Tensor, generated: torch.Tensor, column: int, label: str, num_paths: int,
                  histogram_fractions: Sequence[float], bins: int, time_label: str) -> None:
    limits = value_limits(real[:num_paths, :, column], generated[:num_paths, :, column])
    panels = ((row[0], real, "real", "tab:blue"), (row[1], generated, "generated", "tab:orange"))
    for axes, paths, name, colour in panels:
        for path in paths[:num_paths]:
            observed = ~torch.isnan(path[:, column])
            axes.plot(path[observed, 0], path[observed, column], color=colour, alpha=0.4, lw=0.8, marker=".", ms=2)
        axes.set_title(f"{name} paths")
        axes.set_xlabel(time_label)
        axes.set_ylabel(label)
        axes.set_ylim(*limits)
    for axes, fraction in zip(row[2:], histogram_fractions):
        index_real = round(fraction * (real.size(1) - 1))
        index_generated = round(fraction * (generated.size(1) - 1))
        real_values = real[:, index_real, column]
        real_values = real_values[~torch.isnan(real_values)]
        generated_values = generated[:, index_generated, column]
        generated_values = generated_values[torch.isfinite(generated_values)]
        value_range = value_limits(real_values, generated_values)
        axes.hist(real_values.numpy(), bins=bins, range=value_range, density=True, alpha=0.5, color="tab:blue",
                  label="real")
        axes.hist(generated_values.numpy(), bins=bins, range=value_range, density=True, alpha=0.5,
                  color="tab:orange", label="generated")
        times = real[:, index_real, 0]
        low, high = times.min().item(), times.max().item()
        where = f"t = {low:.3g}" if low == high else f"observation {index_real} (t in [{low:.3g}, {high:.3g}])"
        axes.set_title(f"marginal at {where}")
        axes.set_xlabel(label)
        axes.legend()


def value_limits(real: torch.Tensor, generated: torch.Tensor) -> tuple[float, float]:
    """Axis limits holding every finite real value, and the bulk (0.5% to 99.5% quantiles) of the generated
    ones up to one real range beyond the real values (a diverged generator does not flatten the real paths)."""
    real_values = real[torch.isfinite(real)].flatten()
    generated_values = generated[torch.isfinite(generated)].flatten()
    if real_values.numel() == 0 and generated_values.numel() == 0:
        return -1.0, 1.0
    if real_values.numel() == 0:
        low, high = generated_values.min().item(), generated_values.max().item()
    else:
        low, high = real_values.min().item(), real_values.max().item()
        if generated_values.numel():
            span = high - low
            low = min(low, max(torch.quantile(generated_values, 0.005).item(), low - span))
            high = max(high, min(torch.quantile(generated_values, 0.995).item(), high + span))
    pad = 0.05 * (high - low) + 1e-6 * max(1.0, abs(low), abs(high))
    return low - pad, high + pad


def training_curves_figure(history: Mapping[str, Sequence[tuple[int, float]]], title: str = "") -> Figure:
    """One panel per logged metric: its values against the training step.

    Arguments:
        history: metric name -> ``(step, value)`` pairs. A metric named ``<name>_real`` (e.g. ``val/mmd_real``,
            what a generator as good as the data scores) is drawn dashed in the panel of ``<name>`` when both
            are present.
    """
    names = [n for n in history if not (n.endswith(REFERENCE_SUFFIX) and n.removesuffix(REFERENCE_SUFFIX) in history)]
    if not names:
        names = ["(nothing logged)"]
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.2 * rows), squeeze=False,
                                constrained_layout=True)
    for panel, name in zip(axes.flat, names):
        points = history.get(name, [])
        panel.plot([s for s, _ in points], [v for _, v in points], marker="." if len(points) < 50 else None,
                   lw=1.0, label=name)
        reference = history.get(name + REFERENCE_SUFFIX)
        if reference:
            panel.plot([s for s, _ in reference], [v for _, v in reference], ls="--", color="grey",
                       label=name + REFERENCE_SUFFIX)
            panel.legend()
        panel.set_title(name)
        panel.set_xlabel("step")
    for panel in list(axes.flat)[len(names):]:
        panel.set_visible(False)
    if title:
        figure.suptitle(title)
    return figure
