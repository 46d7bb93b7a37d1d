"""``NN.API.Models.SelfSupervised`` mirrors reject non-Lean inputs, naming the Lean binder.

Users and the conformance vectors read these one-line messages, so each is compared in full: the
Lean declaration, the binder (the Lean field or proof-argument name) and what it expects.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from maskproof.spec.errors import LeanContractError
from maskproof.spec.models import (
    VectorGenerativeConfig,
    VitConfig,
    VitMaeConfig,
    config_tensor_prefix_mae_sample,
    config_vector_mae_hidden_mask,
    config_vector_mae_mask,
    config_vector_mae_sample,
    vector_masked_autoencoder,
    vit_mae_in_shape,
    vit_mae_out_shape,
    vit_masked_autoencoder,
)

VIT_FIELDS = dict(batch=2, in_c=3, in_h=8, in_w=12, patch_h=4, patch_w=4, stride=4, d_model=16,
                  num_heads=2, head_dim=8, ffn_hidden=32)
X = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def message(call: Callable[[], object]) -> str:
    with pytest.raises(LeanContractError) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize(("declaration", "call"), [
    ("nn.models.vectorMaeHiddenMask", lambda cfg: config_vector_mae_hidden_mask(cfg, 2, 1)),
    ("nn.models.vectorMaeMask", lambda cfg: config_vector_mae_mask(cfg, 2, 1, X)),
    ("nn.models.vectorMaeSample", lambda cfg: config_vector_mae_sample(cfg, 2, 1, X)),
    ("nn.models.tensorPrefixMaeSample",
     lambda cfg: config_tensor_prefix_mae_sample(cfg, (3,), 2, 1, X)),
    ("vectorMaskedAutoencoder", vector_masked_autoencoder),
])
def test_vector_config_functions_name_their_declaration(
        declaration: str, call: Callable[[object], object]) -> None:
    assert message(lambda: call((2, 3))) == (
        f"{declaration}: binder `cfg` expects a VectorGenerativeConfig, got (2, 3)")


@pytest.mark.parametrize(("declaration", "call"), [
    ("vitMaeInShape", vit_mae_in_shape), ("vitMaeOutShape", vit_mae_out_shape),
    ("vitMaskedAutoencoder", vit_masked_autoencoder),
])
def test_vit_config_functions_name_their_declaration(
        declaration: str, call: Callable[[object], object]) -> None:
    not_a_config = VectorGenerativeConfig(batch=2, data_dim=3, hidden_dim=2, latent_dim=1)
    assert message(lambda: call(not_a_config)) == (
        f"{declaration}: binder `cfg` expects a VitMaeConfig, got {not_a_config!r}")


@pytest.mark.parametrize(("overrides", "binder", "statement"), [
    ({"in_c": 0}, "h_inC", "cfg.inC ≠ 0"), ({"patch_h": 0}, "h_patchH", "cfg.patchH ≠ 0"),
    ({"patch_w": 0}, "h_patchW", "cfg.patchW ≠ 0"), ({"d_model": 0}, "h_dModel", "cfg.dModel ≠ 0"),
])
def test_a_missing_proof_argument_names_its_lean_hypothesis(
        overrides: dict[str, int], binder: str, statement: str) -> None:
    cfg = VitMaeConfig(**{**VIT_FIELDS, "recon_dim": 20, **overrides})
    assert message(lambda: vit_masked_autoencoder(cfg)) == (
        f"vitMaskedAutoencoder: binder `{binder}` expects a proof of `{statement}`, got 0")


@pytest.mark.parametrize(("field", "lean_field"), [
    ("batch", "batch"), ("stride", "stride"), ("padding", "padding"), ("in_h", "inH"),
    ("recon_dim", "reconDim"),
])
def test_vit_mae_config_fields_are_named_as_in_lean(field: str, lean_field: str) -> None:
    # Fields whose Lean name is the Python name (batch, stride, padding) keep it in the message.
    assert message(lambda: VitMaeConfig(**{**VIT_FIELDS, "recon_dim": 20, field: -1})) == (
        f"VitMaeConfig: binder `{lean_field}` expects a Nat (an int >= 0), got -1")


@pytest.mark.parametrize(("field", "lean_field"), [("stride", "stride"), ("out_dim", "outDim")])
def test_vit_config_fields_are_named_as_in_lean(field: str, lean_field: str) -> None:
    assert message(lambda: VitConfig(**{**VIT_FIELDS, "out_dim": 20, field: -2})) == (
        f"VitConfig: binder `{lean_field}` expects a Nat (an int >= 0), got -2")


def test_vector_generative_config_fields_are_named_as_in_lean() -> None:
    assert message(lambda: VectorGenerativeConfig(batch=-1, data_dim=3, hidden_dim=2,
                                                  latent_dim=1)) == (
        "VectorGenerativeConfig: binder `batch` expects a Nat (an int >= 0), got -1")
