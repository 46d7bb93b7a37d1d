"""``audit.md`` and ``audit.json``, written atomically (a temporary file, then a rename)."""

from __future__ import annotations

import json
from pathlib import Path

from maskproof.bridge.audit.runner import FAILS, AuditResult
from maskproof.runtime.atomic import write_text_atomic

JSON_VERSION = 1


def to_json(result: AuditResult) -> dict[str, object]:
    return {
        "version": JSON_VERSION,
        "target": result.target,
        "capabilities": result.capabilities,
        "examples": result.examples,
        "seed": result.seed,
        "counts": result.counts(),
        "contracts": [r.to_json() for r in result.results],
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(result: AuditResult) -> str:
    counts = result.counts()
    lines = [
        f"# maskproof audit of `{result.target}`",
        "",
        f"Capabilities: {', '.join(result.capabilities) or 'none'}. Hypothesis seed "
        f"{result.seed}, up to {result.examples} examples per contract.",
        "",
        f"**{counts['holds']} hold, {counts['fails']} fail, {counts['not applicable']} not "
        "applicable.**",
        "",
        "| contract | status | Lean theorem / source | bug family |",
        "| --- | --- | --- | --- |",
    ]
    for r in result.results:
        status = f"**{r.status}**" if r.status == FAILS else r.status
        lines.append(f"| `{r.contract.id}` — {_cell(r.contract.statement)} | {status} | "
                     f"{_cell(r.contract.source)} | {_cell(r.contract.family)} |")
    failures = result.failed
    if failures:
        lines += ["", "## Shrunk counterexamples", ""]
        for r in failures:
            example = ", ".join(f"{k}={v!r}" for k, v in r.counterexample.items())
            lines += [f"### `{r.contract.id}`", "", f"- what failed: {r.detail}",
                      f"- shrunk input: {example or '(none drawn)'}",
                      f"- input size: {r.size} scalars", ""]
    return "\n".join(lines) + "\n"


def write_report(result: AuditResult, out_dir: Path) -> tuple[Path, Path]:
    """Write both files into ``out_dir``; each appears whole or not at all."""
    md_path, json_path = out_dir / "audit.md", out_dir / "audit.json"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json_path, json.dumps(to_json(result), indent=2) + "\n")
    write_text_atomic(md_path, to_markdown(result))
    return md_path, json_path
