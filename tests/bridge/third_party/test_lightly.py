"""The lightly adapters: the catalogue's verdicts on lightly 1.6.0's MAE pieces and I-JEPA mask
collator, and why.

Every failure is a defect of lightly's code (line numbers in the adapter's docstring), shown
here directly as well: the float keep count (models/utils.py:599), the global RNG of
``random_token_mask`` (utils.py:601), the encoder's unused trainable ``mask_token``
(masked_vision_transformer_timm.py:46-50), the collator's exclusive corner bound
(data/ijepa_collate.py:113-114) and its relaxed constraint that lets the context overlap the
targets (lines 99-104, 122-127). Where a fix is small, the fixed code holds. ``patchify`` /
``unpatchify`` are square-only (utils.py:524, 558-563), declared as ``patchify_square``.

Runtime (2 shared cores): about 18 s, importing timm and lightly included.
"""

from __future__ import annotations

import ast
import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.bridge.third_party import torchvision_stub

torchvision_stub.install()
if any(isinstance(finder, torchvision_stub._Finder) for finder in sys.meta_path):
    # lightly.data does ``from torchvision import datasets, io`` and subclasses
    # ``datasets.VisionDataset``; the stub answers an attribute with a placeholder class whose
    # attributes are strings, so make these two names stub submodules first.
    import torchvision.datasets  # type: ignore[import-not-found]  # noqa: F401
    import torchvision.io  # type: ignore[import-not-found]  # noqa: F401

pytest.importorskip("timm", reason="the lightly adapters wrap timm's VisionTransformer "
                                   "(pip install timm)")
pytest.importorskip("lightly", reason="the lightly adapters audit lightly (pip install lightly)")

from lightly.data.ijepa_collate import IJEPAMaskCollator  # type: ignore[import-untyped]  # noqa: E402
from lightly.models import utils as lu  # type: ignore[import-untyped]  # noqa: E402

from maskproof.bridge.adapters import lightly_ssl as ls  # noqa: E402
from maskproof.bridge.audit.catalogue import CATALOGUE  # noqa: E402
from maskproof.bridge.audit.contracts_masking import cells  # noqa: E402
from maskproof.bridge.audit.protocols import capabilities_of  # noqa: E402
from maskproof.bridge.audit.runner import (  # noqa: E402
    FAILS,
    HOLDS,
    NOT_APPLICABLE,
    AuditResult,
    audit,
    load_target,
)

#: lightly 1.6.0 deprecates MAEDecoderTIMM (removal in 1.7.0); the documented example uses it.
pytestmark = pytest.mark.filterwarnings("ignore:MAEDecoderTIMM is deprecated:FutureWarning")

MAE_TARGET = "maskproof.bridge.adapters.lightly_ssl:TinyLightlyMAE"
COLLATOR_TARGET = "maskproof.bridge.adapters.lightly_ssl:LightlyIJEPACollator"
EXAMPLES = 10

#: Verdicts on TinyLightlyMAE; every contract not listed is not applicable.
MAE_EXPECTED = {
    # num_keep = int(N * (1 - mask_ratio)) in binary floats (utils.py:599).
    "masking.keep_count": FAILS,
    "masking.ids_restore_inverse": HOLDS,
    "masking.kept_tokens_gathered": HOLDS,
    # random_token_mask draws torch.rand from the global RNG (utils.py:601): two calls with one
    # generator draw two masks. Not batch dependence: GlobalSeeded below holds.
    "masking.batch_independent": FAILS,
    "masking.generator_decides": FAILS,
    "masking.samples_differ": HOLDS,
    "masking.ratio_zero": HOLDS,
    # Square grids only (patchify_square: patchify asserts H == W, utils.py:524).
    "patchify.roundtrip": HOLDS,
    "patchify.patch_content": HOLDS,
    "encoder.hidden_unseen": HOLDS,
    "encoder.visible_reach": HOLDS,
    "encoder.batch_independent": HOLDS,
    "model.loss_of_own_prediction": HOLDS,
    "model.mask_matches_noise": HOLDS,
    "model.masked_rows_follow_position": HOLDS,
    "model.shuffle_order_invariant": HOLDS,
    # MaskedVisionTransformerTIMM's own mask_token (masked_vision_transformer_timm.py:46-50) is
    # trainable and never used by the MAE (the encoder gets idx_keep, not idx_mask).
    "model.every_parameter_gets_gradient": FAILS,
    "model.encoder_position_sensitive": HOLDS,
    "fixed.documented_values": HOLDS,
}

