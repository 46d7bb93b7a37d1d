"""The official MAE adapter: the catalogue's verdicts on facebookresearch/mae, and why.

Every verdict was checked against the checkout's own source (models_mae.py at commit efb2a80;
the adapter's docstring names the lines): the float keep count (line 130), the 0/0 loss of an
empty mask (line 213) and the square-only patchify (lines 101, 115). Tests that need the code
read MASKPROOF_MAE_CHECKOUT; the error-message tests at the top run without it.

timm's ViT module imports torchvision names at import time and the real torchvision does not
load beside torch 2.13.0+cpu here, so this module installs the loud stand-in of
``torchvision_stub`` (placeholders that raise when built or called; none is reached).

Runtime (2 cores): about 15 s, mostly the catalogue on TinyOfficialMAE and importing timm.
"""

from __future__ import annotations

import inspect
import math
import os
import re
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy
import pytest
import torch

from maskproof.bridge.adapters import official_mae as om
from maskproof.bridge.audit.contracts_masking import cells
from maskproof.bridge.audit.protocols import capabilities_of
from maskproof.bridge.audit.runner import (
    FAILS,
    HOLDS,
    NOT_APPLICABLE,
    AuditResult,
    TargetError,
    audit,
    load_target,
)
from maskproof.bridge.audit.sizes import GRID_SIDE_VALUES
from tests.bridge.third_party import torchvision_stub

TARGET = "maskproof.bridge.adapters.official_mae:TinyOfficialMAE"
#: Examples per contract in the tests (the CLI's default is 40; 40 gives the same verdicts).
EXAMPLES = 10
CHECKOUT_REASON = ("set MASKPROOF_MAE_CHECKOUT to a checkout of facebookresearch/mae; its "
                   "CC-BY-NC licence keeps it out of this repository")

#: The verdicts on models_mae.py at commit efb2a80, each confirmed by reading its source.
EXPECTED = {
    # len_keep = int(L * (1 - mask_ratio)) in binary floats (models_mae.py:130).
    "masking.keep_count": FAILS,
    "masking.ids_restore_inverse": HOLDS,
    "masking.kept_tokens_gathered": HOLDS,
    "masking.batch_independent": HOLDS,
    "masking.generator_decides": HOLDS,
    "masking.samples_differ": HOLDS,
    "masking.ratio_zero": HOLDS,
    # (loss * mask).sum() / mask.sum() (models_mae.py:213): 0/0 = NaN for an empty mask.
    "masking.empty_mask_loss_zero": FAILS,
    # patchify asserts a square image (models_mae.py:101); unpatchify assumes a square grid
    # (line 115): declared (patchify_square), so both are checked on square grids only.
    "patchify.roundtrip": HOLDS,
    "patchify.patch_content": HOLDS,
    "loss.equals_spec": HOLDS,
    "loss.visible_ignored": HOLDS,
    "loss.masked_gradient": HOLDS,
    "loss.masked_order_invariant": HOLDS,
    "loss.norm_pix_convention": HOLDS,
    "encoder.hidden_unseen": HOLDS,
    "encoder.visible_reach": HOLDS,
    "encoder.batch_independent": HOLDS,
    "model.loss_of_own_prediction": HOLDS,
    "model.mask_matches_noise": HOLDS,
    "model.masked_rows_follow_position": HOLDS,
    "model.shuffle_order_invariant": HOLDS,
    "model.every_parameter_gets_gradient": HOLDS,
    "model.encoder_position_sensitive": HOLDS,
    "fixed.documented_values": HOLDS,
}
CAPABILITIES = ["RandomMaskingCapability", "PatchifyCapability", "MAELossCapability",
                "EncoderCapability", "FixedTensorsCapability", "MAEModelCapability"]


# --- Without the checkout: the one-line errors ---------------------------------------------

