"""The model contracts (the implementation's own forward) and the mask-source contracts: each
holds on the reference and catches the zoo card written for it.

Runtime (2 cores): about 20 s.
"""

from __future__ import annotations

import math

import pytest
import torch

from maskproof.bridge.audit import contracts_model as cm
from maskproof.bridge.audit.catalogue import BY_ID
from maskproof.bridge.audit.contracts_masking import (
    COLLISION_LIMIT,
    DISTINCT_TOKENS,
    RATIOS,
    collision_bound,
    expected_masked,
)
from maskproof.bridge.audit.protocols import (
    KEEP_COUNT_CONVENTIONS,
    MAEModelCapability,
    capabilities_of,
)
from maskproof.bridge.audit.reference import ReferenceAdapter
from maskproof.bridge.audit.runner import FAILS, HOLDS, NOT_APPLICABLE, audit, load_target
from maskproof.bridge.zoo import broken_model
from maskproof.bridge.zoo.cards import BY_NAME

EXAMPLES = 10

NEW_CONTRACTS = sorted(cid for cid in BY_ID if cid.startswith("model.")) + [
    "masking.generator_decides", "masking.samples_differ", "masking.ratio_zero",
    "masking.empty_mask_loss_zero"]

#: The zoo card written for each new contract.
CAUGHT = {
    "model.loss_of_own_prediction": "cls_slice_off_by_one",
    "model.masked_rows_follow_position": "decoder_without_positions",
    "model.shuffle_order_invariant": "no_unshuffle",
    "model.every_parameter_gets_gradient": "mask_token_unused",
    "model.encoder_position_sensitive": "encoder_without_positions",
    "masking.generator_decides": "global_rng_masking",
    "masking.samples_differ": "one_noise_per_batch",
    "masking.ratio_zero": "ratio_ignored",
    "masking.empty_mask_loss_zero": "unclamped_mask_mean",
}


def test_reference_holds_every_new_contract() -> None:
    result = audit(ReferenceAdapter(), "reference", EXAMPLES, 0, NEW_CONTRACTS)
    verdicts = {r.contract.id: (r.status, r.detail) for r in result.results}
    assert set(verdicts) == set(NEW_CONTRACTS)
    assert all(status == HOLDS for status, _ in verdicts.values()), verdicts


@pytest.mark.parametrize(("contract", "card"), sorted(CAUGHT.items()))
def test_contract_catches_its_card(contract: str, card: str) -> None:
    assert BY_NAME[card].caught_by == contract or contract in BY_NAME[card].also_caught_by
    (result,) = audit(BY_NAME[card].adapter(), card, EXAMPLES, 0, [contract]).results
    assert result.status == FAILS, result.detail
    assert result.counterexample, "the report must carry the shrunk input"


def test_pos_added_twice_is_caught_by_the_shuffle_order() -> None:
    card = BY_NAME["pos_added_twice"]
    (result,) = audit(card.adapter(), card.name, EXAMPLES, 0, [card.caught_by]).results
    assert card.caught_by == "model.shuffle_order_invariant"
    assert result.status == FAILS and "slot in the shuffle" in result.detail, result.detail


def test_mask_matches_noise_catches_a_forward_that_ignores_the_noise() -> None:
    class FreshNoise(ReferenceAdapter):
        def mae_forward(self, images: torch.Tensor, noise: torch.Tensor,
                        mask_ratio: float) -> cm.MAEForward:
            return super().mae_forward(images, torch.rand(noise.shape), mask_ratio)

    (result,) = audit(FreshNoise(), "fresh", EXAMPLES, 0, ["model.mask_matches_noise"]).results
    assert result.status == FAILS and "largest-noise patches" in result.detail, result.detail


def test_the_decoder_switches_all_on_are_the_reference_decoder() -> None:
    model = ReferenceAdapter().mae
    images = torch.randn(2, *ReferenceAdapter.model_image_shape)
    noise = cm.distinct_noise(2, 12, 0)
    latent, _, ids_restore = model.forward_encoder_from_noise(images, 4, noise)
    assert torch.equal(broken_model.decode(model.decoder, latent, ids_restore),
                       model.decoder(latent, ids_restore))


def test_reference_mae_forward_is_the_models_forward() -> None:
    adapter = ReferenceAdapter()
    assert "MAEModelCapability" in capabilities_of(adapter)
    images = torch.randn(3, *adapter.model_image_shape)
    noise = cm.distinct_noise(3, 12, 1)
    out = adapter.mae_forward(images, noise, 0.75)
    want = adapter.mae.forward_from_noise(images, 3, noise)
    assert torch.equal(out.loss, want.loss) and torch.equal(out.pred, want.pred)
    assert torch.equal(out.mask, want.mask_removed)
    assert torch.equal(out.ids_restore, want.ids_restore)
    assert out.latent.shape == (3, 1 + 3, adapter.mae.cfg.embed_dim)


def test_perturbed_copy_moves_trainable_parameters_only() -> None:
    adapter = ReferenceAdapter()
    before = {k: v.clone() for k, v in adapter.mae.state_dict().items()}
    twin = cm.perturbed_copy(adapter, 3)
    assert isinstance(twin, MAEModelCapability) and twin.module is not adapter.module
    after = adapter.mae.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the original is untouched
    moved = twin.module.state_dict()
    trainable = {name for name, p in adapter.mae.named_parameters() if p.requires_grad}
    assert trainable and all(not torch.equal(moved[k], before[k]) for k in trainable)
    frozen = set(before) - trainable
    assert {"encoder.pos_embed", "decoder.pos_embed"} <= frozen
    assert all(torch.equal(moved[k], before[k]) for k in frozen)


def test_reordered_noise_keeps_the_kept_set_and_changes_the_order() -> None:
    noise = cm.distinct_noise(4, 12, 5)
    other = cm.reordered_noise(noise, 5)
    rank, rank2 = (torch.argsort(torch.argsort(n, dim=1), dim=1) for n in (noise, other))
    assert torch.equal(rank < 5, rank2 < 5)
    assert bool((rank != rank2).all())


def test_collision_bound_is_negligible_on_every_drawn_grid() -> None:
    # masking.samples_differ draws 2..4 samples on these grids; a correct masking must fail it
    # with probability at most COLLISION_LIMIT per example.
    worst = max(collision_bound(batch, tokens, expected_masked(tokens, ratio, convention))
                for batch in range(2, 5) for tokens in DISTINCT_TOKENS for ratio in RATIOS
                for convention in KEEP_COUNT_CONVENTIONS)
    assert worst <= COLLISION_LIMIT
    assert worst == 6 / math.comb(64, 6)  # 4 samples, r = 0.9 on 64 tokens: 58 masked, 6 kept


def test_worked_example_lacks_the_model_capability() -> None:
    adapter = load_target("maskproof.examples.third_party_adapter:Adapter")
    result = audit(adapter, "example", 3, 0, [c for c in NEW_CONTRACTS if c.startswith("model.")])
    assert {r.status for r in result.results} == {NOT_APPLICABLE}
    assert all("MAEModelCapability" in r.detail for r in result.results)


def test_empty_mask_loss_finds_the_worked_examples_0_over_0() -> None:
    # The worked example divides by mask.sum(), as the official MAE code does: NaN at ratio 0.
    adapter = load_target("maskproof.examples.third_party_adapter:Adapter")
    (result,) = audit(adapter, "example", EXAMPLES, 0, ["masking.empty_mask_loss_zero"]).results
    assert result.status == FAILS and "is nan" in result.detail, result.detail
