"""The official I-JEPA adapter: the catalogue's verdicts on facebookresearch/ijepa, and why.

Every verdict was checked against the checkout's source at commit 52c1ae9 (line numbers in the
adapter's docstring). Tests that need the code read ``MASKPROOF_IJEPA_CHECKOUT`` and are skipped
without it (the code's CC-BY-NC licence keeps it out of this repository); the bad-path tests run
without it.

Runtime (2 cores): about 20 s with the checkout.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from maskproof.bridge import exact_loss
from maskproof.bridge.adapters import official_ijepa as oi
from maskproof.bridge.audit.catalogue import BY_ID
from maskproof.bridge.audit.protocols import capabilities_of
from maskproof.bridge.audit.runner import (
    DID_NOT_TERMINATE,
    FAILS,
    HOLDS,
    NOT_APPLICABLE,
    AuditResult,
    TargetError,
    audit,
    load_target,
    run_contract,
)

TARGET = "maskproof.bridge.adapters.official_ijepa:TinyOfficialIJEPA"
SKIP_REASON = ("set MASKPROOF_IJEPA_CHECKOUT to a checkout of facebookresearch/ijepa; its "
               "CC-BY-NC licence keeps it out of this repository")
#: Examples per contract in the tests (the CLI's default 40 gives the same verdicts).
EXAMPLES = 10

#: The verdicts at commit 52c1ae9, each confirmed by reading its source.
EXPECTED = {
    "jepa.masks_disjoint_nonempty": HOLDS,
    # torch.randint(0, self.height - h, (1,)): exclusive bound, multiblock.py:89-90 (+ 67-70).
    "jepa.positions_reachable": FAILS,
    # These five were false alarms of the declared truncation (the contracts drew blocks of
    # several sizes, which the forward cut to one cell); they now draw blocks of one shape for a
    # truncating trainer, as the official collator's are.
    "jepa.loss_equals_spec": HOLDS,
    "jepa.target_no_gradient": HOLDS,
    "jepa.ema_law": HOLDS,
    "jepa.optimizer_coverage": HOLDS,
    "jepa.teacher_full_view": HOLDS,
    "jepa.pred_follows_target_position": HOLDS,
    "jepa.context_only_reaches_pred": HOLDS,
    "jepa.target_is_target_encoder_at_position": HOLDS,
    "jepa.padding_never_counts": HOLDS,
    "jepa.blocks_vary_per_sample": HOLDS,
    "fixed.documented_values": HOLDS,
}


def checkout() -> str:
    path = os.environ.get(oi.CHECKOUT_ENV, "")
    if not path:
        pytest.skip(SKIP_REASON)
    return path


@pytest.fixture(scope="module")
def tiny() -> oi.TinyOfficialIJEPA:
    checkout()
    return oi.TinyOfficialIJEPA()


@pytest.fixture(scope="module")
def tiny_audit(tiny: oi.TinyOfficialIJEPA) -> AuditResult:
    return audit(load_target(TARGET), TARGET, EXAMPLES, seed=0)


def official_config_adapter() -> oi.OfficialIJEPAAdapter:
    """configs/in1k_vith14_ep300.yaml's collator: 224 px, patch 14 (16x16 grid), min_keep 10."""
    return oi.OfficialIJEPAAdapter(checkout(), oi.TinyConfig(image_size=224, patch_size=14,
                                                             min_keep=10))


# -- without the checkout ----------------------------------------------------------------------

def test_missing_directory_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "nowhere"
    with pytest.raises(ValueError) as info:
        oi.OfficialIJEPAAdapter(path)
    message = str(info.value)
    assert "\n" not in message and repr(str(path)) in message and "not a directory" in message


def test_checkout_lacking_files_names_them(tmp_path: Path) -> None:
    (tmp_path / "src" / "masks").mkdir(parents=True)
    (tmp_path / "src" / "masks" / "multiblock.py").write_text("")
    with pytest.raises(ValueError) as info:
        oi.load_official(tmp_path)
    message = str(info.value)
    assert "\n" not in message and "is not an I-JEPA checkout" in message
    missing = [name for name in oi.REQUIRED_FILES if name != "src/masks/multiblock.py"]
    assert f"lacks {', '.join(missing)}" in message


def test_unset_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(oi.CHECKOUT_ENV, raising=False)
    with pytest.raises(ValueError, match=f"^{oi.CHECKOUT_ENV} is not set; set it to a checkout"):
        oi.TinyOfficialIJEPA()
    # Through the CLI's loader: one TargetError line naming the variable.
    with pytest.raises(TargetError) as info:
        load_target(TARGET)
    assert "\n" not in str(info.value) and oi.CHECKOUT_ENV in str(info.value)