#: Verdicts on LightlyIJEPACollator; every contract not listed is not applicable.
COLLATOR_EXPECTED = {
    # After 20 rejected context blocks the collator drops the targets' complements one by one
    # (ijepa_collate.py:99-104, 122-127): the context may then cover target cells.
    "jepa.masks_disjoint_nonempty": FAILS,
    # torch.randint(0, height - h) excludes the corner that reaches the last row / column
    # (ijepa_collate.py:113-114).
    "jepa.positions_reachable": FAILS,
    "jepa.blocks_vary_per_sample": HOLDS,
}


def _all(expected: dict[str, str]) -> dict[str, str]:
    return {c.id: expected.get(c.id, NOT_APPLICABLE) for c in CATALOGUE}


def _verdicts(result: AuditResult) -> dict[str, str]:
    return {r.contract.id: r.status for r in result.results}


def _details(result: AuditResult) -> dict[str, str]:
    return {r.contract.id: r.detail for r in result.results}


@pytest.fixture(scope="module")
def tiny() -> ls.TinyLightlyMAE:
    return ls.TinyLightlyMAE()


@pytest.fixture(scope="module")
def tiny_audit() -> AuditResult:
    # The global RNG fixed too: random_token_mask and the collator draw from it.
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return audit(load_target(MAE_TARGET), MAE_TARGET, EXAMPLES, seed=0)


@pytest.fixture(scope="module")
def collator_audit() -> AuditResult:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return audit(load_target(COLLATOR_TARGET), COLLATOR_TARGET, EXAMPLES, seed=0)


# --- the MAE --------------------------------------------------------------------------------

def test_tiny_is_a_target_with_the_mae_capabilities(tiny: ls.TinyLightlyMAE) -> None:
    assert capabilities_of(tiny) == ["RandomMaskingCapability", "PatchifyCapability",
                                     "EncoderCapability", "FixedTensorsCapability",
                                     "MAEModelCapability"]
    assert tiny.encoder_image_shape == (3, 16, 16) and tiny.patch_size == 4
    assert not tiny.norm_pix_loss and not tiny.model.training


def test_catalogue_verdicts_on_tiny_lightly_mae(tiny_audit: AuditResult) -> None:
    assert _verdicts(tiny_audit) == _all(MAE_EXPECTED), {
        r.contract.id: (r.status, r.detail) for r in tiny_audit.results
        if MAE_EXPECTED.get(r.contract.id, NOT_APPLICABLE) != r.status}
    packages = tiny_audit.environment["audited_packages"]
    assert packages["lightly"] is not None and packages["timm"] is not None


def test_failure_details_name_the_defects(tiny_audit: AuditResult) -> None:
    detail = _details(tiny_audit)
    assert detail["masking.keep_count"].startswith("N=5, r=0.8: masked counts per sample [5")
    assert "reads the global RNG" in detail["masking.generator_decides"]
    assert detail["model.every_parameter_gets_gradient"].startswith(
        "trainable parameter 'backbone.mask_token' got no gradient")


def test_keep_count_is_lightlys_float_floor(tiny: ls.TinyLightlyMAE) -> None:
    # 5 * (1 - 0.8) == 0.9999999999999998: random_token_mask keeps only the class token.
    idx_keep, idx_mask = lu.random_token_mask((2, 6), mask_ratio=0.8)
    assert idx_keep.tolist() == [[0], [0]] and idx_mask.shape == (2, 5)
    kept, mask, _ = tiny.random_masking(torch.randn(2, 5, 3), 0.8, torch.Generator())
    assert kept.shape == (2, 0, 3) and mask.sum(dim=1).tolist() == [5.0, 5.0]
    # Where the float product is exact, the count is N - floor(N(1-r)).
    kept, mask, _ = tiny.random_masking(torch.randn(2, 16, 3), 0.75, torch.Generator())
    assert kept.shape == (2, 4, 3) and mask.sum(dim=1).tolist() == [12.0, 12.0]


