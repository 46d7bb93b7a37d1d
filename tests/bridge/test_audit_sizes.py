"""The audit's drawn sizes reach real ViT configurations, still shrink to the smallest failing
one, and a failure reports every clause its example violates.

Runtime (2 cores): about 15 s; the keep-count shrink runs dominate.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any, cast

import jsonschema
import pytest
import torch
from hypothesis import strategies as st
from torch import Tensor

from maskproof.bridge.audit.catalogue import BY_ID
from maskproof.bridge.audit.contract import Clauses, Draws, Violation, require
from maskproof.bridge.audit.contracts_masking import RATIOS, check_keep_count, check_roundtrip
from maskproof.bridge.audit.protocols import Constant, FixedTensor
from maskproof.bridge.audit.reference import ReferenceAdapter
from maskproof.bridge.audit.report import to_json, to_markdown
from maskproof.bridge.audit.runner import FAILS, HOLDS, AuditResult, ContractResult, audit
from maskproof.bridge.audit.sizes import (
    BATCH_SIZES,
    GRID_SIDE_VALUES,
    TOKEN_COUNTS,
    counts_up_to,
)
from maskproof.bridge.zoo import broken_mae as M
from maskproof.examples.third_party_adapter import Adapter as WorkedExample

README = Path(__file__).resolve().parents[2] / "README.md"


def float_keep_miscounts(tokens: int, ratio: str) -> bool:
    """Whether ``int(N * (1 - r))`` in binary floats differs from the exact ``floor(N(1-r))``."""
    return int(tokens * (1 - float(ratio))) != math.floor(tokens * (1 - Fraction(ratio)))


def smallest_float_keep_failure() -> tuple[int, str]:
    """The true minimum under the draw's order: the first listed count any ratio miscounts, and
    the first ratio (the order the contract checks them in) that miscounts it."""
    for tokens in TOKEN_COUNTS:
        for ratio in RATIOS:
            if float_keep_miscounts(tokens, ratio):
                return tokens, ratio
    raise AssertionError("no listed count is miscounted")


def keep_count(adapter: object, seed: int, examples: int = 40) -> ContractResult:
    (result,) = audit(adapter, "sizes", examples, seed, ["masking.keep_count"]).results
    return result


# --- 2. shrinking to the minimum -------------------------------------------------------------


def test_the_true_minimum_is_five_tokens_not_twenty_five() -> None:
    tokens, ratio = smallest_float_keep_failure()
    # int(5 * 0.19999999999999996) == int(0.9999999999999998) == 0 where r = 0.8 means keep 1.
    assert (tokens, ratio) == (5, "0.8") and int(5 * (1 - 0.8)) == 0
    # The failing counts are sparse (multiples of 5 here): from 25, integer shrinking tries 24
    # and 12, neither fails, and it stops. The contract checks every count up to the drawn one.
    assert float_keep_miscounts(25, "0.8") and not float_keep_miscounts(24, "0.8")
    assert not any(float_keep_miscounts(12, r) for r in RATIOS)
    assert counts_up_to(25) == tuple(range(1, 26))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("adapter", [WorkedExample, M.FloatKeepCount],
                         ids=["worked_example", "zoo_float_keep_count"])
def test_keep_count_shrinks_to_the_smallest_failing_count(adapter: type, seed: int) -> None:
    result = keep_count(adapter(), seed)
    tokens, ratio = smallest_float_keep_failure()
    assert result.status == FAILS
    assert result.counterexample == {"batch": 1, "tokens": tokens, "seed": 0}
    keep = int(tokens * (1 - float(ratio)))
    want = tokens - math.floor(tokens * (1 - Fraction(ratio)))
    assert result.clauses[0].startswith(
        f"N={tokens}, r={ratio}: masked counts per sample [{tokens - keep}], expected {want} ")
    # Both clauses of that ratio: the count and the shape of x_kept that follows from it.
    assert result.clauses[1] == (f"N={tokens}, r={ratio}: x_kept has shape [1, {keep}, 3], "
                                 f"expected [1, {tokens - want}, 3]")
    assert result.detail == "; ".join(result.clauses)


def test_readme_worked_example_names_the_shrunk_counterexample() -> None:
    result = keep_count(WorkedExample(), 0)
    first = result.clauses[0].split(" (= ")[0]
    assert f"`masking.keep_count`, shrunk to `{first}`" in " ".join(README.read_text().split())


# --- 1. real sizes ---------------------------------------------------------------------------


class FixedData:
    """A stand-in for Hypothesis's data object that returns chosen values by label."""

    def __init__(self, values: dict[str, object]) -> None:
        self.values = values

    def draw(self, strategy: st.SearchStrategy[Any], label: str) -> object:
        return self.values[label]


def fixed_draws(**values: object) -> Draws:
    return Draws(cast(st.DataObject, FixedData(values)))


class Recording(ReferenceAdapter):
    """The reference, remembering the shapes the contracts hand it."""

    def __init__(self) -> None:
        super().__init__()
        self.masked: list[tuple[int, ...]] = []
        self.patched: list[tuple[int, ...]] = []

    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        self.masked.append(tuple(x.shape))
        return super().random_masking(x, mask_ratio, generator)

    def patchify(self, images: Tensor, patch_size: int) -> Tensor:
        self.patched.append((*images.shape, patch_size))
        return super().patchify(images, patch_size)