def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=r"^'.*nowhere' is not a directory: expected a "
                       r"checkout of facebookresearch/mae \(holding models_mae.py\)$"):
        om.OfficialMAEAdapter(missing)


def test_a_directory_without_models_mae_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=rf"^{re.escape(repr(str(tmp_path)))} has no "
                       r"models_mae.py: expected a checkout of facebookresearch/mae$"):
        om.OfficialMAEAdapter(tmp_path)


def test_a_checkout_without_pos_embed_is_named(tmp_path: Path) -> None:
    (tmp_path / "models_mae.py").write_text("raise AssertionError('never run')\n")
    with pytest.raises(FileNotFoundError, match=r"has no util/pos_embed.py: expected a "
                                                r"checkout of facebookresearch/mae$"):
        om.OfficialMAEAdapter(str(tmp_path))


def test_a_checkout_that_is_no_path_is_named() -> None:
    with pytest.raises(TypeError, match=r"^checkout must be a path to a checkout of "
                                        r"facebookresearch/mae, got int 3$"):
        om.OfficialMAEAdapter(3)  # type: ignore[arg-type]


def test_the_target_names_the_variable_when_it_is_unset(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.delenv(om.CHECKOUT_ENV, raising=False)
    with pytest.raises(TargetError, match=r"MASKPROOF_MAE_CHECKOUT is not set: set it to a "
                                          r"checkout of facebookresearch/mae"):
        load_target(TARGET)


def test_the_target_names_the_variable_when_it_is_no_checkout(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(om.CHECKOUT_ENV, str(tmp_path))
    with pytest.raises(TargetError) as info:
        load_target(TARGET)
    message = str(info.value)
    assert "\n" not in message
    assert f"MASKPROOF_MAE_CHECKOUT={str(tmp_path)!r} is not a checkout of " \
           "facebookresearch/mae: it has no models_mae.py" in message


@pytest.fixture
def no_torchvision() -> Iterator[None]:
    """timm and torchvision unimportable for the test (``sys.modules`` restored after)."""
    saved = dict(sys.modules)
    finders = list(sys.meta_path)
    for name in list(sys.modules):
        if name.split(".")[0] in ("timm", "torchvision"):
            del sys.modules[name]
    sys.modules["torchvision"] = None  # type: ignore[assignment]  # "import ... halted"
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, torchvision_stub._Finder)]
    try:
        yield
    finally:
        sys.modules.clear()
        sys.modules.update(saved)
        sys.meta_path[:] = finders