def test_random_token_mask_reads_only_the_global_rng(tiny: ls.TinyLightlyMAE) -> None:
    x = torch.randn(2, 64, 3)

    def masked(global_seed: int, generator_seed: int) -> torch.Tensor:
        with torch.random.fork_rng():
            torch.manual_seed(global_seed)
            return tiny.random_masking(x, 0.75, torch.Generator().manual_seed(generator_seed))[1]

    assert torch.equal(masked(1, 0), masked(1, 5))  # the generator changes nothing
    assert not torch.equal(masked(1, 0), masked(2, 0))  # the global seed decides


class GlobalSeeded(ls.TinyLightlyMAE):
    """The user's workaround: seed the global RNG from the generator around each call."""

    def random_masking(self, x: torch.Tensor, mask_ratio: float, generator: torch.Generator
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return super().random_masking(x, mask_ratio, generator)


def test_rng_failures_are_the_global_rng_and_nothing_else() -> None:
    ids = ["masking.generator_decides", "masking.batch_independent", "masking.samples_differ",
           "masking.kept_tokens_gathered"]
    result = audit(GlobalSeeded(), "GlobalSeeded", EXAMPLES, seed=0, only=ids)
    assert {r.contract.id: (r.status, r.detail) for r in result.results} == {
        cid: (HOLDS, "") for cid in ids}


def test_patchify_is_square_only(tiny: ls.TinyLightlyMAE) -> None:
    assert tiny.patchify_square  # declared, so the contracts draw square grids only
    with pytest.raises(AssertionError):
        lu.patchify(torch.randn(1, 3, 8, 32), 4)  # a 2x8 grid: widths and heights tile
    # unpatchify has no height or width: a 2x8 grid's 16 patches come back as a 4x4 grid.
    rows = cells(torch.randn(1, 3, 8, 32), 4)
    assert lu.unpatchify(rows, 4, channels=3).shape == (1, 3, 16, 16)


@pytest.mark.parametrize(("chans", "patch", "side"), [(1, 2, 3), (3, 4, 4), (4, 3, 5)])
def test_patchify_holds_on_square_images(tiny: ls.TinyLightlyMAE, chans: int, patch: int,
                                         side: int) -> None:
    images = torch.randn(2, chans, side * patch, side * patch)
    patches = tiny.patchify(images, patch)
    assert torch.equal(tiny.unpatchify(patches, patch, (chans, side * patch, side * patch)),
                       images)
    # Row i holds grid cell i's pixels (lightly orders them (p, q, c), cells() (c, p, q)).
    want = torch.sort(cells(images, patch), dim=-1).values
    assert torch.equal(torch.sort(patches, dim=-1).values, want)


def test_encoder_mask_token_is_trainable_and_unused(tiny: ls.TinyLightlyMAE) -> None:
    adapter = copy.deepcopy(tiny)
    token = adapter.model.backbone.mask_token
    assert token.requires_grad and any(p is token for p in adapter.model.parameters())
    images, noise = torch.randn(2, 3, 16, 16), torch.rand(2, 16)
    torch.autograd.backward(adapter.mae_forward(images, noise, 0.75).loss)
    assert token.grad is None
    assert adapter.model.decoder.mask_token.grad is not None  # the decoder's one is used


class FrozenEncoderToken(ls.TinyLightlyMAE):
    def __init__(self) -> None:
        super().__init__()
        self.model.backbone.mask_token.requires_grad_(False)


def test_model_contracts_hold_without_the_unused_token() -> None:
    ids = [c.id for c in CATALOGUE if c.id.startswith("model.")]
    result = audit(FrozenEncoderToken(), "FrozenEncoderToken", EXAMPLES, seed=0, only=ids)
    assert {r.contract.id: (r.status, r.detail) for r in result.results} == {
        cid: (HOLDS, "") for cid in ids}


def test_mae_forward_is_the_examples_forward(tiny: ls.TinyLightlyMAE) -> None:
    images = torch.randn(3, 3, 16, 16)
    model = tiny.model
    with torch.random.fork_rng():
        torch.manual_seed(4)
        idx_keep, idx_mask = lu.random_token_mask((3, 17), mask_ratio=0.75)
    # The noise whose order is lightly's: the kept patches first, then the masked ones.
    shuffle = torch.cat([idx_keep[:, 1:], idx_mask], dim=1) - 1
    noise = torch.argsort(shuffle, dim=1).float()
    out = tiny.mae_forward(images, noise, 0.75)
    # The example's own order of operations: gather the masked rows, then predict.
    with torch.no_grad():
        latent = model.backbone.encode(images=images, idx_keep=idx_keep)
        x = lu.repeat_token(model.decoder.mask_token, (3, 17))
        x = lu.set_at_index(x, idx_keep, model.decoder.embed(latent))
        x_pred = model.decoder.predict(lu.get_at_index(model.decoder.decode(x), idx_mask))
        target = lu.get_at_index(lu.patchify(images, 4), idx_mask - 1)
        want = torch.nn.MSELoss()(x_pred, target)
    assert torch.equal(out.latent.detach(), latent)
    assert torch.allclose(out.loss.detach(), want, rtol=1e-6, atol=0.0)
    assert torch.equal(out.mask.nonzero()[:, 1].reshape(3, 12).sort(dim=1).values,
                       (idx_mask - 1).sort(dim=1).values)
    assert torch.equal(out.ids_restore, torch.argsort(shuffle, dim=1))
    assert out.pred.shape == (3, 16, 48)


def test_encode_keeps_exactly_the_visible_patches(tiny: ls.TinyLightlyMAE) -> None:
    mask = torch.ones(2, 16)
    mask[0, [1, 5, 9, 15]] = 0
    mask[1, [0, 2, 3, 4]] = 0
    images = torch.randn(2, 3, 16, 16)
    out = tiny.encode(images, mask)
    assert out.shape == (2, 5, 32)
    idx_keep = torch.tensor([[0, 2, 6, 10, 16], [0, 1, 3, 4, 5]])
    assert torch.equal(out, tiny.model.backbone.encode(images=images, idx_keep=idx_keep).detach())
    with pytest.raises(ValueError, match=r"same number of patches in every sample, got \[4, 3\]"):
        tiny.encode(images, torch.tensor([[1.0] * 4 + [0.0] * 12, [1.0] * 3 + [0.0] * 13]))


def test_fixed_tables_are_lightlys_sincos_and_frozen(tiny: ls.TinyLightlyMAE) -> None:
    tables = tiny.fixed_tensors(3)
    want = torch.from_numpy(lu.get_2d_sine_cosine_positional_embedding(32, 4)).float()
    assert torch.equal(tables[0].value, want)
    assert [t.value.requires_grad for t in tables] == [False, False]


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(TypeError, match="wraps a LightlyMAE, got Linear"):
        not_a_model: Any = torch.nn.Linear(2, 2)
        ls.LightlyMAEAdapter(not_a_model, lambda seed: ls.tiny_model())
    with pytest.raises(TypeError, match="wraps an IJEPAMaskCollator, got object"):
        ls.IJEPACollatorAdapter(object())
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        ls.LightlyIJEPACollator().sample_jepa_masks(0, torch.Generator())


def test_missing_library_is_one_clear_import_error() -> None:
    code = ("import sys; sys.modules['timm'] = None\n"
            "try:\n    import maskproof.bridge.adapters.lightly_ssl\n"
            "except ImportError as e:\n    print(repr(str(e)))\n")
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=root, timeout=60, check=True).stdout.strip()
    message = ast.literal_eval(out)
    assert message.startswith("maskproof.bridge.adapters.lightly_ssl needs lightly and timm "
                              "(pip install lightly timm); importing it failed: ")
    assert "Error: " in message and "\n" not in message


