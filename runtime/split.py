"""``--val-fraction``: which images are held out for the validation loss.

The last ``round(F * N)`` positions of a permutation drawn from its own generator (seeded from
``--seed`` and :data:`SPLIT_SALT`, never the training generator, so ``F = 0`` leaves the
training order exactly as it was) are held out; both index sets are returned sorted. The split
is a function of seed, N and F alone, so a resumed run holds out the same images.
"""

from __future__ import annotations

import torch

from maskproof.runtime.errors import UserError

#: Mixed into the seed so the split permutation is not the first epoch's data order.
SPLIT_SALT = 0x5EED_5B17


def held_out_count(fraction: float, count: int) -> int:
    """Images held out of ``count`` at ``--val-fraction fraction``: ``round(fraction * count)``."""
    held = round(fraction * count)
    if fraction > 0 and held == 0:
        raise UserError(f"--val-fraction {fraction}: holds out round({fraction} x {count}) = 0 "
                        f"of the {count} images; expected a fraction holding out at least one")
    return held


def split_indices(count: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted int64 positions of the training and the held-out images."""
    held = held_out_count(fraction, count)
    if held == 0:
        return torch.arange(count), torch.empty(0, dtype=torch.long)
    generator = torch.Generator().manual_seed((seed + SPLIT_SALT) % 2**64)
    order = torch.randperm(count, generator=generator)
    return order[:count - held].sort().values, order[count - held:].sort().values
