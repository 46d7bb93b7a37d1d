"""Hypothesis strategies for the arguments of every registered theorem check.

Each module here mirrors one module of ``spec.theorems`` and registers, with ``@arguments_for``,
a strategy producing keyword arguments that satisfy the theorem's hypotheses. Strategies reach the
degenerate cases on purpose (``n = 0``, empty lists, duplicated indices, ``period = 0``, offsets
past the period, sizes not divisible by the patch, NaN and ±0.0). A check refuses an input that
breaks a hypothesis with ``HypothesisNotMet`` (``spec.registry``), so a strategy that strays
outside them fails the theorem's test instead of passing silently.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

Arguments = dict[str, Any]
ArgumentStrategy = st.SearchStrategy[Arguments]

THEOREM_ARGUMENTS: dict[str, ArgumentStrategy] = {}


def arguments_for(lean_name: str) -> Callable[[Callable[[], ArgumentStrategy]],
                                              Callable[[], ArgumentStrategy]]:
    """Register the strategy returned by the decorated factory for theorem ``lean_name``."""
    def register(factory: Callable[[], ArgumentStrategy]) -> Callable[[], ArgumentStrategy]:
        if lean_name in THEOREM_ARGUMENTS:
            raise KeyError(f"{lean_name!r} has two argument strategies")
        THEOREM_ARGUMENTS[lean_name] = factory()
        return factory
    return register


def load_all() -> dict[str, ArgumentStrategy]:
    """Import every strategy module and return the filled registry."""
    for info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
        if info.name.rsplit(".", 1)[-1] != "common":
            importlib.import_module(info.name)
    return THEOREM_ARGUMENTS
