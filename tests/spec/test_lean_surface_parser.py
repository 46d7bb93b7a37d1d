"""The Lean header parser, the table readers and the regeneration of spec/lean_surface.py.

Each test writes the Lean (or TSV) it reads, so what the parser must make of a construct —
nested block comments, line comments, scopes, modifiers, ``_root_`` — is stated next to it.
``main`` is run against a temporary pin and folder, never the recorded tables.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from maskproof.spec import lean_surface as surface_module
from maskproof.spec.lean_surface import (
    DECLARATIONS_NAME,
    PIN_NAME,
    SURFACE_NAME,
    SurfaceDeclaration,
    parse_declarations,
    render_surface,
)


def test_code_lines_drop_nested_block_comments_and_line_comments() -> None:
    text = ("/- a /- nested -/ still comment -/def a\n"
            "/-/- x -/-/def b\n"
            "/- c -/def y -- trailing def z\n"
            "x /- open\n"
            "-- inside a block, not a line comment -/ after\n"
            "/--/ doc\n")
    assert surface_module._code_lines(text) == [
        (1, "def a"),
        (2, "def b"),
        (3, "def y "),
        (4, "x "),
        (5, " after"),
        (6, " doc"),
    ]


def test_a_close_outside_a_comment_is_kept() -> None:
    # `-/` at depth 0 closes nothing, so both of its characters stay.
    assert surface_module._code_lines("a -/ b") == [(1, "a -/ b")]


def declarations(text: str) -> list[tuple[int, str, bool, str]]:
    return [(d.line, d.keyword, d.private, d.full_name)
            for d in parse_declarations(text, "NN/T.lean")]


def test_every_keyword_modifier_and_attribute_prefix() -> None:
    text = """\
namespace N
@[simp] lemma l : True := trivial
protected def p : Nat := 0
private noncomputable def q : Nat := 0
@[simp, grind] @[inline] abbrev r := Nat
inductive I where
  | a
class C (α : Type) where
  x : α
instance instC : C Nat := ⟨0⟩
def S.mk' : Nat := 0  -- a dotted name
  def indented : Nat := 0
structure T where
  field : Nat
end N
"""
    assert declarations(text) == [
        (2, "lemma", False, "N.l"),
        (3, "def", False, "N.p"),
        (4, "noncomputable def", True, "N.q"),
        (5, "abbrev", False, "N.r"),
        (6, "inductive", False, "N.I"),
        (8, "class", False, "N.C"),
        (10, "instance", False, "N.instC"),
        (11, "def", False, "N.S.mk'"),
        (13, "structure", False, "N.T"),
    ]


def test_sections_do_not_qualify_names_and_scopes_close_in_order() -> None:
    text = """\
namespace A
section Helpers
def inSection : Nat := 0
end Helpers
namespace B
def inB : Nat := 0
end B
def afterB : Nat := 0
end A
def top : Nat := 0
"""
    assert declarations(text) == [
        (3, "def", False, "A.inSection"),
        (6, "def", False, "A.B.inB"),
        (8, "def", False, "A.afterB"),
        (10, "def", False, "top"),
    ]


def test_root_prefix_escapes_the_namespace() -> None:
    text = "namespace A\ntheorem _root_.B.c : True := trivial\ndef d : Nat := 0\nend A\n"
    assert declarations(text) == [(2, "theorem", False, "B.c"), (3, "def", False, "A.d")]


def test_commented_and_string_text_is_not_a_header() -> None:
    text = """\
