"""What the vectors promise a port: coverage, Lean-named rejections, exact integers, the schema,
and a format document that quotes what generation produces."""

from __future__ import annotations

import json
import random
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from maskproof.bridge.vectors import consume, doc_example
from maskproof.bridge.vectors.encoding import dumps, encode
from maskproof.bridge.vectors.generate import (
    all_definitions,
    case_tables,
    declaration_seed,
    generate,
    run_case,
)
from maskproof.bridge.vectors.schema import DEFAULT_SEED, MANIFEST, TYPE_DECLARATIONS
from maskproof.spec.registry import lean_declarations

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return generate(DEFAULT_SEED)


@pytest.fixture(scope="module")
def documents(files: dict[str, bytes]) -> dict[str, Any]:
    return {name: json.loads(data) for name, data in files.items()}


def declarations(documents: dict[str, Any]) -> dict[str, Any]:
    return {lean_name: entry for name, document in documents.items() if name != MANIFEST
            for lean_name, entry in document["declarations"].items()}


def test_every_registered_executable_def_has_cases(documents: dict[str, Any]) -> None:
    # The TSV's defs are either run (at least one case) or listed as types, with the reason
    # they cannot be run; nothing registered is silently left without cases.
    tsv_defs = {name for name, d in lean_declarations().items() if d.kind == "def"}
    generated = declarations(documents)
    without_cases = sorted(name for name in tsv_defs - set(TYPE_DECLARATIONS)
                           if not generated.get(name, {}).get("cases"))
    assert without_cases == [], f"registered executable defs without cases: {without_cases}"
    assert set(TYPE_DECLARATIONS) <= tsv_defs
    for name, reason in TYPE_DECLARATIONS.items():
        assert generated[name]["kind"] == "type" and generated[name]["cases"] == []
        assert len(reason) > 20, f"{name}: say why it has no cases"


def test_case_tables_waiting_for_their_tsv_row_agree_with_the_spec() -> None:
    # VICRegGuard, BarlowGuard and the BlockMask/BlockMAE Internal helpers have case tables
    # before (or after) their TSV rows land; they must already evaluate on the spec.
    registered = lean_declarations()
    expected = {"VICRegGuard", "BarlowGuard", "BlockMask.Internal.apply",
                "BlockMAE.Internal.sample", "BlockMAE.Internal.hiddenReconstructionIndices"}
    tables = {d.lean_name: d for d in case_tables()}
    assert expected <= set(tables)
    for name in expected:
        definition = tables[name]
        rng = random.Random(declaration_seed(DEFAULT_SEED, name))
        records = [run_case(definition, c, f"{name}/{i:03d}")
                   for i, c in enumerate(definition.cases(rng))]
        assert any("expect" in r for r in records) and any("expect_error" in r for r in records)
        assert (name in registered) == (name in {d.lean_name for d in all_definitions()})


def test_rejections_name_the_declaration_and_its_binder_or_hypothesis(
        documents: dict[str, Any]) -> None:
    checked = hypotheses = 0
    for lean_name, entry in declarations(documents).items():
        binders = {b["name"] for b in entry.get("binders", [])}
        proofs = {h["name"]: h["statement"] for h in entry.get("hypotheses", [])}
        for record in entry["cases"]:
            error = record.get("expect_error")
            if error is None:
                continue
            checked += 1
            assert error["lean"] == lean_name, record["id"]
            if error["binder"] in proofs:
                hypotheses += 1
                assert error["hypothesis"] == proofs[error["binder"]], record["id"]
            else:
                assert error["binder"] in binders and "hypothesis" not in error, record["id"]
    assert checked > 80 and hypotheses >= 5


@pytest.mark.parametrize("value", [2**53, 2**53 + 1, -(2**53 + 1), 2**64 - 1, 2**64 + 3,
                                   2**80 - 1, -(2**64)])
def test_big_integers_survive_the_file_exactly(value: int) -> None:
    written = dumps({"n": encode(value)})
    assert consume.decode(json.loads(written)["n"]) == value
    # Beyond 2**53 an integer is a string, so a binary64 JSON reader cannot round it.
    assert (b'"int"' in written) == (abs(value) > 2**53)