# --- the I-JEPA collator --------------------------------------------------------------------

def test_collator_verdicts(collator_audit: AuditResult) -> None:
    assert _verdicts(collator_audit) == _all(COLLATOR_EXPECTED), {
        r.contract.id: (r.status, r.detail) for r in collator_audit.results
        if COLLATOR_EXPECTED.get(r.contract.id, NOT_APPLICABLE) != r.status}
    detail = _details(collator_audit)["jepa.positions_reachable"]
    assert "(6, 6)" in detail and "were never a target" in detail


def example_collator(cls: Any = IJEPAMaskCollator) -> Any:
    """The collator of lightly's I-JEPA example: 224 px, patch 32 (a 7x7 grid)."""
    return cls(input_size=(224, 224), patch_size=32)


def _samples(collator: Any, calls: int, seed: int = 0
             ) -> list[tuple[list[int], list[list[int]]]]:
    adapter = ls.IJEPACollatorAdapter(collator)
    out: list[tuple[list[int], list[list[int]]]] = []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for _ in range(calls):
            contexts, targets = adapter.sample_jepa_masks(8, torch.Generator())
            out.extend(zip(contexts, targets, strict=True))
    return out


def test_blocks_never_touch_the_last_row_or_column() -> None:
    def reached(collator: Any) -> tuple[set[int], set[int]]:
        seen = {i for context, blocks in _samples(collator, 40)
                for i in [*context, *(j for block in blocks for j in block)]}
        return {i // 7 for i in seen}, {i % 7 for i in seen}

    assert reached(example_collator()) == (set(range(6)), set(range(6)))  # never row / col 6
    assert reached(example_collator(InclusiveCorner)) == (set(range(7)), set(range(7)))


class InclusiveCorner(IJEPAMaskCollator):  # type: ignore[misc]
    """lightly 1.6.0's ``_sample_block_mask`` (MIT) with only the corner bound made inclusive
    (``height - h + 1``): the fix of ijepa_collate.py:113-114."""

    def _sample_block_mask(self, b_size: tuple[int, int],
                           acceptable_regions: list[torch.Tensor] | None = None
                           ) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = b_size
        tries, timeout = 0, 20
        while True:
            top = torch.randint(0, self.height - h + 1, (1,))
            left = torch.randint(0, self.width - w + 1, (1,))
            mask = torch.zeros((self.height, self.width), dtype=torch.int32)
            mask[top: top + h, left: left + w] = 1
            if acceptable_regions is not None:
                for k in range(max(len(acceptable_regions) - tries, 0)):
                    mask *= acceptable_regions[k]
            index = torch.nonzero(mask.flatten())
            if len(index) > self.min_keep:
                break
            timeout -= 1
            if timeout == 0:
                tries, timeout = tries + 1, 20
        complement = torch.ones((self.height, self.width), dtype=torch.int32)
        complement[top: top + h, left: left + w] = 0
        return index.squeeze(), complement


def test_positions_reachable_holds_with_the_inclusive_corner() -> None:
    # The global RNG fixed: the collator draws its corners from it. With the corner fixed every
    # cell is a target; the contract's "context at least once in 256 samples" clause still
    # misses a centre cell under a few global seeds in a hundred (two large target blocks a
    # sample and contexts cut to the batch's shortest make centre cells rare, not impossible).
    adapter = ls.IJEPACollatorAdapter(example_collator(InclusiveCorner))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        result = audit(adapter, "InclusiveCorner", 3, seed=0, only=["jepa.positions_reachable"])
    assert [(r.status, r.detail) for r in result.results] == [(HOLDS, "")]


def test_context_overlaps_targets_when_the_constraint_is_relaxed() -> None:
    collator = example_collator()
    assert not collator.allow_overlap
    # Mechanism: with an acceptable region that admits no cell, 20 rejected draws drop it
    # (tries = 1, ijepa_collate.py:102, 125-127) and the block lands anywhere.
    nowhere = torch.zeros((7, 7), dtype=torch.int32)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        block, _ = collator._sample_block_mask((3, 3), acceptable_regions=[nowhere])
    assert block.numel() == 9
    # Effect on real batches: some samples' context lies inside their target blocks.
    shared = [len(set(context) & {i for b in blocks for i in b})
              for context, blocks in _samples(example_collator(), 60, seed=1)]
    assert sum(n > 0 for n in shared) > 0
