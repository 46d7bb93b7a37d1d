"""The I-JEPA forward contracts (``bridge.audit.contracts_jepa_model``): each holds on the
reference, perturbed or not, honours its optional declarations and catches the zoo card written
for it.

Runtime (2 cores): about 20 s.
"""

from __future__ import annotations

from typing import TypeVar, cast

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from maskproof.bridge.audit import contracts_jepa_model as cj
from maskproof.bridge.audit.catalogue import BY_ID, CATALOGUE
from maskproof.bridge.audit.contract import Draws
from maskproof.bridge.audit.protocols import JEPAForward
from maskproof.bridge.audit.reference import ReferenceAdapter, ReferenceJEPATrainer, padded_masks
from maskproof.bridge.audit.runner import FAILS, HOLDS, NOT_APPLICABLE, ContractResult, audit
from maskproof.bridge.zoo import broken_jepa as J
from maskproof.bridge.zoo.cards import BY_NAME

EXAMPLES = 10
T = TypeVar("T")

NEW_CONTRACTS = [c.id for c in cj.CONTRACTS]
#: The forward contracts, which draw ``perturbed``.
FORWARD_CONTRACTS = NEW_CONTRACTS[:4]

#: The zoo card written for each new contract.
CAUGHT = {
    "predictor_without_target_positions": "jepa.pred_follows_target_position",
    "target_rows_reversed": "jepa.target_is_target_encoder_at_position",
    "context_sees_targets": "jepa.context_only_reaches_pred",
    "targets_not_layer_normed": "jepa.target_is_target_encoder_at_position",
    "padding_attended": "jepa.padding_never_counts",
    "one_block_size_per_batch": "jepa.blocks_vary_per_sample",
}


def run(adapter: object, contract: str, examples: int = EXAMPLES) -> ContractResult:
    (result,) = audit(adapter, "jepa-model", examples, 0, [contract]).results
    return result


def test_registered_after_the_jepa_contracts() -> None:
    ids = [c.id for c in CATALOGUE]
    assert NEW_CONTRACTS == [
        "jepa.pred_follows_target_position", "jepa.context_only_reaches_pred",
        "jepa.target_is_target_encoder_at_position", "jepa.padding_never_counts",
        "jepa.blocks_vary_per_sample"]
    start = 1 + next(k for k, cid in enumerate(ids) if cid == "jepa.teacher_full_view")
    assert ids[start: start + len(NEW_CONTRACTS)] == NEW_CONTRACTS


def test_reference_holds_every_new_contract() -> None:
    result = audit(ReferenceAdapter(), "reference", EXAMPLES, 0, NEW_CONTRACTS)
    verdicts = {r.contract.id: (r.status, r.detail) for r in result.results}
    assert verdicts == {cid: (HOLDS, "") for cid in NEW_CONTRACTS}


class Forced(Draws):
    """Draws with some names fixed (the rest from Hypothesis)."""

    def __init__(self, data: st.DataObject, forced: dict[str, object]) -> None:
        super().__init__(data)
        self.forced = forced

    def draw(self, name: str, strategy: st.SearchStrategy[T]) -> T:
        if name not in self.forced:
            return super().draw(name, strategy)
        fixed = self.forced[name]
        self.values[name] = fixed
        return cast(T, fixed)


@pytest.mark.parametrize("perturbed", [False, True])
@pytest.mark.parametrize("contract", FORWARD_CONTRACTS)
def test_reference_holds_perturbed_or_not(contract: str, perturbed: bool) -> None:
    adapter = ReferenceAdapter()

    @settings(max_examples=4, deadline=None, database=None)
    @given(st.data())
    def body(data: st.DataObject) -> None:
        draws = Forced(data, {"perturbed": perturbed})
        BY_ID[contract].check(adapter, draws)  # raises Violation on a counterexample
        assert draws.values["perturbed"] is perturbed

    body()


def test_perturb_moves_trainable_and_ema_parameters_only() -> None:
    trainer = ReferenceJEPATrainer(0)
    before = {f"{prefix}.{n}": t.clone() for prefix, module in (
        ("context", trainer.context_encoder), ("predictor", trainer.predictor),
        ("target", trainer.target_encoder)) for n, t in module.state_dict().items()}
    cj.perturb(trainer, 3)
    after = {f"{prefix}.{n}": t for prefix, module in (
        ("context", trainer.context_encoder), ("predictor", trainer.predictor),
        ("target", trainer.target_encoder)) for n, t in module.state_dict().items()}
    moved = {name for name in before if not torch.equal(before[name], after[name])}
    buffers = {name for name in before if name.endswith("pos_embed")}
    assert buffers and not moved & buffers  # the sin-cos tables keep their values
    assert moved == set(before) - buffers
    # The target encoder got noise of its own: it no longer equals the context encoder.
    context = dict(trainer.context_encoder.named_parameters())
    assert any(not torch.equal(p, context[n]) for n, p in trainer.target_encoder.named_parameters())


@pytest.mark.parametrize(("card", "contract"), sorted(CAUGHT.items()))
def test_contract_catches_its_card(card: str, contract: str) -> None:
    assert BY_NAME[card].caught_by == contract
    result = run(BY_NAME[card].adapter(), contract)
    assert result.status == FAILS, result.detail
    assert result.counterexample, "the report must carry the shrunk input"