def test_the_cases_reach_past_fixed_width_integers(documents: dict[str, Any]) -> None:
    def integers(value: object) -> list[int]:
        if isinstance(value, list):
            return [i for item in value for i in integers(item)]
        if isinstance(value, dict):
            if "int" in value:
                return [int(value["int"])]
            return [i for item in value.values() for i in integers(item)]
        return [value] if isinstance(value, int) and not isinstance(value, bool) else []

    # An argument or a result (maskedLoss sums Nats below 2**64 to one beyond it).
    reach = {name: max([0, *integers([[c["args"], c.get("expect")] for c in entry["cases"]])])
             for name, entry in declarations(documents).items()}
    for name in ("vectorMaeHiddenMask", "imagePatchHidden", "imagePatchMask", "BlockMask.index",
                 "BlockMask.hidden", "BlockMask.apply", "BlockMask.Internal.blockIndex",
                 "BlockMAE.hiddenMask", "maskedLoss"):
        assert reach[name] >= 2**64, name


def test_tensors_of_rank_four_and_five_are_cased(documents: dict[str, Any]) -> None:
    ranks: dict[str, set[int]] = {}
    for name, entry in declarations(documents).items():
        for record in entry["cases"]:
            for key in ("shape", "dataShape", "source", "remainingShape"):
                if isinstance(record["args"].get(key), list):
                    ranks.setdefault(name, set()).add(len(record["args"][key]))
    for name in ("BlockMask.apply", "BlockMask.hidden", "BlockMAE.hiddenMask",
                 "flattenBatchPrefix"):
        assert {4, 5} <= ranks[name], (name, ranks[name])


def test_every_generated_file_meets_the_json_schema(files: dict[str, bytes],
                                                    documents: dict[str, Any]) -> None:
    text = resources.files("maskproof.bridge.vectors").joinpath("vectors.schema.json")
    schema = json.loads(text.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name, document in documents.items():
        errors = [f"{list(e.absolute_path)}: {e.message[:200]}"
                  for e in validator.iter_errors(document)]
        assert errors == [], f"{name}: {errors[:3]}"
    # The schema is not vacuous: a raw JSON float or a case without an expectation fails it.
    example = json.loads(files[MANIFEST])["declarations"]["vectorMaeMask"]["file"]
    module = json.loads(json.dumps(documents[example]))
    first = module["declarations"]["vectorMaeMask"]["cases"][0]
    broken_float = json.loads(json.dumps(module))
    broken_float["declarations"]["vectorMaeMask"]["cases"][0]["args"]["x"] = [[1.5]]
    first.pop("expect")
    for document in (module, broken_float):
        assert not validator.is_valid(document)


def test_the_format_document_quotes_what_generation_produces(files: dict[str, bytes]) -> None:
    # `python -m maskproof.bridge.vectors.doc_example` prints what to paste when this fails.
    text = (REPO / "docs" / "vectors.md").read_text("utf-8")
    assert doc_example.summary(files) in text
    assert doc_example.manifest_example(files) in text
    assert f'"generator_version": "{json.loads(files[MANIFEST])["generator_version"]}"' in text


def test_the_format_documents_example_cases_exist(documents: dict[str, Any]) -> None:
    text = (REPO / "docs" / "vectors.md").read_text("utf-8")
    records = {r["id"]: r for entry in declarations(documents).values() for r in entry["cases"]}
    shown = re.findall(r'\{"id": "([^"]+)", "note": "([^"]+)"', text)
    assert shown
    for case_id, note in shown:
        assert records[case_id]["note"] == note
    shown_error = re.search(r'"expect_error": (\{[^}]*\})', text)
    assert shown_error is not None
    assert json.loads(shown_error.group(1)) in [r.get("expect_error") for r in records.values()]


def test_a_rejection_outside_the_declarations_binders_stops_generation() -> None:
    # A spec error naming a binder the declaration does not have (a helper's hypothesis, say)
    # would send ports a name they cannot act on: generation refuses instead of recording it.
    from maskproof.bridge.vectors.building import case, spec_def
    from maskproof.bridge.vectors.generate import GenerationError
    from maskproof.spec.errors import LeanContractError

    def helper_fails(n: object) -> object:
        raise LeanContractError("someHelper", "hSecret", "a proof of `False`", n)

    definition = spec_def("maskedLoss", helper_fails, [("n", "Nat")], "Nat", lambda rng: [])
    with pytest.raises(GenerationError, match="hSecret"):
        run_case(definition, case("bad", True, n=1), "maskedLoss/000")
    renamed = spec_def("maskedLoss", helper_fails, [("n", "Nat")], "Nat", lambda rng: [],
                       hypotheses={"hN": "n ≠ 0"}, error_binders={"hSecret": "hN"})
    record = run_case(renamed, case("bad", True, n=1), "maskedLoss/000")
    assert record["expect_error"] == {"lean": "maskedLoss", "binder": "hN",
                                      "hypothesis": "n ≠ 0"}
