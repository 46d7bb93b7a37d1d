"""The spec covers lean_declarations.tsv exactly: every def mirrored, every theorem checked."""

from __future__ import annotations

from maskproof import spec
from maskproof.spec.registry import lean_declarations


def _names(kind: str) -> set[str]:
    return {name for name, d in lean_declarations().items() if d.kind == kind}


def test_tsv_has_the_expected_rows() -> None:
    # The pinned surface (spec/lean_surface.tsv): 156 declarations, all of them rows here.
    assert len(lean_declarations()) == 156
    assert len(_names("theorem")) == 77
    assert len(_names("def")) == 79


def test_every_lean_theorem_has_a_check_and_nothing_else_does() -> None:
    assert set(spec.THEOREMS) == _names("theorem")


def test_every_lean_def_has_a_mirror_and_nothing_else_does() -> None:
    assert set(spec.MIRRORS) == _names("def")


def test_every_mirror_docstring_names_its_lean_declaration() -> None:
    for lean_name, mirror in spec.MIRRORS.items():
        doc = getattr(mirror.obj, "__doc__", None) or ""
        short = lean_name.rsplit(".", 1)[-1]
        # Type aliases carry no docstring of their own; their module docstring names them.
        if callable(mirror.obj) and not isinstance(mirror.obj, type(tuple[int])):
            assert short in doc, f"{mirror.python_name} docstring does not name {lean_name}"


def test_every_check_is_named_after_its_theorem() -> None:
    for lean_name, entry in spec.THEOREMS.items():
        function_name = entry.python_name.rsplit(".", 1)[-1]
        assert function_name == lean_name.replace(".", "_"), entry.python_name
