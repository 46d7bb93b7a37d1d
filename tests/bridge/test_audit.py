"""maskproof audit: the reference passes every contract, the report and the CLI behave.

Runtime (2 cores): about 15 s; the worked example and the reference audit dominate.
"""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from maskproof.bridge.audit.catalogue import BY_ID, CATALOGUE
from maskproof.bridge.audit.reference import ReferenceAdapter
from maskproof.bridge.audit.report import write_report
from maskproof.bridge.audit.runner import FAILS, HOLDS, NOT_APPLICABLE, audit, load_target
from maskproof.bridge.cli import main

#: Examples per contract in the tests (the CLI's default is 40).
EXAMPLES = 10


@pytest.fixture(scope="module")
def reference_audit() -> object:
    return audit(ReferenceAdapter(), "reference", EXAMPLES, seed=0)


def test_reference_passes_every_contract(reference_audit: object) -> None:
    results = reference_audit.results  # type: ignore[attr-defined]
    assert [r.contract.id for r in results] == [c.id for c in CATALOGUE]
    verdicts = {r.contract.id: (r.status, r.detail) for r in results}
    assert all(status == HOLDS for status, _ in verdicts.values()), verdicts


def test_catalogue_ties_every_contract_to_a_source_and_family() -> None:
    assert len(BY_ID) == len(CATALOGUE) >= 20
    for contract in CATALOGUE:
        assert contract.source and contract.family and contract.needs, contract.id


def test_worked_example_runs_and_reports_its_float_keep_count() -> None:
    adapter = load_target("maskproof.examples.third_party_adapter:Adapter")
    result = audit(adapter, "example", EXAMPLES, seed=0)
    status = {r.contract.id: r for r in result.results}
    # The example keeps int(N * (1 - r)) tokens in binary floating point, as the official MAE
    # code does: for r = 0.8 on 15 tokens that keeps 2 (13 masked) where the ratio means 3.
    failing = {cid for cid, r in status.items() if r.status == FAILS}
    # Its forward_loss divides by mask.sum() as the official code does: 0/0 = NaN for an empty
    # mask (mask ratio 0), where the spec's maskedLoss of no patches is 0.
    assert failing == {"masking.keep_count", "masking.empty_mask_loss_zero"}
    keep = status["masking.keep_count"]
    tokens = keep.counterexample["tokens"]
    assert isinstance(tokens, int)
    match = re.search(r"r=([0-9.]+)", keep.detail)
    assert match is not None, keep.detail
    ratio = match.group(1)
    assert int(tokens * (1 - float(ratio))) == math.floor(tokens * (1 - Fraction(ratio))) - 1
    assert status["jepa.ema_law"].status == NOT_APPLICABLE
    assert status["loss.equals_spec"].status == HOLDS
    assert status["fixed.documented_values"].status == HOLDS
    # The example exposes no MAEModelCapability: its model contracts do not apply.
    assert status["model.loss_of_own_prediction"].status == NOT_APPLICABLE
    # Nor any JEPA capability: the I-JEPA forward contracts do not apply either.
    assert {status[cid].status for cid in BY_ID if cid.startswith("jepa.")} == {NOT_APPLICABLE}


class VectorOnly:
    def vector_mae_mask(self, x: torch.Tensor, period: int, offset: int) -> torch.Tensor:
        return ReferenceAdapter.vector_mae_mask(None, x, period, offset)  # type: ignore[arg-type]


def test_missing_capabilities_are_not_applicable_never_holds() -> None:
    result = audit(VectorOnly(), "vector-only", EXAMPLES, seed=0)
    status = {r.contract.id: r.status for r in result.results}
    assert status.pop("lean.vector_mae_mask") == HOLDS
    assert set(status.values()) == {NOT_APPLICABLE}


def test_failure_is_shrunk_to_a_minimal_counterexample() -> None:
    adapter = load_target("maskproof.bridge.zoo.broken_lean:OffsetWithoutModulo")
    (result,) = audit(adapter, "card", EXAMPLES, 0, ["lean.vector_mae_mask"]).results
    assert result.status == FAILS
    # The smallest failing case: one coordinate, period 1, offset 1 (1 % 1 = 0 hides it).
    assert result.counterexample == {"batch": 1, "data_dim": 1, "period": 1, "offset": 1,
                                     "seed": 0}
    assert result.size == 1


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(("target", "needle"), [
    ("no_such_module_xyz:Adapter", "cannot import module 'no_such_module_xyz'"),
    ("maskproof.bridge.audit.reference:NoSuchAdapter", "has no attribute 'NoSuchAdapter'"),
    ("json:dumps", "is not an adapter"),
    ("maskproof.bridge.audit.reference", "must be module:object"),
])
def test_bad_target_is_one_line_and_exit_2(target: str, needle: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", target, "--out", str(tmp_path)]) == 2
    assert needle in _error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = "maskproof.bridge.audit.reference:ReferenceAdapter"
    assert main(["audit", target, "--examples", "0"]) == 2
    assert "--examples must be a positive integer, got 0" in _error_line(capsys)
    assert main(["audit", target, "--contract", "no.such"]) == 2
    assert "unknown contract id(s) ['no.such']" in _error_line(capsys)
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    assert main(["audit", target, "--out", str(blocker)]) == 2
    assert "exists and is not a directory" in _error_line(capsys)
    assert blocker.read_text() == "keep me"


def test_cli_writes_both_reports_and_exits_0(tmp_path: Path) -> None:
    code = main(["audit", "maskproof.bridge.audit.reference:ReferenceAdapter",
                 "--out", str(tmp_path), "--examples", "5", "--contract", "lean.block_mask"])
    assert code == 0
    report = json.loads((tmp_path / "audit.json").read_text())
    assert report["format"] == "maskproof-audit" and report["version"] == 2
    assert report["counts"] == {"holds": 1, "fails": 0, "did not terminate": 0,
                                "not applicable": 0}
    assert "`lean.block_mask`" in (tmp_path / "audit.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json", "audit.md"]


def test_cli_exits_1_and_reports_the_counterexample(tmp_path: Path) -> None:
    code = main(["audit", "maskproof.bridge.zoo.broken_mae:InvertedPolarity",
                 "--out", str(tmp_path), "--examples", "5", "--contract", "loss.equals_spec"])
    assert code == 1
    (entry,) = json.loads((tmp_path / "audit.json").read_text())["contracts"]
    assert entry["status"] == "fails" and entry["family"] == "mask polarity / wrong loss set"
    assert entry["counterexample"]["grid_side"] == 1 and "OUTSIDE bound" in entry["detail"]
    assert "## Shrunk counterexamples" in (tmp_path / "audit.md").read_text()


def test_report_is_replaced_whole(tmp_path: Path) -> None:
    result = audit(VectorOnly(), "vector-only", 3, seed=0)
    (tmp_path / "audit.md").write_text("# maskproof audit of `an earlier target`\n")
    write_report(result, tmp_path)
    assert (tmp_path / "audit.md").read_text().startswith("# maskproof audit of `vector-only`")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json", "audit.md"]


def test_readme_contract_table_is_the_catalogue() -> None:
    # Regenerate with: python -m maskproof.bridge.audit.catalogue
    from maskproof.bridge.audit.catalogue import markdown_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    start = readme.index("\n", readme.index("<!-- contracts:start")) + 1
    assert readme[start:readme.index("<!-- contracts:end -->")] == markdown_table()