def test_variable_naming_a_non_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(oi.CHECKOUT_ENV, str(tmp_path))
    with pytest.raises(ValueError) as info:
        oi.TinyOfficialIJEPA()
    message = str(info.value)
    assert message.startswith(f"{oi.CHECKOUT_ENV}: {str(tmp_path)!r} is not an I-JEPA checkout")
    assert "\n" not in message


def fake_checkout(root: Path, multiblock: str) -> Path:
    for name in oi.REQUIRED_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    (root / "src" / "masks" / "multiblock.py").write_text(multiblock)
    return root


def test_import_failure_is_one_line_and_sys_modules_is_restored(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path, "import maskproof_no_such_module_xyz\n")
    sentinel = types.ModuleType("src")
    previous = sys.modules.get("src")
    sys.modules["src"] = sentinel
    try:
        with pytest.raises(ImportError) as info:
            oi.load_official(root)
        assert sys.modules["src"] is sentinel
        assert not [m for m in sys.modules if m.startswith("src.")]
    finally:
        if previous is None:
            del sys.modules["src"]
        else:
            sys.modules["src"] = previous
    message = str(info.value)
    assert "\n" not in message and "maskproof_no_such_module_xyz" in message
    assert message.startswith(f"cannot import the I-JEPA checkout at {str(root.resolve())!r}")


def test_other_src_on_sys_path_does_not_shadow_the_checkout(tmp_path: Path) -> None:
    # A regular package named src elsewhere on sys.path: the checkout's modules still load.
    other = tmp_path / "other"
    (other / "src" / "masks").mkdir(parents=True)
    (other / "src" / "__init__.py").write_text("")
    (other / "src" / "masks" / "__init__.py").write_text("")
    (other / "src" / "masks" / "multiblock.py").write_text("WHO = 'other'\n")
    root = fake_checkout(tmp_path / "mine", "WHO = 'checkout'\n")
    sys.path.insert(0, str(other))
    try:
        loaded = oi._load.__wrapped__(root.resolve())
    finally:
        sys.path.remove(str(other))
    assert loaded.multiblock.WHO == "checkout"
    assert "src" not in sys.modules


def test_ragged_block_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"same number \(>= 1\) of target blocks, got \[1, 2\]"):
        oi._masks([[0], [1]], [[[2]], [[3], [4]]])
    with pytest.raises(ValueError, match="got 2 contexts and 1 target lists"):
        oi._masks([[0], [1]], [[[2]]])


def test_horizon_must_be_whole() -> None:
    with pytest.raises(ValueError, match="positive integer for a documented horizon, got 10.5"):
        _ = oi.TinyConfig(ipe=3, epochs=2, ipe_scale=1.75).ema_horizon


# -- the verdicts ------------------------------------------------------------------------------

def test_capabilities(tiny: oi.TinyOfficialIJEPA) -> None:
    assert capabilities_of(tiny) == ["JEPACollatorCapability", "JEPATrainingCapability",
                                     "FixedTensorsCapability"]
    assert not [m for m in sys.modules if m == "src" or m.startswith("src.")]


def test_pinned_verdicts(tiny_audit: AuditResult) -> None:
    verdicts = {r.contract.id: r.status for r in tiny_audit.results}
    applicable = {cid: status for cid, status in verdicts.items() if status != NOT_APPLICABLE}
    assert applicable == EXPECTED


def test_unreachable_cells_are_the_last_row_and_column(tiny_audit: AuditResult) -> None:
    detail = {r.contract.id: r.detail for r in tiny_audit.results}["jepa.positions_reachable"]
    last = sorted({(r, 7) for r in range(8)} | {(7, c) for c in range(8)})
    assert detail == f"over 256 samples, grid cells (row, col) {last} were never a target"


# -- the defects, shown directly ---------------------------------------------------------------

def cells_seen(adapter: oi.OfficialIJEPAAdapter, iterations: int) -> tuple[set[int], set[int]]:
    context: set[int] = set()
    target: set[int] = set()
    for it in range(iterations):
        _, enc, pred = adapter.collate(32, it, 1000 + it)
        context.update(enc[0].flatten().tolist())
        for block in pred:
            target.update(block.flatten().tolist())
    return context, target


