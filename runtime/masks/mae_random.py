"""MAE random masking (He et al. 2022): per-sample noise, argsort, keep the first ``keep`` tokens.

The keep count is ``floor(N * (1 - r))`` computed exactly from the ratio as written: in binary
floating point ``int(100 * (1 - 0.8))`` is ``int(19.999999999999996) = 19``, one patch short of
the 20 the ratio means.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

import torch

from maskproof.runtime.masks._rng import private_generator
from maskproof.runtime.masks._validate import require_nat, require_rank

MaskRatio = str | Fraction | float | int


def parse_mask_ratio(r: MaskRatio) -> Fraction:
    """The mask ratio ``r`` as an exact ``Fraction`` in ``[0, 1)``.

    Strings are read as written (``"0.8"``, ``"4/5"``); a float is read through its shortest
    ``repr`` (``0.8`` means ``4/5``, not the binary64 value just below it).
    """
    if isinstance(r, bool):
        raise ValueError(f"mask ratio must be a number in [0, 1), got {r!r}")
    if isinstance(r, Fraction):
        ratio = r
    elif isinstance(r, int):
        ratio = Fraction(r)
    elif isinstance(r, float):
        if not math.isfinite(r):
            raise ValueError(f"mask ratio must be a finite number in [0, 1), got {r!r}")
        ratio = Fraction(repr(float(r)))  # float(): numpy scalars repr as "np.float64(...)"
    elif isinstance(r, str):
        try:
            ratio = Fraction(r.strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"mask ratio must be a decimal or fraction in [0, 1), got {r!r}"
            ) from None
    else:
        raise ValueError(f"mask ratio must be a str, Fraction or float in [0, 1), got {r!r}")
    if not 0 <= ratio < 1:
        raise ValueError(f"mask ratio must be in [0, 1), got {r!r}")
    return ratio


def mae_keep_count(num_patches: int, mask_ratio: MaskRatio) -> int:
    """Number of patches MAE keeps visible: ``floor(num_patches * (1 - mask_ratio))``, exactly."""
    num_patches = require_nat(num_patches, "num_patches")
    return math.floor(num_patches * (1 - parse_mask_ratio(mask_ratio)))


class RandomMasking(NamedTuple):
    """Result of ``random_masking`` on ``x`` of shape ``[B, N, D]`` keeping ``keep`` tokens.

    Polarity is in the name: ``mask_removed[b, i] = 1`` means token ``i`` of sample ``b`` was
    removed (masked, to be reconstructed), ``0`` means it was kept (visible to the encoder). This
    is the official MAE convention; seed 004's ``random_masking`` docstring states the opposite
    ("1 is keep") while its own code sets the kept positions to 0.
    """

    #: ``[B, keep, D]``: kept tokens in shuffle order, ``x_kept[b, k] = x[b, ids_keep[b, k]]``.
    x_kept: torch.Tensor
    #: ``[B, N]`` float: 1 = removed (masked), 0 = kept; in the original token order.
    mask_removed: torch.Tensor
    #: ``[B, N]`` long: position of each original token in the shuffle (inverse permutation).
    ids_restore: torch.Tensor
    #: ``[B, keep]`` long: original indices of the kept tokens, the shuffle's first ``keep``.
    ids_keep: torch.Tensor


def _require_keep(keep_count: int, tokens: int) -> int:
    keep = require_nat(keep_count, "keep_count")
    if keep > tokens:
        raise ValueError(f"keep_count must be <= the number of tokens {tokens}, got {keep}")
    return keep


def masking_noise(
    batch: int,
    tokens: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """The ``[batch, tokens]`` uniform noise that :func:`random_masking` sorts, on ``device``.

    Drawn row by row from ``generator`` (a CPU generator gives the same masks on every device);
    without one, from a fresh OS-seeded generator, so the global RNG is never read or advanced.
    """
    rng = private_generator(generator, device=device)
    return torch.rand(batch, tokens, generator=rng, device=rng.device).to(device)


def random_masking(
    x: torch.Tensor, keep_count: int, generator: torch.Generator | None = None
) -> RandomMasking:
    """Per-sample random masking of ``x`` (``[B, N, D]``), keeping ``keep_count`` tokens.

    Each sample draws its own uniform noise over its ``N`` tokens (:func:`masking_noise`), and
    :func:`random_masking_from_noise` turns the noise into the mask. Noise is drawn row by row
    from ``generator``, so sample ``b`` of a batch gets the same mask as a batch of one drawn
    after ``b`` earlier rows.
    """
    require_rank(x, 3, "[batch, tokens, dim]")
    keep = _require_keep(keep_count, x.shape[1])  # before the draw: a refused call draws nothing
    noise = masking_noise(x.shape[0], x.shape[1], generator, x.device)
    return random_masking_from_noise(x, keep, noise)


def random_masking_from_noise(
    x: torch.Tensor, keep_count: int, noise: torch.Tensor
) -> RandomMasking:
    """The mask that ``noise`` (``[B, N]``) defines on ``x`` (``[B, N, D]``): keep ``keep_count``.

    Tokens sorted by noise (stable argsort, so ties break by index on every device) form the
    shuffle, whose first ``keep_count`` entries are kept. Pure tensor code with no random draw,
    so ``torch.compile(fullgraph=True)`` takes a model built on it in one graph.
    """
    require_rank(x, 3, "[batch, tokens, dim]")
    batch, tokens, dim = x.shape
    keep = _require_keep(keep_count, tokens)
    if tuple(noise.shape) != (batch, tokens) or not noise.is_floating_point():
        raise ValueError(
            f"noise must be a float tensor of shape [{batch}, {tokens}], "
            f"got {noise.dtype} {list(noise.shape)}"
        )
    ids_shuffle = torch.argsort(noise, dim=1, stable=True)
    positions = torch.arange(tokens, device=x.device).expand(batch, tokens)
    ids_restore = torch.empty_like(ids_shuffle).scatter_(1, ids_shuffle, positions)
    ids_keep = ids_shuffle[:, :keep]
    x_kept = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(batch, keep, dim))
    # A token is removed iff its rank in the shuffle is past the kept prefix.
    mask_dtype = x.dtype if x.is_floating_point() else torch.float32
    mask_removed = (ids_restore >= keep).to(mask_dtype)
    return RandomMasking(x_kept, mask_removed, ids_restore, ids_keep)
