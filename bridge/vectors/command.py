"""``maskproof vectors --out DIR``: write the conformance vectors for ports.

The format document is ``docs/vectors.md`` in the repository; it ships in the package as
``format.md`` (a link to it), and ``maskproof vectors --format-doc`` prints it.

Only the standard library and ``spec/`` are needed: the vectors come from the spec, never from
the runtime, so a machine without PyTorch can write them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from maskproof.bridge.vectors.schema import DEFAULT_SEED, MANIFEST


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``vectors`` on the ``maskproof`` command line."""
    parser = subparsers.add_parser(
        "vectors", help="write JSON conformance vectors for every executable Lean definition",
        description="Evaluate the spec on fixed cases for every executable Lean definition and "
                    "write one JSON file per Lean module plus a manifest (SHA-256 per file) to "
                    "DIR, atomically: DIR is either left as it was or holds the complete set. "
                    "An existing DIR is replaced only if it is empty or a previous vectors "
                    "directory. The format: maskproof vectors --format-doc.")
    parser.add_argument("--out", metavar="DIR", help="directory to write (required unless "
                                                     "--format-doc)")
    parser.add_argument("--format-doc", action="store_true",
                        help="print the vectors' format document (schema, encoding, versioning) "
                             "and exit")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"seed of the random cases (default {DEFAULT_SEED}, the published "
                             "set)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the vectors; one summary line, exit 0."""
    if args.format_doc:
        print(format_document(), end="")
        return 0
    if args.out is None:
        raise ValueError("--out DIR is required: the folder to write the vectors to")
    from maskproof.bridge.vectors.generate import GenerationError, generate
    from maskproof.bridge.vectors.store import write_vectors

    seed: int = args.seed
    if seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {seed}")
    out = Path(args.out)
    try:
        files = generate(seed)
    except GenerationError as error:  # a defect of the case tables, not of the user's input
        print(f"maskproof vectors: internal error, nothing written: {error}", file=sys.stderr)
        return 1
    try:
        write_vectors(out, files)
    except OSError as error:
        raise ValueError(f"--out {out}: cannot write there "
                         f"({error.strerror or error}); nothing written") from None
    summary = summarise(files)
    print(f"wrote {summary[0]} files ({summary[1]} declarations, {summary[2]} cases, "
          f"{summary[3]} of them rejecting) to {out}")
    missing = json.loads(files[MANIFEST])["uncovered"]
    if missing:  # a TSV row ahead of its case table: written, but say so
        print(f"maskproof vectors: {len(missing)} registered Lean def(s) have no cases yet "
              f"(manifest 'uncovered'): {', '.join(missing)}", file=sys.stderr)
    return 0


def format_document() -> str:
    """The text of ``docs/vectors.md``, as shipped in the package."""
    from importlib import resources

    return resources.files("maskproof.bridge.vectors").joinpath("format.md").read_text("utf-8")


def summarise(files: dict[str, bytes]) -> tuple[int, int, int, int]:
    """``(files, declarations, cases, rejecting cases)`` as the manifest counts them."""
    declarations = json.loads(files[MANIFEST])["declarations"]
    cases = sum(int(entry["cases"]) for entry in declarations.values())
    rejecting = sum(int(entry["rejecting_cases"]) for entry in declarations.values())
    return len(files), len(declarations), cases, rejecting
