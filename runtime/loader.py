"""``--workers N``: the training batches gathered in ``torch.utils.data.DataLoader`` workers.

The loader computes nothing random. The training loop hands it the index batches of the rest of
the current epoch (slices of the epoch order the run's generator drew, exactly as without
workers) and the workers only read those images; crops and masks are still drawn in the main
process from the run's generator, so a run is the same function of seed, epoch and index with
any number of workers. Workers persist across epochs; 0 workers gathers in-process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from maskproof.runtime.data import ImageData


class _Gather(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Item ``index`` (an int64 tensor of positions) is ``(index, images at index)``."""

    def __init__(self, data: ImageData) -> None:
        self.data = data

    def __getitem__(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return index, self.data.gather(index)


class _Planned(Sampler[torch.Tensor]):
    """Yields the index batches last set in ``batches`` (one per ``iter`` of the loader)."""

    def __init__(self) -> None:
        self.batches: list[torch.Tensor] = []

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter(list(self.batches))

    def __len__(self) -> int:
        return len(self.batches)


class BatchLoader:
    """Gathers given index batches, in order, in ``workers`` processes (0: in-process)."""

    def __init__(self, data: ImageData, workers: int) -> None:
        self._plan = _Planned()
        # Each iteration draws a base seed for the workers' RNGs (which nothing here reads);
        # without a generator of its own it would draw it from the global RNG, which a run
        # never touches.
        self._loader: DataLoader[tuple[torch.Tensor, torch.Tensor]] = DataLoader(
            _Gather(data), batch_size=None, sampler=self._plan, num_workers=workers,
            persistent_workers=workers > 0, generator=torch.Generator().manual_seed(0))

    def load(self, batches: Sequence[torch.Tensor]) -> Iterator[torch.Tensor]:
        """The images of each of ``batches``, in order (checked against the index asked)."""
        self._plan.batches = list(batches)
        for asked, (index, images) in zip(batches, self._loader, strict=True):
            assert torch.equal(asked, index), "a worker returned another batch than asked"
            yield images