def test_size_lists_reach_real_vit_configurations() -> None:
    for values in (TOKEN_COUNTS, BATCH_SIZES, GRID_SIDE_VALUES):
        assert list(values) == sorted(set(values)), values  # smallest first: shrinks down
    assert {196, 256} <= set(TOKEN_COUNTS) and {14, 16} <= set(GRID_SIDE_VALUES)
    assert max(BATCH_SIZES) > 4


def test_drawn_sizes_reach_vit_grids_in_a_default_audit() -> None:
    adapter = Recording()
    results = audit(adapter, "sizes", 40, 0, ["masking.keep_count", "patchify.roundtrip"]).results
    assert [r.status for r in results] == [HOLDS, HOLDS], [r.detail for r in results]
    assert max(tokens for _, tokens, _ in adapter.masked) >= 196
    grids = {(h // p, w // p) for _, _, h, w, p in adapter.patched}
    assert any(h != w for h, w in grids), grids
    assert any(min(h, w) >= 14 for h, w in grids), grids


@pytest.mark.parametrize(("batch", "tokens"), [(4, 196), (8, 256), (8, 576)])
def test_keep_count_runs_at_real_sizes(batch: int, tokens: int) -> None:
    adapter = Recording()
    check_keep_count(adapter, fixed_draws(batch=batch, tokens=tokens, seed=3))
    assert adapter.masked[-1] == (batch, tokens, 3)
    with pytest.raises(Violation, match=r"^N=5, r=0\.8: "):  # the smallest count fails first
        check_keep_count(M.FloatKeepCount(), fixed_draws(batch=batch, tokens=tokens, seed=3))


def test_patchify_runs_on_a_non_square_vit_grid() -> None:
    adapter = Recording()
    check_roundtrip(adapter, fixed_draws(channels=3, patch=16, grid_h=14, grid_w=16, batch=2,
                                         seed=0))
    assert adapter.patched == [(2, 3, 224, 256, 16)]


# --- 3. every violated clause ----------------------------------------------------------------


def test_clauses_collects_every_violated_clause() -> None:
    with pytest.raises(Violation) as caught, Clauses() as clauses:
        assert clauses.require(True, "holds")
        assert not clauses.require(False, "first")
        with clauses.clause():
            require(False, "second")  # a check that raises: recorded, and the block goes on
        clauses.require(False, "third")
    assert caught.value.clauses == ("first", "second", "third")
    assert str(caught.value) == "first; second; third"


def test_a_violation_that_ends_the_block_comes_after_the_collected_ones() -> None:
    with pytest.raises(Violation) as caught, Clauses() as clauses:
        clauses.require(False, "collected")
        require(False, "shape is wrong, nothing after it can be checked")
        clauses.require(False, "never reached")
    assert caught.value.clauses == ("collected", "shape is wrong, nothing after it can be checked")


def test_no_violated_clause_raises_nothing_and_other_errors_pass_through() -> None:
    with Clauses() as clauses:
        clauses.require(True, "holds")
    assert clauses.violated == []
    with pytest.raises(KeyError), Clauses() as clauses:
        clauses.require(False, "collected")
        raise KeyError("adapter bug")
    with pytest.raises(ValueError, match="at least one violated clause"):
        Violation()


class TwoWrongTables(ReferenceAdapter):
    """Two fixed tensors, both off their documented zeros."""

    def fixed_tensors(self, seed: int) -> list[FixedTensor]:
        return [FixedTensor("first_token", torch.ones(2, 3), Constant(0.0)),
                FixedTensor("second_token", torch.full((4,), 2.0), Constant(0.0))]


def test_a_failure_reports_every_clause_in_markdown_and_json() -> None:
    result = audit(TwoWrongTables(), "two-tables", 5, 0, ["fixed.documented_values"])
    (entry,) = result.results
    assert entry.status == FAILS
    assert [c.split("[")[0] for c in entry.clauses] == ["first_token", "second_token"]
    assert entry.detail == "; ".join(entry.clauses)
    assert f"- what failed: 2 clauses: {entry.detail}" in to_markdown(result)
    document = json.loads(json.dumps(to_json(result)))
    (written,) = document["contracts"]
    assert written["clauses"] == list(entry.clauses) and written["detail"] == entry.detail
    schema = json.loads(resources.files("maskproof.bridge.audit")
                        .joinpath("audit.schema.json").read_text("utf-8"))
    jsonschema.validate(document, schema)
    for broken in ({k: v for k, v in written.items() if k != "clauses"},
                   dict(written, clauses=[])):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(dict(document, contracts=[broken]), schema)


def test_holding_contracts_carry_no_clauses_in_json() -> None:
    result = AuditResult("t", [], [ContractResult(BY_ID["masking.keep_count"], HOLDS)], 1, 0)
    (written,) = to_json(result)["contracts"]  # type: ignore[misc]
    assert "clauses" not in written