def test_last_row_and_column_never_sampled_at_the_official_config() -> None:
    adapter = official_config_adapter()
    context, target = cells_seen(adapter, 20)
    grid = adapter.config.grid
    edge = {r * grid + grid - 1 for r in range(grid)} | {(grid - 1) * grid + c
                                                         for c in range(grid)}
    assert len(edge) == 31 and not edge & (context | target)
    assert context | target == set(range(grid * grid)) - edge
    # The context block is always the top-left 15x15: h = w = 15 and randint(0, 16 - 15) = 0.
    assert max(i // grid for i in context) == max(i % grid for i in context) == grid - 2


class InclusiveRandint:
    """``torch`` as multiblock.py sees it, with ``randint``'s upper bound made inclusive: the
    one-token fix ``torch.randint(0, self.height - h + 1, (1,))`` of lines 89-90."""

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)

    @staticmethod
    def randint(low: int, high: int, size: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(low, high + 1, size)


def test_inclusive_corner_bound_makes_every_cell_reachable(
        tiny: oi.TinyOfficialIJEPA, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiny.official.multiblock, "torch", InclusiveRandint())
    every = set(range(64))
    context, target = set(), set()
    for it in range(200):  # batches of one: nothing is cut to a batch minimum
        _, enc, pred = tiny.collate(1, it, 1000 + it)
        context.update(enc[0].flatten().tolist())
        target.update(i for block in pred for i in block.flatten().tolist())
    assert context == target == every
    # In batches of 32 every cell is a target, but the bottom-right cell is never context: the
    # cut to the shortest context keeps a row-major prefix (lines 164-168), and (7, 7) is last.
    result = run_contract(BY_ID["jepa.positions_reachable"], tiny, EXAMPLES, 0)
    assert (result.status, result.detail) == (
        FAILS, "over 256 samples, grid cells (row, col) [(7, 7)] were never context")


def test_collator_truncates_context_to_batch_minimum() -> None:
    # Sample 0's draws come first, so a batch of one gives its own masks uncut.
    adapter = official_config_adapter()
    kept = full = 0
    for it in range(10):
        _, enc_alone, pred_alone = adapter.collate(1, it, 77 + it)
        _, enc, pred = adapter.collate(128, it, 77 + it)
        alone, cut = enc_alone[0][0].tolist(), enc[0][0].tolist()
        assert cut == alone[: len(cut)]  # a prefix: the bottom of the context block is dropped
        # Target blocks all have the per-batch size h·w, so they are never cut.
        assert all(torch.equal(a[0], b[0]) for a, b in zip(pred_alone, pred, strict=True))
        kept, full = kept + len(cut), full + len(alone)
    assert kept < 0.75 * full  # at batch 128 per GPU, about 40% of the context is dropped


def test_forward_truncates_as_declared(tiny: oi.TinyOfficialIJEPA) -> None:
    trainer = tiny.jepa_trainer(0)
    images = torch.randn((2, *trainer.image_shape), generator=torch.Generator().manual_seed(1))
    contexts = [list(range(20, 40)), list(range(30, 60))]
    targets = [[[0, 1, 2], [8, 9]], [[3, 4], [10, 11, 12, 13]]]
    ragged = trainer.forward(images, contexts, targets)
    cut = trainer.forward(images, [c[:20] for c in contexts],
                          [[b[:2] for b in s] for s in targets])
    assert ragged.pred.shape == (2, 2, 2, 32)
    assert torch.equal(ragged.pred, cut.pred) and torch.equal(ragged.loss, cut.loss)


def test_same_masks_on_every_rank() -> None:
    # Every rank builds its own collator (counter at -1) and seeds the global RNG with
    # _GLOBAL_SEED = 0 (train.py:58-60), from which its DataLoader workers' seeds derive.
    ranks = [official_config_adapter() for _ in range(2)]
    for it in range(3):
        first, second = (rank.collate(8, it, 0) for rank in ranks)
        assert torch.equal(first[1][0], second[1][0])
        assert all(torch.equal(a, b) for a, b in zip(first[2], second[2], strict=True))
    # Other worker seeds: other positions, the same block size at the same iteration.
    _, _, pred_a = ranks[0].collate(8, 5, 1)
    _, _, pred_b = ranks[1].collate(8, 5, 2)
    assert pred_a[0].shape == pred_b[0].shape and not torch.equal(pred_a[0], pred_b[0])


def test_scale_and_aspect_ratio_share_one_draw(tiny: oi.TinyOfficialIJEPA) -> None:
    shapes = set()
    for seed in range(200):
        size = tiny.collator._sample_block_size(torch.Generator().manual_seed(seed),
                                                (0.15, 0.2), (0.75, 1.5))
        shapes.add(size)
    # Larger blocks are always the taller ones: the (h, w) pairs are totally ordered in h.
    ordered = sorted(shapes, key=lambda hw: hw[0] * hw[1])
    assert [h for h, _ in ordered] == sorted(h for h, _ in ordered)


def test_small_grid_hangs_and_the_audit_reports_it() -> None:
    adapter = oi.OfficialIJEPAAdapter(checkout(), oi.TinyConfig(image_size=16))
    # On the 4x4 grid every target block has h·w <= min_keep = 4 cells: no try can succeed.
    for seed in range(50):
        h, w = adapter.collator._sample_block_size(torch.Generator().manual_seed(seed),
                                                   (0.15, 0.2), (0.75, 1.5))
        assert h * w <= adapter.config.min_keep
    result = run_contract(BY_ID["jepa.masks_disjoint_nonempty"], adapter, EXAMPLES, 0,
                          timeout=1.0)
    assert result.status == DID_NOT_TERMINATE
    assert "multiblock.py:" in result.detail and "_sample_block_mask" in result.detail


# -- the false alarms: the properties hold on equal-length blocks --------------------------------

@pytest.fixture
def equal_blocks(tiny: oi.TinyOfficialIJEPA) -> Iterator[tuple[Any, torch.Tensor, list[list[int]],
                                                                list[list[list[int]]]]]:
    trainer = tiny.jepa_trainer(3)
    with torch.no_grad():  # off the initial values, where a LayerNorm is the identity
        for module in (trainer.context_encoder, trainer.predictor, trainer.target_encoder):
            for p in module.parameters():
                if p.requires_grad or module is trainer.target_encoder:
                    p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator()
                                              .manual_seed(p.numel())))
    images = torch.randn((2, *trainer.image_shape), generator=torch.Generator().manual_seed(4))
    targets = [[[0, 1, 8, 9], [36, 37, 44, 45]], [[18, 19, 26, 27], [5, 6, 13, 14]]]
    covered = [{i for b in s for i in b} for s in targets]
    contexts = [[i for i in range(64) if i not in c][:40] for c in covered]
    yield trainer, images, contexts, targets


