"""The pinned TorchLean surface: pin, locations, coverage, private status, and the header parser.

``spec/lean_surface.tsv`` and the ``location`` column of ``spec/lean_declarations.tsv`` are
recorded from the pinned Lean text (the network is out of reach here), so these tests check the
records against each other and against ``proofs_notes/not_mirrored.md``; the parser that produced
them is tested on small Lean snippets.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from pathlib import Path

import pytest

from maskproof.spec import lean_surface as surface_module
from maskproof.spec.lean_surface import lean_pin, module_of, parse_declarations, pinned_files
from maskproof.spec.registry import lean_declarations

NOTES = Path(__file__).resolve().parents[2] / "proofs_notes" / "not_mirrored.md"
LOCATION = re.compile(r"^(?P<path>NN(?:/[A-Za-z]+)+\.lean):(?P<line>[1-9][0-9]*)$")
SHA1 = re.compile(r"^[0-9a-f]{40}$")


def note_table(heading: str) -> list[list[str]]:
    """The body rows of the first table under ``## heading`` in not_mirrored.md."""
    section = NOTES.read_text("utf-8").split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows[2:]]


def test_the_pin_names_commits_toolchain_and_hashes() -> None:
    pin = lean_pin()
    assert pin["repository"] == "lean-dojo/TorchLean"
    assert SHA1.match(str(pin["commit"]))
    assert re.fullmatch(r"leanprover/lean4:v\d+\.\d+\.\d+", str(pin["toolchain"]))
    for path, entry in pinned_files().items():
        assert SHA1.match(entry["commit"]), path
        assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]), path
    # Every pinned file declares something, and the surface reads no other file.
    assert {d.path for d in surface_module.lean_surface()} == set(pinned_files())


def test_every_row_has_a_location_in_a_pinned_file() -> None:
    for name, row in lean_declarations().items():
        match = LOCATION.match(row.location)
        assert match, f"{name}: location {row.location!r} is not path/File.lean:LINE"
        assert match["path"] in pinned_files(), f"{name}: {match['path']} is not pinned"
        assert row.module == module_of(match["path"]), name


def test_rows_of_one_file_have_distinct_lines() -> None:
    lines: dict[str, list[int]] = defaultdict(list)
    for row in lean_declarations().values():
        path, line = row.location.rsplit(":", 1)
        lines[path].append(int(line))
    for path, found in lines.items():
        assert len(found) == len(set(found)), f"{path}: two rows share a line"
    for path in pinned_files():
        in_file = [d.line for d in surface_module.lean_surface() if d.path == path]
        assert in_file == sorted(set(in_file)), f"{path}: surface lines not strictly increasing"


def test_every_row_is_the_surface_declaration_at_its_location() -> None:
    by_name = {d.full_name: d for d in surface_module.lean_surface()}
    for name, row in lean_declarations().items():
        declaration = by_name.get(row.full_name)
        assert declaration is not None, f"{row.full_name} is not declared in the pinned files"
        assert declaration.location == row.location, name
        assert declaration.module == row.module, name
        expected_kind = "theorem" if declaration.keyword in {"theorem", "lemma"} else "def"
        assert row.kind == expected_kind, f"{name}: a Lean {declaration.keyword}"


def test_every_surface_declaration_is_mirrored_or_explained() -> None:
    mirrored = {row.full_name for row in lean_declarations().values()}
    explained = {cells[0] for cells in note_table("Surface declarations not mirrored")}
    names = {d.full_name for d in surface_module.lean_surface()}
    assert not mirrored & explained, "a name is both mirrored and explained as not mirrored"
    assert explained <= names, f"not_mirrored.md names unknown declarations {explained - names}"
    assert names - mirrored - explained == set()


def test_private_declarations_are_the_ones_the_note_lists() -> None:
    listed = {cells[0]: cells[2] for cells in note_table("Private declarations")}
    private = {d.full_name: d.location for d in surface_module.lean_surface() if d.private}
    assert listed == private


SNIPPET = """\
/-
Copyright. A comment with a `def fake` and /- a nested -/ block.
-/
module

/-! # Docs
def alsoFake : Nat := 0
-/

@[expose] public section

namespace A.B

/-- docstring -/
@[simp] theorem t₁ {n : Nat} : n = n := rfl

private theorem hidden_lemma : True := trivial

structure S (n : Nat) where
  x : Nat
deriving Repr

def S.value (s : S 0) : Nat := s.x  -- def notAHeader

namespace Inner

noncomputable def real : Nat := 0

abbrev Alias := Nat

end Inner

end A.B
"""


def test_parser_reads_headers_namespaces_and_private_status() -> None:
    found = parse_declarations(SNIPPET, "NN/Demo/File.lean")
    assert [(d.line, d.keyword, d.private, d.full_name) for d in found] == [
        (15, "theorem", False, "A.B.t₁"),
        (17, "theorem", True, "A.B.hidden_lemma"),
        (19, "structure", False, "A.B.S"),
        (23, "def", False, "A.B.S.value"),
        (27, "noncomputable def", False, "A.B.Inner.real"),
        (29, "abbrev", False, "A.B.Inner.Alias"),
    ]
    assert {d.module for d in found} == {"NN.Demo.File"}
    assert found[0].location == "NN/Demo/File.lean:15"


def test_parser_refuses_an_end_that_closes_another_scope() -> None:
    text = "namespace A\ndef x : Nat := 0\nend B\n"
    with pytest.raises(ValueError, match=r"NN/X.lean:3: `end B` closes \('namespace', 'A'\)"):
        parse_declarations(text, "NN/X.lean")


@pytest.mark.parametrize("path", ["NN/X.txt", "/abs/NN/X.lean", "NN/X"])
def test_module_of_refuses_what_is_not_a_relative_lean_path(path: str) -> None:
    with pytest.raises(ValueError, match=f"expected a relative path to a .lean file, got '{path}'"):
        module_of(path)


def test_regeneration_refuses_a_missing_or_different_local_copy(tmp_path: Path) -> None:
    path, entry = next(iter(sorted(pinned_files().items())))
    with pytest.raises(FileNotFoundError, match=f"{path}: no local copy under {tmp_path}"):
        surface_module._read_pinned(tmp_path, path, entry)
    copy = tmp_path / entry["commit"][:7] / path
    copy.parent.mkdir(parents=True)
    copy.write_text("-- not the pinned text\n", "utf-8")
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match=f"SHA-256 {digest} differs from the pinned"):
        surface_module._read_pinned(tmp_path, path, entry)


def test_regeneration_needs_one_folder_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert surface_module.main([]) == 2
    assert "usage: scripts/lean_surface.py ROOT" in capsys.readouterr().err