def test_row_order_failure_says_the_rows_are_out_of_order() -> None:
    result = run(J.TargetRowsReversed(), "jepa.target_is_target_encoder_at_position")
    assert result.status == FAILS and "rows out of order" in result.detail, result.detail


def test_declared_raw_targets_hold() -> None:
    class DeclaredRaw(J.TargetsNotLayerNormed):
        target_layer_norm = False

    assert run(DeclaredRaw(), "jepa.target_is_target_encoder_at_position").status == HOLDS
    # The reference declaring raw targets is then wrong about its own layer norm.
    class WronglyDeclared(ReferenceAdapter):
        target_layer_norm = False

    result = run(WronglyDeclared(), "jepa.target_is_target_encoder_at_position")
    assert result.status == FAILS and "target_layer_norm = False" in result.detail, result.detail


class WithCLS(nn.Module):
    """The target encoder with a CLS-like row (the mean of the patch rows) in front."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, images: Tensor) -> Tensor:
        feats: Tensor = self.inner(images)
        return torch.cat([feats.mean(dim=1, keepdim=True), feats], dim=1)


class CLSTrainer(ReferenceJEPATrainer):
    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.target_encoder = WithCLS(self.model.target_encoder)


@pytest.mark.parametrize(("prefix", "status"), [(1, HOLDS), (None, FAILS)])
def test_declared_prefix_tokens_are_dropped(prefix: int | None, status: str) -> None:
    class Adapter(ReferenceAdapter):
        trainer_class = CLSTrainer

    adapter = Adapter()
    if prefix is not None:
        adapter.target_prefix_tokens = prefix  # type: ignore[attr-defined]
    result = run(adapter, "jepa.target_is_target_encoder_at_position")
    assert result.status == status, result.detail
    if status == FAILS:
        assert "[B, target_prefix_tokens + N, D]" in result.detail, result.detail


class TruncatingTrainer(ReferenceJEPATrainer):
    """The official collator's behaviour: every list cut to the batch minimum."""

    def forward(self, images: Tensor, context: list[list[int]],
                targets: list[list[list[int]]]) -> JEPAForward:
        contexts, cut = cj._truncated(context, targets)
        out = self.model(images, padded_masks(contexts, cut))
        return JEPAForward(out.loss, out.pred, out.target)


class DeclaredTruncatingTrainer(TruncatingTrainer):
    truncates_to_batch_min = True


@pytest.mark.parametrize(("trainer", "status"), [(DeclaredTruncatingTrainer, HOLDS),
                                                 (TruncatingTrainer, FAILS)])
def test_truncation_holds_only_when_declared(trainer: type[ReferenceJEPATrainer],
                                             status: str) -> None:
    class Adapter(ReferenceAdapter):
        trainer_class = trainer

    result = run(Adapter(), "jepa.padding_never_counts")
    assert result.status == status, result.detail
    if status == FAILS:
        assert "without declaring truncates_to_batch_min = True" in result.detail, result.detail
        assert "% of the context tokens" in result.detail, result.detail


def test_declared_truncation_that_pads_instead_fails() -> None:
    class Adapter(ReferenceAdapter):
        truncates_to_batch_min = True

    result = run(Adapter(), "jepa.padding_never_counts")
    assert result.status == FAILS and "declared truncation" in result.detail, result.detail


def test_bad_declaration_is_named_on_one_line() -> None:
    class Adapter(ReferenceAdapter):
        truncates_to_batch_min = "yes"

    result = run(Adapter(), "jepa.padding_never_counts")
    assert result.status == FAILS, result.detail
    assert result.detail == "truncates_to_batch_min must be a bool, got 'yes'"


def test_per_batch_block_size_declared_holds_but_identical_blocks_fail() -> None:
    class Declared(J.OneBlockSizePerBatch):
        per_batch_block_size = True

    assert run(Declared(), "jepa.blocks_vary_per_sample").status == HOLDS

    class SameBlocks(Declared):
        def sample_jepa_masks(self, batch_size: int, generator: torch.Generator
                              ) -> tuple[list[list[int]], list[list[list[int]]]]:
            contexts, targets = super().sample_jepa_masks(1, generator)
            return contexts * batch_size, targets * batch_size

    result = run(SameBlocks(), "jepa.blocks_vary_per_sample")
    assert result.status == FAILS and "positions are drawn once per batch" in result.detail


def test_without_jepa_capabilities_the_new_contracts_do_not_apply() -> None:
    class PatchesOnly:
        def patchify(self, images: Tensor, patch_size: int) -> Tensor:
            return ReferenceAdapter().patchify(images, patch_size)

        def unpatchify(self, patches: Tensor, patch_size: int,
                       image_shape: tuple[int, int, int]) -> Tensor:
            return ReferenceAdapter().unpatchify(patches, patch_size, image_shape)

    result = audit(PatchesOnly(), "patches-only", EXAMPLES, 0, NEW_CONTRACTS)
    assert {r.contract.id: r.status for r in result.results} == {
        cid: NOT_APPLICABLE for cid in NEW_CONTRACTS}
