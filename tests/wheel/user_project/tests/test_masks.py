"""The user's own tests, next to the audit the plugin adds."""

import torch
from myproject_adapter import Adapter


def test_vector_mask_hides_every_period_th_entry() -> None:
    out = Adapter().vector_mae_mask(torch.ones(1, 6), period=3, offset=1)
    assert out.tolist() == [[1.0, 0.0, 1.0, 1.0, 0.0, 1.0]]
