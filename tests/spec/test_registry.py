"""The registry's own rules, exercised at test time on empty registries.

The decorators run once, at import, so the completeness test only sees their result. These tests
call them again on fresh dictionaries: a registry that accepted a duplicate, a name missing from
the TSV, or a theorem where a def belongs would let a typo in ``spec/`` pass unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from maskproof.spec import registry

DEF_NAME = "selected"  # a `def` row of the TSV
THEOREM_NAME = "allMask_selected"  # a `theorem` row of the TSV
MODULE = "NN.MLTheory.SelfSupervised.Masking"


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "MIRRORS", {})
    monkeypatch.setattr(registry, "THEOREMS", {})
    yield


def sample() -> bool:
    return True


class Named:
    """An instance with a ``__name__`` but no ``__qualname__`` (instances never have one)."""

    __name__ = "named_value"


def test_python_name_is_module_dot_qualname() -> None:
    assert registry._python_name(sample) == f"{__name__}.sample"
    assert registry._python_name(Named) == f"{__name__}.Named"


def test_python_name_prefers_qualname_to_name() -> None:
    class Outer:
        def method(self) -> None:
            """A method: its qualname ``...Outer.method`` differs from its name ``method``."""

    name = registry._python_name(Outer.method)
    assert name == f"{__name__}.test_python_name_prefers_qualname_to_name.<locals>.Outer.method"


def test_python_name_falls_back_to_name_then_repr() -> None:
    assert registry._python_name(Named()) == f"{__name__}.named_value"
    assert registry._python_name(5) == "?.5"  # an int has neither a module nor a name


def test_declaration_returns_the_tsv_row() -> None:
    row = registry._declaration(DEF_NAME, "def")
    assert row == registry.LeanDeclaration(MODULE, "def", DEF_NAME, "seed 001",
                                           "NN.MLTheory.SelfSupervised",
                                           "NN/MLTheory/SelfSupervised/Masking.lean:30")
    assert row.full_name == "NN.MLTheory.SelfSupervised.selected"
    assert registry._declaration(THEOREM_NAME, "theorem").kind == "theorem"


@pytest.mark.parametrize(("name", "kind"), [(DEF_NAME, "theorem"), (THEOREM_NAME, "def"),
                                            ("notALeanName", "def")])
def test_declaration_refuses_wrong_kind_or_unknown_name(name: str, kind: str) -> None:
    with pytest.raises(KeyError) as caught:
        registry._declaration(name, kind)
    assert caught.value.args[0] == f"{name!r} is not a Lean {kind} in lean_declarations.tsv"


@pytest.mark.usefixtures("fresh")
def test_register_mirror_records_and_returns_the_object() -> None:
    assert registry.register_mirror(DEF_NAME, sample) is sample
    assert registry.MIRRORS == {DEF_NAME: registry.Mirror(
        registry._declaration(DEF_NAME, "def"), sample, f"{__name__}.sample")}
    assert registry.register_mirror("allMask", 7, python_name="maskproof.spec.x.all") == 7
    assert registry.MIRRORS["allMask"].python_name == "maskproof.spec.x.all"
    assert registry.MIRRORS["allMask"].obj == 7


@pytest.mark.usefixtures("fresh")
def test_register_mirror_refuses_duplicates_and_non_defs() -> None:
    registry.register_mirror(DEF_NAME, sample)
    with pytest.raises(KeyError, match=f"'{DEF_NAME}' is mirrored twice"):
        registry.register_mirror(DEF_NAME, sample)
    with pytest.raises(KeyError, match="is not a Lean def"):
        registry.register_mirror(THEOREM_NAME, sample)
    assert list(registry.MIRRORS) == [DEF_NAME]


@pytest.mark.usefixtures("fresh")
def test_mirrors_decorator_registers_the_decorated_object() -> None:
    assert registry.mirrors(DEF_NAME)(sample) is sample
    assert registry.MIRRORS[DEF_NAME].obj is sample
    assert registry.MIRRORS[DEF_NAME].declaration.lean_name == DEF_NAME


@pytest.mark.usefixtures("fresh")
def test_theorem_decorator_records_check_and_crosshair_reason() -> None:
    assert registry.theorem(THEOREM_NAME, crosshair="floats")(sample) is sample
    assert registry.THEOREMS == {THEOREM_NAME: registry.TheoremCheck(
        registry._declaration(THEOREM_NAME, "theorem"), sample, f"{__name__}.sample", "floats")}
    registry.theorem("emptyMask_not_selected")(sample)
    assert registry.THEOREMS["emptyMask_not_selected"].crosshair is None


@pytest.mark.usefixtures("fresh")
def test_theorem_decorator_refuses_duplicates_and_non_theorems() -> None:
    registry.theorem(THEOREM_NAME)(sample)
    with pytest.raises(KeyError, match=f"'{THEOREM_NAME}' is checked twice"):
        registry.theorem(THEOREM_NAME)(sample)
    with pytest.raises(KeyError, match="is not a Lean theorem"):
        registry.theorem(DEF_NAME)(sample)
    assert list(registry.THEOREMS) == [THEOREM_NAME]
