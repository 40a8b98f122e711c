"""A small deterministic example CSV in long format, so that ``dataset=csv`` (``path: example``) runs as is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

EXAMPLE_PATH_KEYWORD = "example"


def write_example_csv(path: Path, *, num_series: int = 256, length: int = 48, seed: int = 0) -> Path:
    """Write noisy sine series observed at irregular times (columns series_id, time, value; 10% empty values)."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0.0, 12.0, size=(num_series, length)), axis=1)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=(num_series, 1))
    amplitudes = rng.uniform(0.5, 1.5, size=(num_series, 1))
    values = amplitudes * np.sin(times + phases) + 0.1 * rng.standard_normal((num_series, length))
    values[rng.random(values.shape) < 0.1] = np.nan
    frame = pd.DataFrame(
        {
            "series_id": np.repeat([f"s{index:03d}" for index in range(num_series)], length),
            "time": times.reshape(-1).round(6),
            "value": values.reshape(-1).round(6),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path
