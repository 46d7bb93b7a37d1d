"""``maskproof check``: the traceability table, and the test index it ships with."""

from __future__ import annotations

import json
from pathlib import Path

from maskproof import spec
from maskproof.bridge import test_index
from maskproof.bridge.check import run_check
from maskproof.spec.lean_surface import lean_pin, lean_surface
from maskproof.spec.registry import lean_declarations

TESTS = Path(__file__).resolve().parents[1]


def test_recorded_test_index_matches_the_tests() -> None:
    # Regenerate with: python -m maskproof.bridge.test_index tests
    expected = test_index.scan(test_index.mirror_short_names(), TESTS)
    assert expected, "the scan found no mirror named in any test"
    assert test_index.recorded() == expected


def test_check_reports_the_recorded_tests(tmp_path: Path, capsys: object) -> None:
    out = tmp_path / "t.json"
    assert run_check(2, 0, out, progress=False) == 0
    table = json.loads(out.read_text("utf-8"))
    rows = {r["lean_name"]: r for r in table["declarations"]}
    recorded = test_index.recorded()
    # The mirror's name is looked up, not spelled, so this file is not counted as its test.
    short = spec.MIRRORS["maskedLoss"].python_name.rsplit(".", 1)[-1]
    assert rows["maskedLoss"]["tests"] == recorded[short] != []
    assert table["totals"]["theorems_holding"] == table["totals"]["theorems"]
    # Every row points at the pinned Lean source; the one private theorem is flagged.
    assert table["lean_pin"]["commit"] == lean_pin()["commit"]
    declarations = lean_declarations()
    assert all(r["location"] == declarations[r["lean_name"]].location for r in rows.values())
    assert {r["full_name"] for r in rows.values() if r["private"]} == {
        d.full_name for d in lean_surface() if d.private}


def test_check_never_overwrites_a_file_it_did_not_write(tmp_path: Path) -> None:
    import pytest

    mine = tmp_path / "notes.json"
    mine.write_text('{"my": "data"}\n', "utf-8")
    with pytest.raises(ValueError, match="is not a traceability table"):
        run_check(2, 0, mine, progress=False)
    assert mine.read_text("utf-8") == '{"my": "data"}\n'
    with pytest.raises(ValueError, match="is a directory"):
        run_check(2, 0, tmp_path, progress=False)
    table = tmp_path / "t.json"
    assert run_check(2, 0, table, progress=False) == 0
    assert run_check(2, 0, table, progress=False) == 0  # its own earlier table is replaced
