"""The audit's contracts as pytest tests: one test per contract, in the user's own suite.

Two ways in, both giving pytest's own selection (``-k``, ``-x``), reporting (``--junitxml``)
and Hypothesis's ``--hypothesis-seed`` / ``--hypothesis-profile``:

* the command line: ``pytest --maskproof-adapter mypkg.adapter:Adapter`` adds a test
  ``maskproof[mypkg.adapter:Adapter]::<contract id>`` for every contract of the catalogue;
* a test module: ``test_audit = maskproof.testing.contract_tests("mypkg.adapter:Adapter")``
  defines ``test_audit[<contract id>]``.

A known-failure file (``--maskproof-xfail FILE`` or ``contract_tests(..., xfail=FILE)``) lists
one contract id per line followed by the reason; those contracts are strict xfails, so one
that starts to hold is reported as a failure (XPASS(strict)) and the line can go. A contract
whose capabilities the adapter lacks is skipped with that reason.

This module is loaded by every pytest run in an environment where maskproof is installed (the
``pytest11`` entry point), so importing it imports neither torch nor Hypothesis.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EXAMPLES_DEFAULT = 40
SEED_DEFAULT = 0
TIMEOUT_DEFAULT = 300.0  # seconds per contract, as `maskproof audit --timeout`


class ContractFailure(AssertionError):
    """A contract fails on the adapter; the message is the audit's detail and counterexample."""


@dataclass(frozen=True)
class KnownFailure:
    contract_id: str
    reason: str
    line: int


