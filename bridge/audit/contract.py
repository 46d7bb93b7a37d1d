"""What a contract is, how it draws its inputs, and how it says that it failed.

A contract is a property of one or more capabilities (``bridge.audit.protocols``), tied to the Lean
theorem or paper fact it comes from and to the bug family it guards against. Its ``check``
function draws everything it needs through :class:`Draws` (so Hypothesis can shrink it and the
report can print the shrunk values) and raises :class:`Violation` when the property is false.
Tensors are never drawn value by value: a contract draws shapes, parameters and a seed, and
generates the tensor from the seed, so a counterexample is small and reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from hypothesis import strategies as st

T = TypeVar("T")


class Violation(AssertionError):
    """The property is false on the drawn example; each clause says how one part of it is false.

    A contract with several clauses reports every one the example violates (through
    :class:`Clauses`), so the report shows the whole failure, not just the first symptom."""

    def __init__(self, *clauses: str) -> None:
        if not clauses:
            raise ValueError("Violation needs at least one violated clause, got none")
        self.clauses: tuple[str, ...] = clauses
        super().__init__(CLAUSE_SEPARATOR.join(clauses))


#: How the violated clauses of one example are joined in ``audit.md`` and ``detail``.
CLAUSE_SEPARATOR = "; "


class Clauses:
    """Collects the violated clauses of one example and raises them as one :class:`Violation`.

    ``with Clauses() as clauses:`` then ``clauses.require(...)`` for each clause; a
    :class:`Violation` raised inside the block (a clause after which nothing can be checked, such
    as a wrong shape) ends it and is reported after the clauses collected before it.
    """

    def __init__(self) -> None:
        self.violated: list[str] = []

    def require(self, condition: bool, message: str) -> bool:
        """Record ``message`` when ``condition`` is false; returns ``condition``."""
        if not condition:
            self.violated.append(message)
        return condition

    @contextmanager
    def clause(self) -> Iterator[None]:
        """One clause checked by code that raises :class:`Violation`: its clauses are recorded
        and the checks after the block still run."""
        try:
            yield
        except Violation as violation:
            self.violated.extend(violation.clauses)

    def __enter__(self) -> Clauses:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 _traceback: object) -> None:
        if isinstance(error, Violation):
            raise Violation(*self.violated, *error.clauses) from None
        if kind is None and self.violated:
            raise Violation(*self.violated)


class Draws:
    """Draws named values from Hypothesis and remembers them for the report."""

    def __init__(self, data: st.DataObject) -> None:
        self._data = data
        self.values: dict[str, object] = {}
        #: Number of scalars in the example's main input (the zoo table's "counterexample size").
        self.size = 0

    def draw(self, name: str, strategy: st.SearchStrategy[T]) -> T:
        value = self._data.draw(strategy, label=name)
        self.values[name] = value
        return value

    def seed(self, name: str = "seed") -> int:
        return self.draw(name, st.integers(0, 2**16))


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``."""
    rng = torch.Generator()
    rng.manual_seed(seed)
    return rng


def randn(shape: tuple[int, ...], seed: int, scale: float = 1.0) -> torch.Tensor:
    """Standard-normal float32 values from ``seed`` (times ``scale``)."""
    return torch.randn(shape, generator=generator(seed)) * scale


def require(condition: bool, message: str) -> None:
    if not condition:
        raise Violation(message)


@dataclass(frozen=True)
class Contract:
    """One property of an implementation, as the report lists it."""

    #: Stable identifier, ``area.property``.
    id: str
    #: One-line statement of the property.
    statement: str
    #: The capabilities (protocol classes) the contract needs; all of them must be present.
    needs: tuple[type, ...]
    #: The Lean theorem or paper fact the property comes from.
    source: str
    #: The bug family (README, "The bug zoo") the property guards against.
    family: str
    check: Callable[[Any, Draws], None]
    #: Share of the requested examples this contract runs (expensive contracts run fewer).
    weight: float = 1.0
    #: Extra applicability test beyond the capabilities (e.g. norm-pix declared); returns a reason
    #: for "not applicable" or ``None``.
    applicable: Callable[[Any], str | None] | None = None

    def not_applicable_reason(self, adapter: object) -> str | None:
        missing = [cap.__name__ for cap in self.needs if not isinstance(adapter, cap)]
        if missing:
            return "adapter lacks " + ", ".join(missing)
        return self.applicable(adapter) if self.applicable is not None else None
