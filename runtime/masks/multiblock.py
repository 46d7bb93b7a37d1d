"""I-JEPA multi-block masks (Assran et al. 2023) on a ``grid_h x grid_w`` patch grid.

Per sample: ``num_targets`` target blocks, each with its own scale and aspect ratio drawn
independently, and one context block (aspect ratio 1 by default) from which every target cell is
removed unless ``allow_overlap``. The official collator has four defects this sampler avoids:

- it draws the top-left corner with ``randint(0, H - h)``, whose upper bound is exclusive, and
  shrinks blocks below the full extent, so the last row and column are never a target; here the
  corner ranges over ``0..H-h`` inclusive and a block may span the whole axis;
- it uses one uniform draw for both scale and aspect ratio, so they are perfectly correlated;
- it truncates every sample's context and targets to the batch minimum; here they are padded
  (``JEPAMaskBatch``);
- after 20 failed tries it silently drops the disjointness constraint, and on grids where no
  block can reach ``min_keep`` it loops forever; here a sample is retried ``max_tries`` times and
  then a ``ValueError`` explains what to change.

``min_keep`` is the minimum number of context tokens per sample; target blocks are never empty.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from maskproof.runtime.masks._rng import private_generator
from maskproof.runtime.masks._validate import require_positive
from maskproof.runtime.masks.jepa_batch import JEPAMaskBatch, collate_jepa_masks

Range = tuple[float, float]


class Block(NamedTuple):
    """A rectangle of grid cells: rows ``top..top+height-1``, columns ``left..left+width-1``."""

    top: int
    left: int
    height: int
    width: int

    def indices(self, grid_w: int) -> list[int]:
        """Flat row-major indices of the block's cells, ascending."""
        return [
            row * grid_w + col
            for row in range(self.top, self.top + self.height)
            for col in range(self.left, self.left + self.width)
        ]


class BlockDraw(NamedTuple):
    """One unconstrained draw for one sample: the target blocks and the context block."""

    targets: list[Block]
    context: Block


