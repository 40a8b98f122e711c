"""sdegan.random_state: seeded blocks are reproducible, and neither they nor preserved blocks move the streams."""

import random

import numpy as np
import pytest
import torch

from sdegan.random_state import capture_rng_state, preserved_rng, restore_rng_state, seeded


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_seeded_is_reproducible_and_leaves_the_streams_where_they_were():
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    expected_after = _draws()
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    with seeded(3):
        first = _draws()
    with seeded(3):
        assert _draws() == first
    with seeded(4):
        assert _draws() != first
    assert _draws() == expected_after


def test_preserved_rng_and_capture_restore_undo_any_draws():
    state = capture_rng_state()
    expected = _draws()
    restore_rng_state(state)
    with preserved_rng():
        _draws()
    assert _draws() == expected


def test_seeded_rejects_bad_seeds():
    with pytest.raises(ValueError, match="non-negative int"):
        with seeded(-1):
            pass
