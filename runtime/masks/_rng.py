"""Random generators that never touch PyTorch's global RNG state."""

from __future__ import annotations

import secrets

import torch


def private_generator(
    generator: torch.Generator | None, device: torch.device | str = "cpu"
) -> torch.Generator:
    """``generator`` itself, or a fresh one seeded from the OS when none is given.

    Falling back to the global RNG would make a mask call shift every later global draw (dropout,
    init) and tie reproducibility to call order; pass a seeded generator to reproduce masks.
    """
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator or None, got {generator!r}")
        return generator
    fresh = torch.Generator(device=device)
    fresh.manual_seed(secrets.randbits(63))
    return fresh