def test_equal_blocks_loss_and_targets_hold(equal_blocks: Any) -> None:
    trainer, images, contexts, targets = equal_blocks
    out = trainer.forward(images, contexts, targets)
    index = torch.tensor(targets)
    check = exact_loss.check_ijepa(out.pred, out.target, index, torch.ones_like(index, dtype=bool),
                                   out.loss.detach())
    assert check.holds, check.describe()
    with torch.no_grad():
        feats = trainer.target_encoder(images)
    feats = F.layer_norm(feats, (feats.shape[-1],))
    assert torch.allclose(out.target, feats[torch.arange(2)[:, None, None], index], atol=1e-6)
    assert not out.target.requires_grad
    out.loss.backward()
    assert all(p.grad is None for p in trainer.target_encoder.parameters())


def test_equal_blocks_teacher_and_context_hold(equal_blocks: Any) -> None:
    trainer, images, contexts, targets = equal_blocks
    out = trainer.forward(images, contexts, targets)
    smaller = trainer.forward(images, [c[:25] for c in contexts], targets)
    assert torch.equal(out.target, smaller.target)
    inside = torch.zeros((2, 64), dtype=torch.bool)
    for b, context in enumerate(contexts):
        inside[b, context] = True
    pixels = inside.reshape(2, 1, 8, 8).repeat_interleave(4, 2).repeat_interleave(4, 3)
    noised = torch.where(pixels, images, 3 * torch.randn(images.shape))
    assert torch.equal(trainer.forward(noised, contexts, targets).pred.detach(),
                       out.pred.detach())


def test_momentum_schedule_ends_at_the_horizon(tiny: oi.TinyOfficialIJEPA) -> None:
    trainer = tiny.jepa_trainer(0)
    assert (trainer.ema_start, trainer.ema_end, trainer.ema_horizon) == (0.996, 1.0, 8)
    values = list(oi.momentum_schedule(tiny.config))
    assert len(values) == 9 and values[0] == 0.996 and values[-1] == 1.0
    images = torch.randn((1, *trainer.image_shape))
    masks = ([list(range(30, 60))], [[[0, 1], [2, 3]]])
    trainer.train_step(images, *masks, 8)
    with pytest.raises(ValueError, match="step 9 is past the official momentum schedule"):
        trainer.train_step(images, *masks, 9)
    with pytest.raises(ValueError, match="step 3 is before this run's next step"):
        trainer.train_step(images, *masks, 3)
