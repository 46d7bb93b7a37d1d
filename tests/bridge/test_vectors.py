"""``maskproof vectors``: deterministic, equal to the spec, met by the runtime, tamper-evident.

The runtime's tensor masks are checked against the written files through the reference consumer
(``bridge.vectors.consume``), exactly as a port in another language would check itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch

from maskproof.bridge.cli import main
from maskproof.bridge.extract import hidden_idxs
from maskproof.bridge.vectors import consume, store
from maskproof.bridge.vectors.encoding import json_equal
from maskproof.bridge.vectors.generate import all_definitions, generate
from maskproof.bridge.vectors.schema import DEFAULT_SEED, MANIFEST, SCHEMA_VERSION
from maskproof.runtime.masks import (
    block_hidden,
    block_mask_apply,
    flatten_batch_prefix,
    image_patch_hidden,
    image_patch_mask,
    vector_mae_hidden_mask,
    vector_mae_mask,
)
from maskproof.spec.errors import LeanContractError
from maskproof.spec.registry import lean_declarations

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def vectors_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vectors") / "v"
    assert main(["vectors", "--out", str(out)]) == 0
    return out


def contents(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_regenerating_is_byte_identical(vectors_dir: Path, tmp_path: Path) -> None:
    # A second run in a fresh interpreter with another hash seed: no set or dict order leaks in.
    again = tmp_path / "again"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-m", "maskproof.bridge.cli", "vectors", "--out", str(again)],
                   cwd=REPO, env=env, check=True, capture_output=True)
    assert contents(again) == contents(vectors_dir)
    modules = {lean_declarations()[d.lean_name].module for d in all_definitions()}
    assert len(contents(vectors_dir)) >= len(modules) + 1  # a file per Lean module + manifest


def test_every_case_is_a_fresh_spec_evaluation(vectors_dir: Path) -> None:
    loaded = store.load_vectors(vectors_dir)
    documents = {name: doc for module in loaded.modules.values()
                 for name, doc in module["declarations"].items()}  # type: ignore[union-attr]
    checked = rejected = 0
    for definition in all_definitions():
        document = documents[definition.lean_name]
        assert [b["name"] for b in document["binders"]] == [n for n, _ in definition.binders]
        assert document["cases"], f"{definition.lean_name} has no cases"
        for case in document["cases"]:
            if "expect_error" in case:
                with pytest.raises(LeanContractError):
                    definition.evaluate(case["args"])
                rejected += 1
            else:
                assert json_equal(case["expect"], definition.evaluate(case["args"])), case["id"]
                checked += 1
    manifest = loaded.manifest
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert checked + rejected == sum(e["cases"] for e in manifest["declarations"].values())
    assert rejected > 0


# --- the runtime, read as a port would read the vectors --------------------------------------


def tensor(x: object, shape: Sequence[int]) -> torch.Tensor:
    # A port's tensor of Float accepts floats only: torch.tensor would read a JSON 2 as 2.0.
    leaves = [x]
    while leaves:
        leaf = leaves.pop()
        if isinstance(leaf, list):
            leaves.extend(leaf)
        elif not isinstance(leaf, float):
            raise ValueError(f"{leaf!r} is not a Float")
    return torch.tensor(x, dtype=torch.float64).reshape(tuple(shape))


def fin(value: int, n: int) -> int:
    # A port types its indices as Fin n; Python's negative indexing must not stand in for that.
    if not 0 <= value < n:
        raise ValueError(f"{value} is not in Fin {n}")
    return value


def block_hidden_at(shape: list[int], blocks: list[int | None], period: int, offset: int,
                    coordinate: list[int]) -> bool:
    # Lean's coordinate is a List Nat of the shape's rank; one outside the shape has no block
    # index (`none`), so it is not hidden. The runtime's mask covers the shape only.
    if len(coordinate) != len(shape) or any(c < 0 for c in coordinate):
        raise ValueError(f"coordinate {coordinate} is not a Nat list of rank {len(shape)}")
    hidden = block_hidden(shape, blocks, period, offset)
    if any(c >= n for c, n in zip(coordinate, shape, strict=True)):
        return False
    return bool(hidden[tuple(coordinate)])


RUNTIME: dict[str, Callable[..., object]] = {
    "vectorMaeHiddenMask": lambda d, p, o: vector_mae_hidden_mask(d, p, o).tolist(),
    "vectorMaeSelectedIdxs": lambda d, p, o: hidden_idxs(vector_mae_hidden_mask(d, p, o)),
    "vectorMaeMask": lambda b, d, p, o, x: vector_mae_mask(tensor(x, (b, d)), p, o).tolist(),
    "imagePatchHidden": lambda h, w, ph, pw, p, o, row, col: bool(
        image_patch_hidden(h, w, ph, pw, p, o)[fin(row, h), fin(col, w)]),
    "imagePatchMask": lambda b, c, h, w, ph, pw, p, o, x: image_patch_mask(
        tensor(x, (b, c, h, w)), ph, pw, p, o).tolist(),
    "flattenBatchPrefix": lambda b, take, source, x: flatten_batch_prefix(
        tensor(x, (b, *source)), take).tolist(),
    "BlockMask.hidden": block_hidden_at,
    "BlockMask.apply": lambda shape, x, blocks, p, o: block_mask_apply(
        tensor(x, shape), blocks, p, o).tolist(),
    "BlockMAE.hiddenMask": lambda shape, blocks, p, o: block_hidden(
        shape, blocks, p, o).flatten().tolist(),
    "BlockMAE.hiddenIndices": lambda shape, blocks, p, o: hidden_idxs(
        block_hidden(shape, blocks, p, o)),
}


#: Cases the PyTorch runtime fails today, by note, each with why: reported to the runtime's owner,
#: pinned here so that a fix (or a new failure) changes this test. (a) The runtime builds whole
#: masks only, so a coordinate of a shape beyond memory cannot be asked; (b) torch's int64
#: arithmetic wraps or overflows on Lean Nats beyond 2**63 (a wrong answer or a crash).
KNOWN_RUNTIME_GAPS: dict[str, str] = {
    "patch index 2**80 - 1 (beyond 2**64)": "(a) a 2**40 x 2**40 mask does not fit in memory",
    "patch index beyond 2**32": "(a) a 2**20 x 2**20 bool mask is allocated whole",
    "patch sizes beyond 2**32": "(a) a 2**40 x 2**40 mask does not fit in memory",
    "row 2**64 + 1 in an image taller than 2**64": "(a) torch sizes are int64",
    "flat index 2**80 - 1 (beyond 2**64)": "(a) a 2**40 x 2**40 mask does not fit in memory",
    "flat index beyond 2**32": "(a) a 2**20 x 2**20 bool mask is allocated whole",
    "block width beyond 2**32": "(a) a 2**40 mask is allocated whole",
    "unblocked huge axis, blocked axis beyond 2**64": "(a) torch sizes are int64",
}


def test_runtime_masks_meet_the_vectors(vectors_dir: Path) -> None:
    run, failures = consume.check(consume.load(vectors_dir), RUNTIME)
    unexpected = [f for f in failures if f.note not in KNOWN_RUNTIME_GAPS]
    assert unexpected == [], "\n".join(f.describe() for f in unexpected[:10])
    # Every pinned gap still fails: once the runtime handles one, remove it from the table.
    assert {f.note for f in failures} == set(KNOWN_RUNTIME_GAPS)
    per_declaration = {c.lean_name for c in consume.cases(consume.load(vectors_dir))
                       if c.lean_name in RUNTIME}
    assert per_declaration == set(RUNTIME) and run >= 100


# --- corruption, versions and the command line --------------------------------------------------


def file_of(directory: Path, lean_name: str) -> str:
    """The vector file holding a declaration, as the manifest indexes it."""
    return str(json.loads((directory / MANIFEST).read_text())["declarations"][lean_name]["file"])


def copy_of(source: Path, destination: Path) -> Path:
    destination.mkdir()
    for name, data in contents(source).items():
        (destination / name).write_bytes(data)
    return destination


def rehash(directory: Path) -> None:
    """Make the manifest agree with edited files, as a careless hand edit would."""
    manifest = json.loads((directory / MANIFEST).read_text())
    for entry in manifest["files"]:
        if entry["path"] != MANIFEST:
            entry["sha256"] = hashlib.sha256((directory / entry["path"]).read_bytes()).hexdigest()
    (directory / MANIFEST).write_text(json.dumps(manifest))


def test_a_corrupted_file_is_detected(vectors_dir: Path, tmp_path: Path) -> None:
    broken = copy_of(vectors_dir, tmp_path / "broken")
    path = broken / file_of(broken, "vectorMaeMask")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(consume.VectorFileError, match="SHA-256"):
        consume.load(broken)
    with pytest.raises(ValueError, match="SHA-256"):
        store.load_vectors(broken)


def test_a_wrong_expected_value_fails_the_runtime(vectors_dir: Path, tmp_path: Path) -> None:
    # Even with the hashes made to agree, a wrong expectation surfaces as a failing case.
    edited = copy_of(vectors_dir, tmp_path / "edited")
    path = edited / file_of(edited, "vectorMaeMask")
    document = json.loads(path.read_text())
    cases = document["declarations"]["vectorMaeMask"]["cases"]
    target = next(c for c in cases if c["note"] == "every special float, period 2")
    target["expect"][0][1] = {"f64": "0x3ff0000000000000", "repr": "1.0"}  # was +0.0 (hidden)
    path.write_text(json.dumps(document))
    rehash(edited)
    _, failures = consume.check(consume.load(edited), RUNTIME)
    assert [f.case_id for f in failures if f.note not in KNOWN_RUNTIME_GAPS] == [target["id"]]


def test_another_schema_version_is_refused(vectors_dir: Path, tmp_path: Path) -> None:
    future = copy_of(vectors_dir, tmp_path / "future")
    manifest = json.loads((future / MANIFEST).read_text())
    manifest["schema_version"] = SCHEMA_VERSION + 1
    (future / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(consume.VectorFileError, match="schema_version"):
        consume.load(future)
    with pytest.raises(ValueError, match="schema_version"):
        store.load_vectors(future)


def test_bad_out_is_one_line_and_writes_nothing(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out in (foreign, a_file, a_file / "sub"):
        assert main(["vectors", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(out) in err and "Traceback" not in err
    assert (foreign / "notes.txt").read_text() == "keep me" and len(list(foreign.iterdir())) == 1
    assert a_file.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "mine"]  # no staging left


def test_a_failed_write_keeps_the_previous_set(vectors_dir: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    previous = copy_of(vectors_dir, tmp_path / "v")
    before = contents(previous)
    files = generate(DEFAULT_SEED)
    written = 0

    def failing_write(self: Path, data: bytes) -> int:
        nonlocal written
        written += 1
        if written == 3:
            raise OSError(28, "No space left on device")
        return len(data)

    monkeypatch.setattr(Path, "write_bytes", failing_write)
    with pytest.raises(OSError, match="No space"):
        store.write_vectors(previous, files)
    monkeypatch.undo()
    assert contents(previous) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v"]
    store.write_vectors(previous, files)  # a previous vectors directory may be replaced
    assert contents(previous) == before


def test_consume_command_reports_integrity(vectors_dir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    manifest = json.loads((vectors_dir / MANIFEST).read_text())
    total = sum(entry["cases"] for entry in manifest["declarations"].values())
    assert consume.main([str(vectors_dir)]) == 0
    assert f"{len(manifest['files'])} module files intact, {total} cases" in \
        capsys.readouterr().out
    assert consume.main([str(vectors_dir / "missing")]) == 1