def read_xfail_file(path: Path, known_ids: Sequence[str]) -> dict[str, KnownFailure]:
    """``contract id -> KnownFailure`` from a file of ``<id> <reason>`` lines (``#`` comments)."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise pytest.UsageError(f"--maskproof-xfail {path}: cannot read it ({error}); expected "
                                "a UTF-8 text file of '<contract id> <reason>' lines") from None
    table: dict[str, KnownFailure] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        contract_id, _, reason = line.partition(" ")
        where = f"--maskproof-xfail {path}:{number}"
        if contract_id not in known_ids:
            raise pytest.UsageError(f"{where}: unknown contract id {contract_id!r}; expected one "
                                    f"of {', '.join(known_ids)}")
        if not reason.strip():
            raise pytest.UsageError(f"{where}: {contract_id!r} has no reason; expected "
                                    "'<contract id> <why this deviation is accepted>'")
        if contract_id in table:
            raise pytest.UsageError(f"{where}: {contract_id!r} is listed twice (first on line "
                                    f"{table[contract_id].line})")
        table[contract_id] = KnownFailure(contract_id, reason.strip(), number)
    return table


def contract_ids() -> list[str]:
    from maskproof.bridge.audit.catalogue import CATALOGUE

    return [contract.id for contract in CATALOGUE]


@functools.cache
def _adapter(target: str) -> object:
    from maskproof.bridge.audit.runner import TargetError, load_target

    try:
        return load_target(target)
    except TargetError as error:
        raise pytest.UsageError(f"maskproof adapter: {error}") from None


def run_one(target: str, contract_id: str, examples: int, seed: int,
            timeout: float | None = TIMEOUT_DEFAULT) -> None:
    """Run one contract on the adapter ``target``: pass, skip (not applicable) or fail (a
    contract that did not terminate within ``timeout`` seconds fails too)."""
    from maskproof.bridge.audit.catalogue import BY_ID
    from maskproof.bridge.audit.runner import (
        DID_NOT_TERMINATE,
        FAILS,
        NOT_APPLICABLE,
        run_contract,
    )

    result = run_contract(BY_ID[contract_id], _adapter(target), examples, seed, timeout=timeout)
    if result.status == NOT_APPLICABLE:
        pytest.skip(f"{contract_id} not applicable: {result.detail}")
    if result.status == DID_NOT_TERMINATE:
        raise ContractFailure(f"{contract_id} on {target}: {result.detail}")
    if result.status == FAILS:
        shown = ", ".join(f"{k}={v!r}" for k, v in result.counterexample.items())
        raise ContractFailure(f"{contract_id} fails on {target}: {result.detail}"
                              + (f"\ncounterexample: {shown}" if shown else "")
                              + f"\nstatement: {result.contract.statement}"
                              + f"\nsource: {result.contract.source}")


def _hypothesis_seed(config: pytest.Config | None) -> int:
    if config is None:
        return SEED_DEFAULT
    try:
        value = config.getoption("hypothesis_seed")
    except ValueError:  # Hypothesis's pytest plugin is not loaded
        return SEED_DEFAULT
    return SEED_DEFAULT if value is None else int(value)


def _examples(config: pytest.Config | None, given: int | None) -> int:
    value = config.getoption("maskproof_examples") if config is not None else None
    chosen = given if value is None else int(value)
    if chosen is None:
        return EXAMPLES_DEFAULT
    if chosen < 1:
        raise pytest.UsageError(f"--maskproof-examples must be a positive integer, got {chosen}")
    return chosen


def _timeout(config: pytest.Config | None) -> float | None:
    value = config.getoption("maskproof_timeout") if config is not None else None
    seconds = TIMEOUT_DEFAULT if value is None else float(value)
    if not seconds >= 0:
        raise pytest.UsageError(f"--maskproof-timeout must be >= 0 seconds, got {seconds}")
    return None if seconds == 0 else seconds


def _xfail_mark(known: KnownFailure | None) -> list[pytest.MarkDecorator]:
    if known is None:
        return []
    return [pytest.mark.xfail(reason=known.reason, strict=True, raises=ContractFailure)]


def contract_tests(target: str, *, xfail: str | Path | None = None,
                   examples: int | None = None, seed: int | None = None,
                   contracts: Sequence[str] | None = None) -> Callable[..., None]:
    """A pytest test function parametrised over the catalogue's contracts, for ``target``.

    Assign it to a ``test_*`` name in a test module. ``examples`` defaults to 40 Hypothesis
    examples per contract (``--maskproof-examples`` overrides it), ``seed`` to
    ``--hypothesis-seed`` or 0; ``contracts`` keeps only those ids.
    """
    ids = contract_ids()
    unknown = sorted(set(contracts or ()) - set(ids))
    if unknown:
        raise ValueError(f"contracts: unknown contract id(s) {unknown}; known: {ids}")
    known = read_xfail_file(Path(xfail), ids) if xfail is not None else {}
    params = [pytest.param(cid, id=cid, marks=_xfail_mark(known.get(cid)))
              for cid in ids if contracts is None or cid in contracts]

    @pytest.mark.parametrize("maskproof_contract", params)
    def test_contract(maskproof_contract: str, request: pytest.FixtureRequest) -> None:
        config = request.config
        chosen_seed = _hypothesis_seed(config) if seed is None else seed
        run_one(target, maskproof_contract, _examples(config, examples), chosen_seed,
                _timeout(config))

    test_contract.__doc__ = f"maskproof's audit contracts on {target}"
    return test_contract


class AdapterNode(pytest.Collector):
    """``maskproof[module:Adapter]``: the contracts of one ``--maskproof-adapter``."""

    def collect(self) -> list[pytest.Item]:  # items are made in pytest_collection_modifyitems
        return []


class ContractItem(pytest.Item):
    """One contract on one adapter."""

    def __init__(self, *, target: str, contract_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target, self.contract_id = target, contract_id

    def runtest(self) -> None:
        run_one(self.target, self.contract_id, _examples(self.config, None),
                _hypothesis_seed(self.config), _timeout(self.config))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ContractFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"maskproof contract {self.contract_id} on {self.target}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("maskproof", "maskproof audit contracts")
    group.addoption("--maskproof-adapter", action="append", default=[], metavar="MODULE:OBJECT",
                    help="add one test per audit contract on this adapter (repeatable)")
    group.addoption("--maskproof-xfail", metavar="FILE", default=None,
                    help="contracts known to fail: '<contract id> <reason>' per line; they run "
                         "as strict xfails")
    group.addoption("--maskproof-examples", type=int, default=None, metavar="N",
                    help=f"Hypothesis examples per contract (default {EXAMPLES_DEFAULT})")
    group.addoption("--maskproof-timeout", type=float, default=None, metavar="SECONDS",
                    help=f"limit per contract; past it the test fails as 'did not terminate' "
                         f"(default {TIMEOUT_DEFAULT:g}; 0: none)")


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect, so they apply to these items too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    targets: list[str] = config.getoption("maskproof_adapter")
    xfail_file: str | None = config.getoption("maskproof_xfail")
    if not targets:
        if xfail_file is not None:
            raise pytest.UsageError("--maskproof-xfail needs --maskproof-adapter")
        return
    ids = contract_ids()
    known = read_xfail_file(Path(xfail_file), ids) if xfail_file is not None else {}
    for target in targets:
        _adapter(target)  # a target that does not load is a usage error, before any test runs
        name = f"maskproof[{target}]"
        node = AdapterNode.from_parent(session, name=name, nodeid=name)
        made: list[pytest.Item] = []  # then list(made): CollectReport wants Item | Collector
        for cid in ids:
            item = ContractItem.from_parent(node, name=cid, target=target, contract_id=cid)
            for mark in _xfail_mark(known.get(cid)):
                item.add_marker(mark)
            made.append(item)
        # Reported as collected, so the terminal's and JUnit's counts include these items.
        config.hook.pytest_collectreport(
            report=pytest.CollectReport(node.nodeid, "passed", None, list(made)))
        items.extend(made)
