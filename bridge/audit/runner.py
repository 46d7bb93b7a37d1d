"""Load an adapter from ``module:object`` and run the contract catalogue on it with Hypothesis."""

from __future__ import annotations

import difflib
import importlib
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import ExampleDatabase
from hypothesis.errors import Flaky, Unsatisfiable
from hypothesis.reporting import with_reporter

from maskproof.bridge.audit.catalogue import CATALOGUE
from maskproof.bridge.audit.contract import Contract, Draws, Violation
from maskproof.bridge.audit.limits import DidNotTerminate, time_limit, traceback_location
from maskproof.bridge.audit.protocols import CAPABILITIES, capabilities_of

HOLDS, FAILS, NOT_APPLICABLE = "holds", "fails", "not applicable"
#: A contract stopped at its time limit (``--timeout``): a verdict, counted with the failures.
DID_NOT_TERMINATE = "did not terminate"
STATUSES = (HOLDS, FAILS, DID_NOT_TERMINATE, NOT_APPLICABLE)
#: Default limit for loading the adapter and for each contract, in seconds.
DEFAULT_TIMEOUT = 300.0


class TargetError(ValueError):
    """A TARGET that does not name an adapter (the CLI prints it on one line, exit 2)."""


class AdapterExit(Exception):
    """Adapter code called ``sys.exit``: a failure of that code, never the audit's exit status."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def _loading_error(what: str, error: BaseException) -> TargetError:
    if isinstance(error, DidNotTerminate):
        return TargetError(f"{what} {error}")
    if isinstance(error, SyntaxError):
        return TargetError(f"{what} failed: SyntaxError at {error.filename}:{error.lineno}: "
                           f"{error.msg}")
    if isinstance(error, SystemExit):
        return TargetError(f"{what} called sys.exit({error.code!r}) at "
                           f"{traceback_location(error.__traceback__)}")
    return TargetError(f"{what} failed: {type(error).__name__}: {_first_line(error)} at "
                       f"{traceback_location(error.__traceback__)}")


def load_target(target: str, timeout: float | None = DEFAULT_TIMEOUT) -> object:
    """The adapter named by ``module:object`` (a class is instantiated with no arguments).

    The current directory is put on ``sys.path`` first, as ``python -m`` does, so a module next
    to the caller imports. Whatever the user's module or constructor does (raises, calls
    ``sys.exit``, never returns within ``timeout`` seconds) ends as one :class:`TargetError`;
    only ``KeyboardInterrupt`` (the user's Ctrl-C) passes through.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise TargetError(f"TARGET must be module:object, got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        with time_limit(timeout):
            module = importlib.import_module(module_name)
    except ImportError as error:
        raise TargetError(f"cannot import module {module_name!r} of TARGET {target!r}: "
                          f"{error}") from None
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: B036 - the user's module: any outcome is a verdict
        raise _loading_error(f"importing module {module_name!r} of TARGET {target!r}",
                             error) from None
    obj: object = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise TargetError(f"module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type):
        try:
            with time_limit(timeout):
                obj = obj()
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: B036 - the user's constructor: report it
            raise _loading_error(f"constructing {target!r}()", error) from None
    if not capabilities_of(obj):
        closest = [_gap(cap, obj) for cap in CAPABILITIES
                   if _near_misses(sorted(_members(cap)), obj, _members(cap))]
        names = "; ".join(closest) if closest else ", ".join(cap.__name__ for cap in CAPABILITIES)
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
    #: Every clause the shrunk example violates (``detail`` is them joined); one entry for a
    #: failure that is not a :class:`Violation` (an exception, a flaky replay).
    clauses: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
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
        if self.status == FAILS:
            entry["clauses"] = list(self.clauses or (self.detail,))
        return entry


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
    #: The example running now (reported when the time limit stops it).
    current: Draws | None = None


def _describe(error: BaseException) -> str:
    if isinstance(error, Violation):
        return str(error)
    if isinstance(error, AdapterExit):
        return str(error)
    return (f"raised {type(error).__name__}: {_first_line(error)} at "
            f"{traceback_location(error.__traceback__)}")


def _members(capability: type) -> set[str]:
    names = {n for n in vars(capability) if not n.startswith("_")}
    return names | set(getattr(capability, "__annotations__", {}))


def not_applicable_reason(contract: Contract, adapter: object) -> str | None:
    """Why ``contract`` does not apply: the missing capability, the members it lacks, and the
    adapter's names that look like typos of them (``unpatchfy`` for ``unpatchify``)."""
    missing = [cap for cap in contract.needs if not isinstance(adapter, cap)]
    if not missing:
        return contract.not_applicable_reason(adapter)
    return "adapter lacks " + "; ".join(_gap(cap, adapter) for cap in missing)


def _near_misses(names: Sequence[str], adapter: object, exclude: set[str]) -> list[str]:
    # The adapter's own names that look like typos of ``names`` (and are not themselves members).
    offered = [n for n in dir(adapter) if not n.startswith("_") and n not in exclude]
    return sorted({m for n in names for m in difflib.get_close_matches(n, offered, 3, 0.8)})


def _gap(capability: type, adapter: object) -> str:
    lacking = sorted(n for n in _members(capability) if not hasattr(adapter, n))
    near = _near_misses(lacking, adapter, _members(capability))
    hint = f"; near misses: {', '.join(near)}" if near else ""
    return f"{capability.__name__} (lacks {', '.join(lacking)}{hint})"


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
                 database: ExampleDatabase | None = None, target: str = "",
                 timeout: float | None = DEFAULT_TIMEOUT) -> ContractResult:
    """Run one contract: Hypothesis draws ``examples`` inputs and shrinks any failure.

    With a ``database``, failing examples are saved there under ``target`` and the contract's id,
    and replayed first on the next run (Hypothesis's reuse phase). The whole contract, shrinking
    included, gets ``timeout`` seconds; past it the verdict is :data:`DID_NOT_TERMINATE` with
    the line the adapter was running and the inputs drawn so far.
    """
    reason = not_applicable_reason(contract, adapter)
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
        last.current = draws
        try:
            contract.check(adapter, draws)
        except SystemExit as stop:  # the adapter's sys.exit: a failing example like any other
            failure = AdapterExit(f"called sys.exit({stop.code!r}) at "
                                  f"{traceback_location(stop.__traceback__)}")
            last.draws, last.error = draws, failure
            raise failure from None
        except Exception as error:
            last.draws, last.error = draws, error
            raise

    started = time.perf_counter()
    try:
        with with_reporter(lambda _message: None), time_limit(timeout):
            body()
    except DidNotTerminate as stop:
        draws = last.current
        return ContractResult(contract, DID_NOT_TERMINATE, str(stop),
                              dict(draws.values) if draws is not None else {},
                              draws.size if draws is not None else 0,
                              time.perf_counter() - started)
    except Unsatisfiable:
        # Every draw was one the contract cannot decide (a rounding bound that would be vacuous
        # at the inputs' precision): no verdict either way.
        return ContractResult(contract, NOT_APPLICABLE,
                              "not checkable: no drawn input was one this contract can decide",
                              seconds=time.perf_counter() - started)
    except Flaky as error:
        detail = f"failure not reproducible on replay: {error}"
        return ContractResult(contract, FAILS, detail, seconds=time.perf_counter() - started,
                              clauses=(detail,))
    except Exception as error:
        draws = last.draws
        cause = last.error if last.error is not None else error
        detail = _describe(cause)
        return ContractResult(contract, FAILS, detail,
                              dict(draws.values) if draws is not None else {},
                              draws.size if draws is not None else 0,
                              time.perf_counter() - started,
                              cause.clauses if isinstance(cause, Violation) else (detail,))
    return ContractResult(contract, HOLDS, seconds=time.perf_counter() - started)


def _distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment(adapter: object) -> dict[str, Any]:
    """What produced the verdicts: maskproof, torch, Hypothesis, Python, and the audited code's
    distributions (the adapter module's own, and any the adapter names in
    ``audited_packages``) with their versions."""
    module = type(adapter).__module__ if not isinstance(adapter, ModuleType) else adapter.__name__
    top = module.split(".")[0]
    names = set(metadata.packages_distributions().get(top, []))
    names |= set(getattr(adapter, "audited_packages", ()))
    import hypothesis

    return {
        "maskproof": _distribution_version("maskproof") or "unknown",
        "torch": torch.__version__,
        "hypothesis": hypothesis.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "adapter_module": module,
        "audited_packages": {n: _distribution_version(n) for n in sorted(names)},
    }


@dataclass
class AuditResult:
    target: str
    capabilities: list[str]
    results: list[ContractResult]
    examples: int
    seed: int
    environment: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = DEFAULT_TIMEOUT

    @property
    def failed(self) -> list[ContractResult]:
        """Contracts that fail or did not terminate: either makes the audit exit 1."""
        return [r for r in self.results if r.status in (FAILS, DID_NOT_TERMINATE)]

    def counts(self) -> dict[str, int]:
        return {status: sum(r.status == status for r in self.results) for status in STATUSES}


def audit(adapter: object, target: str, examples: int = 40, seed: int = 0,
          only: Sequence[str] | None = None, *,
          database: ExampleDatabase | None = None, timeout: float | None = DEFAULT_TIMEOUT,
          on_result: Callable[[ContractResult], None] | None = None) -> AuditResult:
    """Run every contract (or those whose id is in ``only``) on ``adapter``.

    ``database``: where failing examples are saved and replayed from (``None``: nowhere).
    ``timeout``: seconds per contract. ``on_result`` is called as each contract finishes.
    """
    contracts = [c for c in CATALOGUE if only is None or c.id in only]
    # The contracts run tiny models; extra intra-op threads only add contention (measured: a
    # tiny encoder forward takes 0.2 s with 2 threads on a loaded 2-core machine, 0.5 ms with 1).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = []
        for contract in contracts:
            result = run_contract(contract, adapter, examples, seed, database=database,
                                  target=target, timeout=timeout)
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        torch.set_num_threads(threads)
    return AuditResult(target, capabilities_of(adapter), results, examples, seed,
                       environment(adapter), timeout)
