"""``audit.md`` and ``audit.json``, written atomically (a temporary file, then a rename).

``audit.json``'s layout is the JSON Schema ``audit.schema.json`` beside this file (shipped in
the package). Version 2 added ``format``, ``environment``, ``timeout``, the status
``did not terminate`` and each failing contract's ``rerun`` command, then (additively) each
failing contract's ``clauses``: every clause its shrunk example violates, which ``detail`` joins
with ``; ``.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from maskproof.bridge.audit.contract import CLAUSE_SEPARATOR
from maskproof.bridge.audit.runner import DID_NOT_TERMINATE, FAILS, AuditResult, ContractResult
from maskproof.runtime.atomic import blocking_file, write_text_atomic

JSON_VERSION = 2
FORMAT = "maskproof-audit"
MD_HEADING = "# maskproof audit of "


def rerun_command(result: AuditResult, contract_id: str) -> str:
    """The command that runs one contract again on the same target, seed and examples."""
    words = ["maskproof", "audit", result.target, "--contract", contract_id,
             "--seed", str(result.seed), "--examples", str(result.examples)]
    if result.timeout is not None:
        words += ["--timeout", f"{result.timeout:g}"]
    return shlex.join(words)


def _contract_json(result: AuditResult, r: ContractResult) -> dict[str, object]:
    entry = r.to_json()
    if r.status in (FAILS, DID_NOT_TERMINATE):
        entry["rerun"] = rerun_command(result, r.contract.id)
    return entry


def to_json(result: AuditResult) -> dict[str, object]:
    return {
        "format": FORMAT,
        "version": JSON_VERSION,
        "target": result.target,
        "capabilities": result.capabilities,
        "examples": result.examples,
        "seed": result.seed,
        "timeout": result.timeout,
        "environment": result.environment,
        "counts": result.counts(),
        "contracts": [_contract_json(result, r) for r in result.results],
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _failed(r: ContractResult) -> str:
    """The violated clauses, ``; ``-joined (with their count when there are several)."""
    if len(r.clauses) > 1:
        return f"{len(r.clauses)} clauses: {CLAUSE_SEPARATOR.join(r.clauses)}"
    return r.detail


def to_markdown(result: AuditResult) -> str:
    counts = result.counts()
    env = result.environment
    audited = ", ".join(f"{n} {v or '(not installed)'}"
                        for n, v in env.get("audited_packages", {}).items()) or "none found"
    lines = [
        f"{MD_HEADING}`{result.target}`",
        "",
        f"Capabilities: {', '.join(result.capabilities) or 'none'}. Hypothesis seed "
        f"{result.seed}, up to {result.examples} examples per contract.",
        "",
        f"maskproof {env.get('maskproof', '?')}, torch {env.get('torch', '?')}, Hypothesis "
        f"{env.get('hypothesis', '?')}, Python {env.get('python', '?')}; audited packages: "
        f"{audited}.",
        "",
        f"**{counts['holds']} hold, {counts['fails']} fail, {counts[DID_NOT_TERMINATE]} did not "
        f"terminate, {counts['not applicable']} not applicable.**",
        "",
        "| contract | status | Lean theorem / source | bug family |",
        "| --- | --- | --- | --- |",
    ]
    for r in result.results:
        status = f"**{r.status}**" if r.status in (FAILS, DID_NOT_TERMINATE) else r.status
        lines.append(f"| `{r.contract.id}` — {_cell(r.contract.statement)} | {status} | "
                     f"{_cell(r.contract.source)} | {_cell(r.contract.family)} |")
    failures = result.failed
    if failures:
        lines += ["", "## Shrunk counterexamples", ""]
        for r in failures:
            example = ", ".join(f"{k}={v!r}" for k, v in r.counterexample.items())
            lines += [f"### `{r.contract.id}`", "", f"- what failed: {_failed(r)}",
                      f"- shrunk input: {example or '(none drawn)'}",
                      f"- input size: {r.size} scalars",
                      f"- rerun: `{rerun_command(result, r.contract.id)}`", ""]
    return "\n".join(lines) + "\n"


def _written_by_us(md_path: Path, json_path: Path) -> str | None:
    """Why an existing report file is not one this command wrote (``None``: ours or absent)."""
    if json_path.exists():
        try:
            document = json.loads(json_path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return f"{json_path} exists and is not a maskproof audit report"
        if not isinstance(document, dict) or (document.get("format") != FORMAT
                                              and "contracts" not in document):
            return f"{json_path} exists and is not a maskproof audit report"
    if md_path.exists():
        try:
            with md_path.open(encoding="utf-8") as handle:
                first = handle.readline()
        except (OSError, UnicodeDecodeError):
            first = ""
        if not first.startswith(MD_HEADING):
            return f"{md_path} exists and is not a maskproof audit report"
    return None


def check_writable(out_dir: Path) -> None:
    """Refuse an ``--out`` that is a file or holds an ``audit.md``/``audit.json`` not ours."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} exists and is not a directory")
    blocking = blocking_file(out_dir)
    if blocking is not None:
        raise ValueError(f"--out {out_dir}: {blocking} is a file, expected a directory there")
    reason = _written_by_us(out_dir / "audit.md", out_dir / "audit.json")
    if reason is not None:
        raise ValueError(f"--out {out_dir}: {reason}; expected a folder without them or with "
                         "an earlier audit's (move the file or choose another --out)")


def write_report(result: AuditResult, out_dir: Path) -> tuple[Path, Path]:
    """Write both files into ``out_dir``; each appears whole or not at all."""
    md_path, json_path = out_dir / "audit.md", out_dir / "audit.json"
    check_writable(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json_path, json.dumps(to_json(result), indent=2) + "\n")
    write_text_atomic(md_path, to_markdown(result))
    return md_path, json_path
