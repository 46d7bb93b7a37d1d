"""The numbers docs/vectors.md quotes about the published set, generated so they cannot drift.

``python -m maskproof.bridge.vectors.doc_example`` prints the summary paragraph and the manifest
example; docs/vectors.md holds both verbatim and tests/bridge/test_vectors_contract.py checks
that it still does.
"""

from __future__ import annotations

import json

from maskproof.bridge.vectors.generate import generate
from maskproof.bridge.vectors.schema import DEFAULT_SEED, MANIFEST

#: The declaration the manifest example shows (with the file that holds it).
EXAMPLE_DECLARATION = "vectorMaeMask"


def summary(files: dict[str, bytes]) -> str:
    """The paragraph saying what the published set holds."""
    manifest = json.loads(files[MANIFEST])
    entries = manifest["declarations"].values()
    types = sum(1 for entry in entries if entry["kind"] == "type")
    cases = sum(entry["cases"] for entry in entries)
    rejecting = sum(entry["rejecting_cases"] for entry in entries)
    return (f"Output of the published set: {len(files)} files ({len(files) - 1} Lean modules + "
            f"`manifest.json`),\n{len(manifest['declarations'])} declarations "
            f"({len(manifest['declarations']) - types} executable definitions and decided "
            f"`Prop`s with cases,\n{types} types listed without cases), {cases} cases, "
            f"{rejecting} of them cases the Lean types reject;\n"
            f"{sum(len(data) for data in files.values())} bytes in all. "
            f"Registered defs without cases yet (`uncovered`): {len(manifest['uncovered'])}.")


def manifest_example(files: dict[str, bytes]) -> str:
    """The manifest of the published set, one file and one declaration shown."""
    manifest = json.loads(files[MANIFEST])
    declaration = manifest["declarations"][EXAMPLE_DECLARATION]
    example_file = declaration["file"]
    entry = next(f for f in manifest["files"] if f["path"] == example_file)
    lines = ["{"]
    lines += [f' "{key}": {json.dumps(manifest[key])},'
              for key in ("format", "schema_version", "generator", "generator_version", "seed")]
    lines.append(f' "files": [{{"path": "{example_file}", "bytes": {entry["bytes"]},')
    lines.append(f'            "sha256": "{entry["sha256"]}"}}, …],')
    lines.append(f' "declarations": {{"{EXAMPLE_DECLARATION}": {{"module": '
                 f'"{declaration["module"]}", "file": "{declaration["file"]}",')
    lines.append(f'                                    "kind": "{declaration["kind"]}", '
                 f'"cases": {declaration["cases"]}, '
                 f'"rejecting_cases": {declaration["rejecting_cases"]}}}, …}},')
    lines.append(f' "uncovered": {json.dumps(manifest["uncovered"])}')
    lines.append("}")
    return "\n".join(lines)


def main() -> int:
    files = generate(DEFAULT_SEED)
    print(summary(files))
    print()
    print(manifest_example(files))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