def _require_range(value: object, name: str, upper: float | None) -> Range:
    """``value`` as a ``(low, high)`` pair with ``0 < low <= high`` (and ``high <= upper``)."""
    bound = "" if upper is None else f" <= {upper}"
    expected = f"a pair (low, high) with 0 < low <= high{bound}"
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    low, high = value
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    if not (0 < low <= high and math.isfinite(high) and (upper is None or high <= upper)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(low), float(high)


def block_shape(grid_h: int, grid_w: int, scale: float, aspect_ratio: float) -> tuple[int, int]:
    """Block ``(height, width)`` covering about ``scale`` of the grid with height/width ratio
    ``aspect_ratio``, each side rounded half up and clamped to ``[1, grid side]``."""
    area = scale * grid_h * grid_w
    height = math.floor(math.sqrt(area * aspect_ratio) + 0.5)
    width = math.floor(math.sqrt(area / aspect_ratio) + 0.5)
    return min(max(height, 1), grid_h), min(max(width, 1), grid_w)


def _lerp(low: float, high: float, u: float) -> float:
    return low + u * (high - low)


def _corner(u: float, choices: int) -> int:
    """A uniform integer in ``[0, choices)`` from ``u`` in ``[0, 1)`` (clamped against rounding)."""
    return min(math.floor(u * choices), choices - 1)


class MultiBlockMaskSampler:
    """Samples I-JEPA context/target index sets on a ``grid_h x grid_w`` patch grid.

    Defaults follow the I-JEPA paper: 4 targets with scale in ``(0.15, 0.2)`` and aspect ratio in
    ``(0.75, 1.5)``, a context block with scale in ``(0.85, 1.0)`` and aspect ratio 1. Scale and
    aspect ratio are uniform on their ranges. Samples whose context keeps fewer than ``min_keep``
    tokens are redrawn (targets and context) up to ``max_tries`` times, then ``ValueError``.
    """

    def __init__(
        self,
        grid_h: int,
        grid_w: int,
        num_targets: int = 4,
        target_scale: Range = (0.15, 0.2),
        target_aspect_ratio: Range = (0.75, 1.5),
        context_scale: Range = (0.85, 1.0),
        context_aspect_ratio: Range = (1.0, 1.0),
        min_keep: int = 4,
        allow_overlap: bool = False,
        max_tries: int = 100,
    ) -> None:
        self.grid_h = require_positive(grid_h, "grid_h")
        self.grid_w = require_positive(grid_w, "grid_w")
        self.num_targets = require_positive(num_targets, "num_targets")
        self.target_scale = _require_range(target_scale, "target_scale", upper=1.0)
        self.target_aspect_ratio = _require_range(target_aspect_ratio, "target_aspect_ratio", None)
        self.context_scale = _require_range(context_scale, "context_scale", upper=1.0)
        self.context_aspect_ratio = _require_range(
            context_aspect_ratio, "context_aspect_ratio", None
        )
        cells = self.grid_h * self.grid_w
        self.min_keep = require_positive(min_keep, "min_keep")
        if self.min_keep > cells:
            raise ValueError(
                f"min_keep must be <= the {cells} cells of the {self.grid_h}x{self.grid_w} grid, "
                f"got {self.min_keep}"
            )
        if not isinstance(allow_overlap, bool):
            raise ValueError(f"allow_overlap must be a bool, got {allow_overlap!r}")
        self.allow_overlap = allow_overlap
        # Each target holds at least one cell, so disjointness needs min_keep + num_targets cells.
        if not allow_overlap and self.min_keep + self.num_targets > cells:
            raise ValueError(
                f"min_keep ({self.min_keep}) + num_targets ({self.num_targets}) exceeds the "
                f"{cells} cells of the {self.grid_h}x{self.grid_w} grid, so no context can be "
                "disjoint from the targets; lower them or pass allow_overlap=True"
            )
        self.max_tries = require_positive(max_tries, "max_tries")

    def __repr__(self) -> str:
        return (
            f"MultiBlockMaskSampler(grid_h={self.grid_h}, grid_w={self.grid_w}, "
            f"num_targets={self.num_targets}, target_scale={self.target_scale}, "
            f"target_aspect_ratio={self.target_aspect_ratio}, "
            f"context_scale={self.context_scale}, "
            f"context_aspect_ratio={self.context_aspect_ratio}, min_keep={self.min_keep}, "
            f"allow_overlap={self.allow_overlap}, max_tries={self.max_tries})"
        )

    def _block(self, draws: list[float], scale: Range, aspect_ratio: Range) -> Block:
        """A block from four uniforms: scale, aspect ratio (independent), top, left."""
        height, width = block_shape(
            self.grid_h, self.grid_w, _lerp(*scale, draws[0]), _lerp(*aspect_ratio, draws[1])
        )
        top = _corner(draws[2], self.grid_h - height + 1)
        left = _corner(draws[3], self.grid_w - width + 1)
        return Block(top, left, height, width)

    def draw_blocks(self, generator: torch.Generator) -> BlockDraw:
        """One unconstrained draw of the target blocks and the context block (no retries)."""
        draws = torch.rand(
            (self.num_targets + 1, 4), generator=generator, dtype=torch.float64
        ).tolist()
        targets = [
            self._block(draws[k], self.target_scale, self.target_aspect_ratio)
            for k in range(self.num_targets)
        ]
        context = self._block(draws[-1], self.context_scale, self.context_aspect_ratio)
        return BlockDraw(targets, context)

    def sample_one(self, generator: torch.Generator) -> tuple[list[int], list[list[int]]]:
        """One sample's context indices and target index lists, ``min_keep`` enforced."""
        for _ in range(self.max_tries):
            draw = self.draw_blocks(generator)
            targets = [block.indices(self.grid_w) for block in draw.targets]
            context = draw.context.indices(self.grid_w)
            if not self.allow_overlap:
                covered = {index for target in targets for index in target}
                context = [index for index in context if index not in covered]
            if len(context) >= self.min_keep:
                return context, targets
        overlap = "" if self.allow_overlap else " disjoint from the targets"
        raise ValueError(
            f"no context of at least min_keep={self.min_keep} tokens{overlap} found in "
            f"{self.max_tries} tries on the {self.grid_h}x{self.grid_w} grid ({self!r}); lower "
            "min_keep, num_targets or target_scale, raise context_scale, or allow overlap"
        )

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> JEPAMaskBatch:
        """A padded batch of ``batch_size`` independent samples (see ``JEPAMaskBatch``).

        ``generator`` must be a CPU generator; without one a fresh OS-seeded generator is used and
        the global RNG is untouched.
        """
        batch_size = require_positive(batch_size, "batch_size")
        rng = private_generator(generator)
        if rng.device.type != "cpu":
            raise ValueError(f"generator must be a CPU torch.Generator, got one on {rng.device}")
        samples = [self.sample_one(rng) for _ in range(batch_size)]
        return collate_jepa_masks([c for c, _ in samples], [t for _, t in samples])
