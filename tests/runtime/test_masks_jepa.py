"""I-JEPA multi-block masks: validity, disjointness, min_keep, reachability, bounded failure."""

from __future__ import annotations

import time

import pytest
import torch

from maskproof.runtime.masks import (
    JEPAMaskBatch,
    MultiBlockMaskSampler,
    block_shape,
    collate_jepa_masks,
)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def valid_sets(batch: JEPAMaskBatch) -> list[tuple[list[int], list[list[int]]]]:
    """Each sample's context indices and target index lists, padding dropped."""
    samples = []
    for b in range(batch.batch_size):
        context = batch.context[b][batch.context_valid[b]].tolist()
        targets = [batch.targets[b, m][batch.targets_valid[b, m]].tolist()
                   for m in range(batch.num_targets)]
        samples.append((context, targets))
    return samples


def assert_is_rectangle(indices: list[int], grid_h: int, grid_w: int) -> None:
    rows = [i // grid_w for i in indices]
    cols = [i % grid_w for i in indices]
    expected = [r * grid_w + c for r in range(min(rows), max(rows) + 1)
                for c in range(min(cols), max(cols) + 1)]
    assert indices == expected and max(rows) < grid_h


def assert_well_formed(batch: JEPAMaskBatch, sampler: MultiBlockMaskSampler) -> None:
    cells = sampler.grid_h * sampler.grid_w
    assert batch.context.dtype == torch.long and batch.targets.dtype == torch.long
    assert batch.context_valid.dtype == torch.bool and batch.targets_valid.dtype == torch.bool
    assert batch.targets.shape[:2] == (batch.batch_size, sampler.num_targets)
    assert batch.context.shape == batch.context_valid.shape
    assert batch.targets.shape == batch.targets_valid.shape
    # Valid entries form a prefix; padding holds index 0.
    for valid, indices in ((batch.context_valid, batch.context),
                           (batch.targets_valid, batch.targets)):
        assert torch.equal(valid, torch.cummin(valid.int(), dim=-1).values.bool())
        assert not indices[~valid].any()
    # Padding is as short as the longest set: some sample fills each tensor's last column.
    assert bool(batch.context_valid[:, -1].any()) and bool(batch.targets_valid[..., -1].any())
    for context, targets in valid_sets(batch):
        assert len(context) >= sampler.min_keep
        assert context == sorted(set(context)) and all(0 <= i < cells for i in context)
        for target in targets:
            assert len(target) >= 1
            assert_is_rectangle(target, sampler.grid_h, sampler.grid_w)
        if not sampler.allow_overlap:
            assert not set(context) & {i for t in targets for i in t}


@pytest.mark.parametrize("side", [4, 8, 14])
def test_default_sampler_batches_are_well_formed(side: int) -> None:
    sampler = MultiBlockMaskSampler(side, side)
    assert_well_formed(sampler.sample(64, seeded(side)), sampler)


def test_batch_holds_each_sample_untruncated() -> None:
    sampler = MultiBlockMaskSampler(8, 8)
    batch = sampler.sample(16, seeded(3))
    rng = seeded(3)
    alone = [sampler.sample_one(rng) for _ in range(16)]
    assert valid_sets(batch) == alone
    lengths = batch.context_valid.sum(dim=1)
    assert lengths.min() < lengths.max()  # lengths differ, and nobody was cut to the minimum


def test_retries_never_drop_disjointness_or_min_keep() -> None:
    # A demanding min_keep forces many redraws; survivors still satisfy both constraints.
    sampler = MultiBlockMaskSampler(4, 4, min_keep=9)
    assert_well_formed(sampler.sample(200, seeded(0)), sampler)


def test_allow_overlap_keeps_the_whole_context_block() -> None:
    sampler = MultiBlockMaskSampler(6, 6, context_scale=(0.5, 0.7), allow_overlap=True)
    batch = sampler.sample(200, seeded(1))
    assert_well_formed(batch, sampler)
    overlapping = 0
    for context, targets in valid_sets(batch):
        assert_is_rectangle(context, 6, 6)
        overlapping += bool(set(context) & {i for t in targets for i in t})
    assert overlapping > 0


@pytest.mark.parametrize(
    ("grid_h", "grid_w", "options"),
    [
        (4, 4, {}),
        (5, 7, {}),
        # Large targets are where an exclusive randint bound hides the last row and column.
        (5, 7, {"num_targets": 1, "target_scale": (0.5, 0.6), "min_keep": 1}),
    ],
)
def test_every_cell_is_reachable_as_target_and_as_context(
    grid_h: int, grid_w: int, options: dict[str, object]
) -> None:
    sampler = MultiBlockMaskSampler(grid_h, grid_w, **options)  # type: ignore[arg-type]
    batch = sampler.sample(600, seeded(grid_h * grid_w))
    target_hits = torch.zeros(grid_h * grid_w, dtype=torch.long)
    context_hits = torch.zeros(grid_h * grid_w, dtype=torch.long)
    target_hits.index_add_(0, batch.targets[batch.targets_valid],
                           torch.ones(int(batch.targets_valid.sum()), dtype=torch.long))
    context_hits.index_add_(0, batch.context[batch.context_valid],
                            torch.ones(int(batch.context_valid.sum()), dtype=torch.long))
    assert bool((target_hits > 0).all()), target_hits.reshape(grid_h, grid_w)
    assert bool((context_hits > 0).all()), context_hits.reshape(grid_h, grid_w)


def test_block_corner_ranges_over_every_position_inclusive() -> None:
    sampler = MultiBlockMaskSampler(5, 7, num_targets=1, target_scale=(0.5, 0.5),
                                    target_aspect_ratio=(1.0, 1.0), min_keep=1)
    height, width = block_shape(5, 7, 0.5, 1.0)
    rng = seeded(0)
    corners = {(d.targets[0].top, d.targets[0].left) for d in
               (sampler.draw_blocks(rng) for _ in range(400))}
    assert corners == {(t, left) for t in range(5 - height + 1) for left in range(7 - width + 1)}


def test_scale_and_aspect_ratio_are_drawn_independently() -> None:
    # With one shared uniform (the official collator) area and height/width rise together.
    sampler = MultiBlockMaskSampler(64, 64, num_targets=1, target_scale=(0.1, 0.5),
                                    target_aspect_ratio=(0.5, 2.0), min_keep=1)
    rng = seeded(0)
    blocks = [sampler.draw_blocks(rng).targets[0] for _ in range(3000)]
    area = torch.tensor([b.height * b.width for b in blocks], dtype=torch.float64).log()
    shape = torch.tensor([b.height / b.width for b in blocks], dtype=torch.float64).log()
    correlation = torch.corrcoef(torch.stack([area, shape]))[0, 1].item()
    assert abs(correlation) < 0.1
    # And the shapes themselves vary: both tall and wide blocks appear.
    assert shape.min() < -0.5 and shape.max() > 0.5


def test_block_shape_rounds_and_clamps() -> None:
    assert block_shape(14, 14, 0.2, 1.0) == (6, 6)
    assert block_shape(4, 4, 1.0, 1.0) == (4, 4)  # a block may span the whole grid
    assert block_shape(2, 8, 1.0, 4.0) == (2, 2)
    assert block_shape(10, 10, 0.001, 1.0) == (1, 1)


def test_same_generator_seed_same_batch_and_global_rng_untouched() -> None:
    sampler = MultiBlockMaskSampler(8, 8)
    before = torch.get_rng_state()
    first = sampler.sample(8, seeded(9))
    second = sampler.sample(8, seeded(9))
    sampler.sample(8)
    assert torch.equal(torch.get_rng_state(), before)
    for a, b in ((first.context, second.context), (first.targets, second.targets)):
        assert torch.equal(a, b)
    assert valid_sets(sampler.sample(8, seeded(10))) != valid_sets(first)


def test_tiny_grid_fails_at_construction() -> None:
    with pytest.raises(ValueError, match=r"min_keep \(4\) \+ num_targets \(4\) exceeds the 4 "
                                         r"cells of the 2x2 grid"):
        MultiBlockMaskSampler(2, 2)
    # With overlap allowed the same grid works: the context is the whole grid.
    batch = MultiBlockMaskSampler(2, 2, allow_overlap=True).sample(4, seeded(0))
    assert bool(batch.context_valid.all()) and batch.context.shape == (4, 4)


def test_infeasible_sampling_terminates_with_a_clear_error() -> None:
    # The context block is 3x3 = 9 cells, so min_keep = 10 can never be met.
    sampler = MultiBlockMaskSampler(6, 6, context_scale=(0.25, 0.25), min_keep=10, max_tries=50)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="no context of at least min_keep=10 tokens disjoint from "
                                         "the targets found in 50 tries on the 6x6 grid"):
        sampler.sample(3, seeded(0))
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grid_h": 0}, "grid_h must be a positive int, got 0"),
        ({"grid_w": -3}, "grid_w must be a non-negative int, got -3"),
        ({"num_targets": 0}, "num_targets must be a positive int"),
        ({"target_scale": (0.0, 0.2)}, "target_scale must be a pair (low, high) with 0 < low"),
        ({"target_scale": (0.3, 0.2)}, "target_scale must be a pair"),
        ({"context_scale": (0.9, 1.1)}, "context_scale must be a pair (low, high) with 0 < low "
                                        "<= high <= 1.0, got (0.9, 1.1)"),
        ({"target_aspect_ratio": (0.5, float("inf"))}, "target_aspect_ratio must be a pair"),
        ({"context_aspect_ratio": 1.0}, "context_aspect_ratio must be a pair"),
        ({"min_keep": 0}, "min_keep must be a positive int"),
        ({"min_keep": 17}, "min_keep must be <= the 16 cells of the 4x4 grid, got 17"),
        ({"allow_overlap": 1}, "allow_overlap must be a bool, got 1"),
        ({"max_tries": 0}, "max_tries must be a positive int"),
    ],
)
def test_config_is_validated_up_front(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"grid_h": 4, "grid_w": 4, **kwargs}
    with pytest.raises(ValueError) as info:
        MultiBlockMaskSampler(**arguments)  # type: ignore[arg-type]
    assert message in str(info.value) and "\n" not in str(info.value)


def test_sample_validates_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        MultiBlockMaskSampler(4, 4).sample(0, seeded(0))


def test_collate_pads_and_reports_padding() -> None:
    batch = collate_jepa_masks([[1, 2, 3], [5]], [[[0], [4, 5]], [[7, 8, 9], [2]]])
    assert batch.context.tolist() == [[1, 2, 3], [5, 0, 0]]
    assert batch.context_valid.tolist() == [[True, True, True], [True, False, False]]
    assert batch.targets.tolist() == [[[0, 0, 0], [4, 5, 0]], [[7, 8, 9], [2, 0, 0]]]
    assert batch.targets_valid.sum().item() == 7
    assert batch.context_padding_fraction == pytest.approx(2 / 6)
    assert batch.targets_padding_fraction == pytest.approx(5 / 12)
    moved = batch.to("cpu")
    assert torch.equal(moved.targets, batch.targets)


def test_collate_refuses_ragged_target_counts() -> None:
    with pytest.raises(ValueError, match="same number of target blocks"):
        collate_jepa_masks([[1], [2]], [[[0]], [[0], [1]]])
    with pytest.raises(ValueError, match="same samples, got 2 contexts and 1 target lists"):
        collate_jepa_masks([[1], [2]], [[[0]]])
