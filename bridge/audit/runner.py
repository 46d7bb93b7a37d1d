"""Load an adapter from ``module:object`` and run the contract catalogue on it with Hypothesis."""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import ExampleDatabase
from hypothesis.errors import Flaky
from hypothesis.reporting import with_reporter

from maskproof.bridge.audit.catalogue import CATALOGUE
from maskproof.bridge.audit.contract import Contract, Draws, Violation
from maskproof.bridge.audit.protocols import CAPABILITIES, capabilities_of

HOLDS, FAILS, NOT_APPLICABLE = "holds", "fails", "not applicable"


class TargetError(ValueError):
    """A TARGET that does not name an adapter (the CLI prints it on one line, exit 2)."""


def load_target(target: str) -> object:
    """The adapter named by ``module:object`` (a class is instantiated with no arguments).

    The current directory is put on ``sys.path`` first, as ``python -m`` does, so a module next
    to the caller imports.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise TargetError(f"TARGET must be module:object, got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise TargetError(f"cannot import module {module_name!r} of TARGET {target!r}: "
                          f"{error}") from None
    obj: object = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise TargetError(f"module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as error:  # the user's constructor: report, do not crash
            raise TargetError(f"constructing {target!r}() failed: {error}") from None
    if not capabilities_of(obj):
        names = ", ".join(cap.__name__ for cap in CAPABILITIES)
        raise TargetError(f"{target!r} is not an adapter: it exposes none of the capabilities "
                          f"({names})")
    return obj


@dataclass
class ContractResult:
    """The verdict on one contract."""

    contract: Contract
    status: str
    detail: str = ""
    counterexample: dict[str, object] = field(default_factory=dict)
    size: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.contract.id,
            "statement": self.contract.statement,
            "status": self.status,
            "source": self.contract.source,
            "family": self.contract.family,
            "detail": self.detail,
            "counterexample": {k: _jsonable(v) for k, v in self.counterexample.items()},
            "counterexample_size": self.size,
            "seconds": round(self.seconds, 3),
        }


def _jsonable(value: object) -> object:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


@dataclass
class _LastFailure:
    draws: Draws | None = None
    error: BaseException | None = None


def _describe(error: BaseException) -> str:
    if isinstance(error, Violation):
        return str(error)
    text = str(error).splitlines()[0] if str(error) else ""
    return f"raised {type(error).__name__}: {text}"


class _KeyedDatabase(ExampleDatabase):
    """``inner`` with every key prefixed by ``namespace``.

    Hypothesis keys a test's examples by a digest of its source, which is the same ``body`` for
    every contract; and it deletes a saved example that no longer fails. Without a namespace per
    (target, contract), one contract's replay would delete another's saved failure.
    """

    def __init__(self, inner: ExampleDatabase, namespace: bytes) -> None:
        super().__init__()
        self._inner = inner
        self._namespace = namespace

    def _key(self, key: bytes) -> bytes:
        return self._namespace + b"\0" + key

    def save(self, key: bytes, value: bytes) -> None:
        self._inner.save(self._key(key), value)

    def fetch(self, key: bytes) -> Iterable[bytes]:
        return self._inner.fetch(self._key(key))

    def delete(self, key: bytes, value: bytes) -> None:
        self._inner.delete(self._key(key), value)

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self._inner.move(self._key(src), self._key(dest), value)


def run_contract(contract: Contract, adapter: object, examples: int, seed: int, *,
                 database: ExampleDatabase | None = None, target: str = "") -> ContractResult:
    """Run one contract: Hypothesis draws ``examples`` inputs and shrinks any failure.

    With a ``database``, failing examples are saved there under ``target`` and the contract's id,
    and replayed first on the next run (Hypothesis's reuse phase).
    """
    reason = contract.not_applicable_reason(adapter)
    if reason is not None:
        return ContractResult(contract, NOT_APPLICABLE, reason)
    last = _LastFailure()
    keyed = None if database is None else _KeyedDatabase(
        database, f"maskproof.audit\0{target}\0{contract.id}".encode())
    phases = (Phase.explicit, Phase.generate, Phase.shrink) if keyed is None else (
        Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)

    # @settings above @seed: @seed sets database=None on the settings it finds, and these
    # settings, applied after it, put the database back (None unless --hypothesis-db).
    @settings(max_examples=max(2, round(examples * contract.weight)), deadline=None,
              database=keyed, derandomize=False, report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
              phases=phases, print_blob=False)
    @hypothesis_seed(seed)
    @given(st.data())
    def body(data: st.DataObject) -> None:
        draws = Draws(data)
        try:
            contract.check(adapter, draws)
        except Exception as error:
            last.draws, last.error = draws, error
            raise

    started = time.perf_counter()
    try:
        with with_reporter(lambda _message: None):
            body()
    except Flaky as error:
        return ContractResult(contract, FAILS, f"failure not reproducible on replay: {error}",
                              seconds=time.perf_counter() - started)
    except Exception as error:
        draws = last.draws
        detail = _describe(last.error if last.error is not None else error)
        return ContractResult(contract, FAILS, detail,
                              dict(draws.values) if draws is not None else {},
                              draws.size if draws is not None else 0,
                              time.perf_counter() - started)
    return ContractResult(contract, HOLDS, seconds=time.perf_counter() - started)


@dataclass
class AuditResult:
    target: str
    capabilities: list[str]
    results: list[ContractResult]
    examples: int
    seed: int

    @property
    def failed(self) -> list[ContractResult]:
        return [r for r in self.results if r.status == FAILS]

    def counts(self) -> dict[str, int]:
        return {status: sum(r.status == status for r in self.results)
                for status in (HOLDS, FAILS, NOT_APPLICABLE)}


def audit(adapter: object, target: str, examples: int = 40, seed: int = 0,
          only: Sequence[str] | None = None, *,
          database: ExampleDatabase | None = None) -> AuditResult:
    """Run every contract (or those whose id is in ``only``) on ``adapter``.

    ``database``: where failing examples are saved and replayed from (``None``: nowhere).
    """
    contracts = [c for c in CATALOGUE if only is None or c.id in only]
    # The contracts run tiny models; extra intra-op threads only add contention (measured: a
    # tiny encoder forward takes 0.2 s with 2 threads on a loaded 2-core machine, 0.5 ms with 1).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = [run_contract(c, adapter, examples, seed, database=database, target=target)
                   for c in contracts]
    finally:
        torch.set_num_threads(threads)
    return AuditResult(target, capabilities_of(adapter), results, examples, seed)
