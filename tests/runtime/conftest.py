"""Fixtures of the runtime tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Run PyTorch on one intra-op thread for the test, then restore the count.

    Training tests run many tiny steps; on a machine whose cores are busy with other work, two
    OpenMP threads waiting on each other make a tiny step ~20x slower than one thread.
    Bit-exact comparisons stay valid: every run inside one test uses the same count.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
