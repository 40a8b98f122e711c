"""On a CUDA device: the networks' hand-written pullbacks give autograd's gradients (float64). Skipped without CUDA
(marker ``cuda``; scripts/gpu_check.sh)."""

import pytest

from tests.models.test_mlp_vjp import test_reversible_solves_give_autograds_gradients as compare_on

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("batch", [1, 64])
def test_hand_pullbacks_equal_autograds_on_cuda(monkeypatch, batch):
    compare_on(monkeypatch, "lipswish", batch, device="cuda")