@pytest.mark.usefixtures("no_torchvision")
def test_timm_that_does_not_import_is_one_line_naming_torchvision(tmp_path: Path) -> None:
    # A directory that looks like a checkout (its files are never run: timm fails first).
    (tmp_path / "util").mkdir()
    for name in ("models_mae.py", "util/pos_embed.py"):
        (tmp_path / name).write_text("raise AssertionError('never run')\n")
    with pytest.raises(ImportError) as info:
        om.OfficialMAEAdapter(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("the official MAE code needs timm (models_mae.py imports "
                              "timm.models.vision_transformer), which failed to import: "
                              "ModuleNotFoundError: ")
    assert message.endswith("(timm's ViT code imports torchvision at import time: install a "
                            f"torchvision that loads beside torch {torch.__version__})")


def test_qk_scale_other_than_none_is_refused() -> None:
    block = om._block_without_qk_scale(torch.nn.Identity)
    assert isinstance(block(qk_scale=None), torch.nn.Identity)
    with pytest.raises(ValueError, match=r"^qk_scale=0\.5: this timm's Block has no qk_scale"):
        block(qk_scale=0.5)


def test_ratio_keeping_floors_to_the_keep_count() -> None:
    for tokens in (1, 7, 10, 16, 25, 49, 196):
        for keep in range(tokens + 1):
            assert int(tokens * (1 - om.ratio_keeping(tokens, keep))) == keep


# --- With the checkout ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def checkout() -> str:
    path = os.environ.get(om.CHECKOUT_ENV)
    if not path:
        pytest.skip(CHECKOUT_REASON)
    torchvision_stub.install()  # only where the real torchvision does not import
    try:
        om.import_timm_vision_transformer()
    except ImportError as error:
        pytest.skip(f"timm does not import, even beside the torchvision stand-in: {error}")
    return path


@pytest.fixture(scope="module")
def tiny(checkout: str) -> om.TinyOfficialMAE:
    return om.TinyOfficialMAE()


@pytest.fixture(scope="module")
def tiny_audit(checkout: str) -> AuditResult:
    return audit(load_target(TARGET), TARGET, EXAMPLES, seed=0)


def test_tiny_is_a_target_with_the_mae_capabilities(tiny: om.TinyOfficialMAE) -> None:
    assert capabilities_of(tiny) == CAPABILITIES
    assert tiny.patchify_fixed == (4, 3) and tiny.encoder_image_shape == (3, 16, 16)
    assert tiny.norm_pix_loss and not tiny.model.training
    assert type(tiny.model).__name__ == "MaskedAutoencoderViT"
    assert Path(tiny.code.models_mae.__file__) == tiny.code.root / "models_mae.py"
    # The real timm blocks, and nothing of the checkout left in sys.modules.
    assert type(tiny.model.blocks[0]).__module__ == "timm.models.vision_transformer"
    root = str(tiny.code.root)
    assert not [name for name, module in list(sys.modules.items())
                if str(getattr(module, "__file__", None) or "").startswith(root)]


def test_catalogue_verdicts_on_tiny_official_mae(tiny_audit: AuditResult) -> None:
    verdicts = {r.contract.id: r.status for r in tiny_audit.results}
    applicable = {cid: status for cid, status in verdicts.items() if status != NOT_APPLICABLE}
    assert applicable == EXPECTED, {
        r.contract.id: (r.status, r.detail) for r in tiny_audit.results
        if EXPECTED.get(r.contract.id, NOT_APPLICABLE) != r.status}
    assert all(cid.split(".")[0] in ("lean", "jepa", "train")
               for cid, status in verdicts.items() if status == NOT_APPLICABLE)
    assert tiny_audit.environment["audited_packages"]["timm"] is not None


def test_keep_count_failure_is_the_float_rounding_of_len_keep(tiny_audit: AuditResult) -> None:
    result = next(r for r in tiny_audit.results if r.contract.id == "masking.keep_count")
    match = re.search(r"N=(\d+), r=([0-9.]+): masked counts per sample \[(\d+)", result.detail)
    assert match is not None, result.detail
    tokens, ratio, masked = int(match.group(1)), match.group(2), int(match.group(3))
    # The model keeps int(N * (1 - r)) computed in binary floats: one token fewer than r means.
    assert int(tokens * (1 - float(ratio))) == math.floor(tokens * (1 - Fraction(ratio))) - 1
    assert masked == tokens - int(tokens * (1 - float(ratio)))


class ExactKeepCount(om.TinyOfficialMAE):
    """The model's own random_masking, handed a ratio whose float keep count is the exact
    floor(N(1 - r)): what models_mae.py:130 would keep if it rounded exactly."""

    def random_masking(self, x: torch.Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        tokens = x.shape[1]
        keep = math.floor(tokens * (1 - Fraction(repr(mask_ratio))))
        return super().random_masking(x, om.ratio_keeping(tokens, keep), generator)


def test_keep_count_holds_once_the_count_is_exact(checkout: str) -> None:
    # The keep_count failure is the count and nothing else: with the count made exact every
    # masking contract holds on the model's own method.
    ids = ["masking.keep_count", "masking.ids_restore_inverse", "masking.kept_tokens_gathered",
           "masking.ratio_zero"]
    result = audit(ExactKeepCount(), "exact keep count", EXAMPLES, seed=0, only=ids)
    assert {r.contract.id: (r.status, r.detail) for r in result.results} == {
        cid: (HOLDS, "") for cid in ids}


def test_square_only_is_declared_and_an_undeclared_copy_fails_loudly(checkout: str) -> None:
    """Without the declaration the first non-square grid is refused at the model's own assert:
    reported as the exception and its line, not as a wrong value."""
    adapter = om.TinyOfficialMAE()
    assert adapter.patchify_square is True
    adapter.patchify_square = False
    for cid in ("patchify.roundtrip", "patchify.patch_content"):
        (result,) = audit(adapter, "undeclared", EXAMPLES, seed=0, only=[cid]).results
        assert result.status == FAILS
        assert re.fullmatch(r"raised AssertionError: +at \S*models_mae\.py:101 in patchify",
                            result.detail), (cid, result.detail)
        assert result.counterexample["grid_h"] != result.counterexample["grid_w"]


def test_keep_count_comes_from_the_model_itself(tiny: om.TinyOfficialMAE) -> None:
    # The unmodified method on its own torch.rand draw: 10 * (1 - 0.8) == 1.9999999999999996,
    # so it keeps 1 token where r = 0.8 means 2 (models_mae.py:130).
    x = torch.randn(2, 10, 3)
    kept, mask, _ = tiny.model.random_masking(x, 0.8)
    assert kept.shape == (2, 1, 3) and mask.sum(dim=1).tolist() == [9.0, 9.0]
    assert 10 * (1 - Fraction("0.8")) == 2


def test_empty_mask_loss_is_nan(tiny: om.TinyOfficialMAE) -> None:
    # forward_loss divides by mask.sum() (models_mae.py:213): 0/0 with nothing masked.
    images, pred = torch.randn(2, 3, 16, 16), torch.randn(2, 16, 48)
    assert torch.isnan(tiny.model.forward_loss(images, pred, torch.zeros(2, 16)))
    one = torch.zeros(2, 16)
    one[:, 3] = 1.0
    assert torch.isfinite(tiny.model.forward_loss(images, pred, one))


def test_patchify_refuses_non_square_and_holds_on_square(tiny: om.TinyOfficialMAE) -> None:
    with pytest.raises(AssertionError):  # models_mae.py:101
        tiny.model.patchify(torch.randn(1, 3, 8, 12))
    with pytest.raises(AssertionError):  # a 2x3 grid is no square: models_mae.py:116
        tiny.model.unpatchify(torch.randn(1, 6, 48))
    for side in GRID_SIDE_VALUES:  # every grid side the contracts draw, square
        images = torch.randn(2, 3, 4 * side, 4 * side)
        patches = tiny.patchify(images, 4)
        assert torch.equal(tiny.unpatchify(patches, 4, (3, 4 * side, 4 * side)), images)
        assert torch.equal(torch.sort(patches, dim=-1).values,
                           torch.sort(cells(images, 4), dim=-1).values)


def test_in_chans_other_than_three_builds_but_cannot_run(checkout: str) -> None:
    # patchify hard-codes 3 channels (models_mae.py:104) though the constructor takes in_chans.
    grey = om.OfficialMAEAdapter(checkout, **{**om.TINY_KWARGS, "in_chans": 1})
    assert grey.model.decoder_pred.out_features == 4 * 4 * 1
    with pytest.raises(RuntimeError, match=r"shape '\[2, 3, 4, 4, 4, 4\]' is invalid"):
        grey.model(torch.randn(2, 1, 16, 16))


def test_mae_forward_is_the_models_forward(tiny: om.TinyOfficialMAE) -> None:
    # The model's forward drawing its own noise from the global RNG, against the adapter given
    # that same noise: bit for bit the same outputs (the noise stand-in changes nothing else).
    images = torch.randn(2, 3, 16, 16)
    with torch.random.fork_rng():
        torch.manual_seed(7)
        noise = torch.rand(2, 16)
        torch.manual_seed(7)
        loss, pred, mask = tiny.model(images, mask_ratio=0.75)
    out = tiny.mae_forward(images, noise, 0.75)
    assert torch.equal(out.loss, loss) and torch.equal(out.pred, pred)
    assert torch.equal(out.mask, mask)
    assert torch.equal(out.ids_restore, torch.argsort(torch.argsort(noise, dim=1), dim=1))
    assert out.latent.shape == (2, 1 + 4, 32)  # CLS and the 4 kept patches
    assert tiny.code.models_mae.torch is torch and "forward_encoder" not in vars(tiny.model)


def test_random_masking_is_the_models_on_the_generators_noise(tiny: om.TinyOfficialMAE
                                                              ) -> None:
    x = torch.randn(3, 16, 5)
    want = torch.rand((3, 16), generator=torch.Generator().manual_seed(4))
    with torch.random.fork_rng():
        torch.manual_seed(11)
        own_noise = torch.rand(3, 16)
        torch.manual_seed(11)
        own = tiny.model.random_masking(x, 0.6)
    got = tiny.random_masking(x, 0.6, torch.Generator().manual_seed(4))
    # The same method on other noise gives the other masking; on the generator's noise it is
    # the permutation that noise sorts to.
    assert torch.equal(got[2], torch.argsort(torch.argsort(want, dim=1), dim=1))
    assert torch.equal(own[2], torch.argsort(torch.argsort(own_noise, dim=1), dim=1))
    assert tiny.code.models_mae.torch is torch


def test_encode_keeps_exactly_the_visible_patches(tiny: om.TinyOfficialMAE) -> None:
    images = torch.randn(1, 3, 16, 16)
    mask = torch.ones(1, 16)
    mask[0, [2, 7, 11]] = 0.0
    out = tiny.encode(images, mask)
    assert out.shape == (1, 4, 32)
    rows = tiny.patchify(images, 4)
    hidden_changed = rows.clone()
    hidden_changed[0, 0] += 5.0
    assert torch.equal(tiny.encode(tiny.unpatchify(hidden_changed, 4, (3, 16, 16)), mask), out)
    visible_changed = rows.clone()
    visible_changed[0, 7] += 5.0
    assert not torch.equal(
        tiny.encode(tiny.unpatchify(visible_changed, 4, (3, 16, 16)), mask), out)
    with pytest.raises(ValueError, match="same number of patches in every sample"):
        tiny.encode(torch.randn(2, 3, 16, 16), torch.tensor([[1.0] + [0.0] * 15, [0.0] * 16]))


def test_fixed_tables_are_the_models_own_sincos(tiny: om.TinyOfficialMAE) -> None:
    tables = tiny.fixed_tensors(3)
    built = tiny.build(3)
    assert [t.name for t in tables] == ["pos_embed", "decoder_pos_embed"]
    assert torch.equal(tables[0].value, built.pos_embed[0])
    assert torch.equal(tables[1].value, built.decoder_pos_embed[0])
    assert not any(t.value.requires_grad for t in tables)
    assert all(float(t.value[0].abs().max()) == 0.0 for t in tables)  # the zero CLS row


def test_compat_shims_are_the_ones_this_environment_needs(tiny: om.TinyOfficialMAE) -> None:
    from timm.models.vision_transformer import Block

    wanted = []
    if "qk_scale" not in inspect.signature(Block.__init__).parameters:
        wanted.append("timm Block without qk_scale: qk_scale=None dropped")
    if not hasattr(numpy, "float"):
        wanted.append("numpy >= 1.24 without np.float: the builtin float")
    assert list(tiny.compat_shims) == wanted
    # Block's attention scale is the default one qk_scale=None meant in timm 0.3.2.
    attn = tiny.model.blocks[0].attn
    assert attn.scale == (32 // 2) ** -0.5