/-- A doc comment that mentions
def notADeclaration : Nat := 0 -/
def s : String := "a -- b"
-- def alsoNot : Nat := 0
/- /- nested -/
theorem stillComment : True := trivial
-/
theorem real : True := trivial
"""
    assert declarations(text) == [(3, "def", False, "s"), (8, "theorem", False, "real")]


def test_an_end_with_nothing_open_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^NN/T.lean:2: `end A` closes nothing$"):
        parse_declarations("def x : Nat := 0\nend A\n", "NN/T.lean")


def test_an_anonymous_end_closes_an_anonymous_section() -> None:
    text = "section\ndef x : Nat := 0\nend\ndef y : Nat := 0\n"
    assert declarations(text) == [(2, "def", False, "x"), (4, "def", False, "y")]


def test_resource_reads_the_package_table_uncached() -> None:
    on_disk = (Path(surface_module.__file__).parent / PIN_NAME).read_text("utf-8")
    assert surface_module._resource(PIN_NAME) == on_disk


def test_render_surface_writes_one_tab_separated_row_per_declaration() -> None:
    rows = [SurfaceDeclaration("NN/A.lean", 3, "NN.A", "noncomputable def", True, "A.x"),
            SurfaceDeclaration("NN/A.lean", 9, "NN.A", "theorem", False, "A.t")]
    assert render_surface(rows) == (
        "path\tline\tmodule\tkeyword\tprivate\tfull_name\n"
        "NN/A.lean\t3\tNN.A\tnoncomputable def\tprivate\tA.x\n"
        "NN/A.lean\t9\tNN.A\ttheorem\tpublic\tA.t\n")


DECLARATIONS_TSV = ("module\tnamespace\tkind\tlean_name\tlocation\tsource\n"
                    "Old\tA\tdef\tx\tNN/Old.lean:1\tseed 1\n"
                    "Old\tB\ttheorem\tt\tNN/Old.lean:2\tseed 2\n")


def test_relocate_recomputes_location_and_module_only() -> None:
    by_name = {"A.x": SurfaceDeclaration("NN/A.lean", 4, "NN.A", "def", False, "A.x"),
               "B.t": SurfaceDeclaration("NN/B.lean", 7, "NN.B", "theorem", False, "B.t")}
    assert surface_module._relocate(DECLARATIONS_TSV, by_name) == (
        "module\tnamespace\tkind\tlean_name\tlocation\tsource\n"
        "NN.A\tA\tdef\tx\tNN/A.lean:4\tseed 1\n"
        "NN.B\tB\ttheorem\tt\tNN/B.lean:7\tseed 2\n")


def test_relocate_refuses_an_undeclared_name_and_an_empty_table() -> None:
    with pytest.raises(KeyError, match=f"{DECLARATIONS_NAME}: A.x is not declared in the pinned"):
        surface_module._relocate(DECLARATIONS_TSV, {})
    with pytest.raises(ValueError, match=f"^{DECLARATIONS_NAME}: empty, expected a header row$"):
        surface_module._relocate("", {})


def pinned(root: Path, commit: str, path: str, text: str) -> dict[str, str]:
    copy = root / commit[:7] / path
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(text.encode())
    return {"commit": commit, "role": "ssl", "chars": str(len(text)),
            "sha256": hashlib.sha256(text.encode()).hexdigest()}


def test_read_pinned_names_every_place_it_looked_and_the_expectation(tmp_path: Path) -> None:
    entry = {"commit": "0123456789", "sha256": "0" * 64}
    looked = ", ".join(str(p) for p in (tmp_path / "0123456" / "NN/A.lean",
                                        tmp_path / "0123456789" / "NN/A.lean",
                                        tmp_path / "NN/A.lean"))
    with pytest.raises(FileNotFoundError) as missing:
        surface_module._read_pinned(tmp_path, "NN/A.lean", entry)
    assert str(missing.value) == f"NN/A.lean: no local copy under {tmp_path} (looked for {looked})"
    good = pinned(tmp_path, "0123456789", "NN/A.lean", "def π : Nat := 0\n")
    assert surface_module._read_pinned(tmp_path, "NN/A.lean", good) == "def π : Nat := 0\n"
    with pytest.raises(ValueError) as different:
        surface_module._read_pinned(tmp_path, "NN/A.lean", entry)
    assert str(different.value) == (
        f"{tmp_path / '0123456' / 'NN/A.lean'}: SHA-256 {good['sha256']} differs from the pinned "
        f"{'0' * 64}; expected the text of the pinned commit")


def test_main_regenerates_both_tables_from_a_local_copy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root, spec_dir = tmp_path / "lean", tmp_path / "spec"
    spec_dir.mkdir()
    pins = {"NN/B.lean": pinned(root, "b" * 40, "NN/B.lean", "namespace B\ntheorem t : True := "
                                "trivial\nend B\n"),
            "NN/A.lean": pinned(root, "a" * 40, "NN/A.lean", "namespace A\n\ndef x : Nat := 0\n"
                                "end A\n")}
    (spec_dir / DECLARATIONS_NAME).write_bytes(DECLARATIONS_TSV.encode())
    monkeypatch.setattr(surface_module, "pinned_files", lambda: pins)
    monkeypatch.setattr(surface_module, "SPEC_DIR", spec_dir)
    assert surface_module.main([str(root)]) == 0
    assert (spec_dir / SURFACE_NAME).read_text("utf-8") == (
        "path\tline\tmodule\tkeyword\tprivate\tfull_name\n"
        "NN/A.lean\t3\tNN.A\tdef\tpublic\tA.x\n"
        "NN/B.lean\t2\tNN.B\ttheorem\tpublic\tB.t\n")
    assert (spec_dir / DECLARATIONS_NAME).read_text("utf-8") == (
        "module\tnamespace\tkind\tlean_name\tlocation\tsource\n"
        "NN.A\tA\tdef\tx\tNN/A.lean:3\tseed 1\n"
        "NN.B\tB\ttheorem\tt\tNN/B.lean:2\tseed 2\n")
    assert capsys.readouterr().out == (
        f"wrote {spec_dir / SURFACE_NAME} (2 declarations) and the locations of "
        f"{spec_dir / DECLARATIONS_NAME}\n")


@pytest.mark.parametrize("argv", [[], ["a", "b"], ["not/a/folder"]])
def test_main_refuses_anything_but_one_folder(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert surface_module.main(argv) == 2
    assert capsys.readouterr().err == (
        "usage: scripts/lean_surface.py ROOT (ROOT: a folder holding the pinned Lean files as "
        f"ROOT/<commit[:7]>/<path>), got {argv!r}\n")
