"""What a contract is, how it draws its inputs, and how it says that it failed.

A contract is a property of one or more capabilities (``bridge.audit.protocols``), tied to the Lean
theorem or paper fact it comes from and to the bug family it guards against. Its ``check``
function draws everything it needs through :class:`Draws` (so Hypothesis can shrink it and the
report can print the shrunk values) and raises :class:`Violation` when the property is false.
Tensors are never drawn value by value: a contract draws shapes, parameters and a seed, and
generates the tensor from the seed, so a counterexample is small and reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from hypothesis import strategies as st

T = TypeVar("T")


class Violation(AssertionError):
    """The property is false on the drawn example; the message says how."""


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
