"""The TorchLean SSL surface at the pinned commit: every declaration, where it is, whether private.

``lean_pin.tsv`` names the TorchLean commit and toolchain (``# key: value`` header lines) and the
Lean files the spec mirrors (one row each: the commit its text was read at, its role, length and
SHA-256); a ``.tsv`` so that it ships with the package like the other tables. ``lean_surface.tsv``
lists every ``def``/``theorem``/``lemma``/``structure``/``abbrev``/``instance``/``inductive``/
``class`` those files declare, with its full Lean name, ``path:LINE`` and ``private`` status. The
network is out of reach of the tests, so both files are recorded; this module also regenerates
them, and the ``module``/``location`` columns of ``lean_declarations.tsv``, from a local copy of
the files (``scripts/lean_surface.py ROOT``, files as ``ROOT/<commit[:7]>/<path>``).

The parser reads declaration headers only (``private``/``protected``/``noncomputable``/attribute
prefixes, ``namespace``/``section``/``end`` nesting, nested ``/- -/`` comments; an anonymous
``instance : …`` would not be listed, and the pinned files have none); it is enough for the files
it was written for, not a Lean parser.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.resources
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PIN_NAME = "lean_pin.tsv"
SURFACE_NAME = "lean_surface.tsv"
DECLARATIONS_NAME = "lean_declarations.tsv"
SURFACE_COLUMNS = ("path", "line", "module", "keyword", "private", "full_name")

#: A declaration header: optional attributes and modifiers, the keyword, the (dotted) name.
HEADER = re.compile(
    r"^(?:@\[[^\]]*\]\s*)*(?P<private>private\s+)?(?:protected\s+)?(?P<noncomputable>"
    r"noncomputable\s+)?(?P<keyword>def|theorem|lemma|structure|abbrev|instance|inductive|class)"
    r"\s+(?P<name>[^\s:({\[]+)")
OPEN = re.compile(r"^(?:@\[[^\]]*\]\s*)*(?:public\s+|noncomputable\s+)*(?P<kind>namespace|section)"
                  r"\b\s*(?P<name>\S*)")
END = re.compile(r"^end\b\s*(?P<name>\S*)")
# All three are anchored at column 0 with no leading blank: declarations and scope commands start
# there in these files, and an indented line (a field, a `where` clause, a proof) matches none.
#: The package folder that holds the recorded tables; ``main`` writes the regenerated ones there.
SPEC_DIR = Path(__file__).parent


@dataclass(frozen=True)
class SurfaceDeclaration:
    """One declaration of a pinned Lean file."""

    path: str
    line: int
    module: str
    keyword: str  # "def", "noncomputable def", "theorem", "structure", "abbrev", ...
    private: bool
    full_name: str

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"


def module_of(path: str) -> str:
    """The Lean module of a source file: ``NN/API/Tensor/Views.lean`` -> ``NN.API.Tensor.Views``."""
    if not path.endswith(".lean") or path.startswith("/"):
        raise ValueError(f"expected a relative path to a .lean file, got {path!r}")
    return path[: -len(".lean")].replace("/", ".")


def _code_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, text outside comments)`` for every line; Lean block comments nest."""
    depth = 0
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        kept: list[str] = []
        # An iterator rather than index arithmetic: a two-character token consumes its second
        # character with ``next``, so the scan always moves forward and always ends.
        positions = iter(range(len(raw)))
        for i in positions:
            pair = raw[i:i + 2]
            if pair == "/-":
                depth += 1
                next(positions)
            elif pair == "-/" and depth:
                depth -= 1
                next(positions)
            elif depth == 0 and pair == "--":
                break  # a line comment runs to the end of the line
            elif depth == 0:
                kept.append(raw[i])
        lines.append((number, "".join(kept)))
    return lines


def parse_declarations(text: str, path: str) -> list[SurfaceDeclaration]:
    """Every declaration header of one Lean file, with its namespace-qualified name."""
    module = module_of(path)
    scopes: list[tuple[str, str]] = []  # ("namespace" | "section", name)
    found: list[SurfaceDeclaration] = []
    for number, line in _code_lines(text):
        if (opened := OPEN.match(line)) is not None:
            scopes.append((opened["kind"], opened["name"]))
        elif (ended := END.match(line)) is not None:
            if not scopes or scopes[-1][1] != ended["name"]:
                raise ValueError(f"{path}:{number}: `end {ended['name']}` closes "
                                 f"{scopes[-1] if scopes else 'nothing'}")
            scopes.pop()
        elif (header := HEADER.match(line)) is not None:
            # `_root_.X` names X absolutely: the open namespaces do not apply to it.
            absolute = header["name"].startswith("_root_.")
            namespace = [] if absolute else [name for kind, name in scopes if kind == "namespace"]
            name = header["name"].removeprefix("_root_.")
            keyword = ("noncomputable " if header["noncomputable"] else "") + header["keyword"]
            found.append(SurfaceDeclaration(path, number, module, keyword,
                                            header["private"] is not None,
                                            ".".join([*namespace, name])))
    return found  # Lean closes scopes still open at the end of a file (the ``public section``)


def _resource(name: str) -> str:
    # ``read_bytes().decode()``: UTF-8 without an encoding argument to get wrong.
    return importlib.resources.files(__package__).joinpath(name).read_bytes().decode()


@cache
def lean_pin() -> dict[str, str]:
    """The pin's header: ``repository``, ``commit``, ``toolchain`` and why they were chosen."""
    header = [line[2:] for line in _resource(PIN_NAME).splitlines() if line.startswith("# ")]
    return dict(line.split(": ", 1) for line in header if ": " in line)


@cache
def pinned_files() -> dict[str, dict[str, str]]:
    """``path -> {"commit", "role", "chars", "sha256"}`` for every Lean file of the surface."""
    rows = [line for line in _resource(PIN_NAME).splitlines() if not line.startswith("#")]
    return {r["path"]: {k: v for k, v in r.items() if k != "path"}
            for r in csv.DictReader(rows, delimiter="\t")}


@cache
def lean_surface() -> tuple[SurfaceDeclaration, ...]:
    """Every row of ``lean_surface.tsv``."""
    rows = csv.DictReader(_resource(SURFACE_NAME).splitlines(), delimiter="\t")
    return tuple(SurfaceDeclaration(r["path"], int(r["line"]), r["module"], r["keyword"],
                                    r["private"] == "private", r["full_name"]) for r in rows)


def render_surface(declarations: list[SurfaceDeclaration]) -> str:
    lines = ["\t".join(SURFACE_COLUMNS)]
    lines += ["\t".join((d.path, str(d.line), d.module, d.keyword,
                         "private" if d.private else "public", d.full_name))
              for d in declarations]
    return "\n".join(lines) + "\n"


def _read_pinned(root: Path, path: str, entry: dict[str, str]) -> str:
    """The text of ``path`` under ``root/<commit>/`` (or ``root/``), checked against the pin."""
    candidates = [root / entry["commit"][:7] / path, root / entry["commit"] / path, root / path]
    source = next((c for c in candidates if c.is_file()), None)
    if source is None:
        raise FileNotFoundError(f"{path}: no local copy under {root} (looked for "
                                f"{', '.join(str(c) for c in candidates)})")
    data = source.read_bytes()  # the pin hashes the file's bytes
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise ValueError(f"{source}: SHA-256 {digest} differs from the pinned {entry['sha256']}; "
                         "expected the text of the pinned commit")
    return data.decode()


def _relocate(declarations_tsv: str, by_name: dict[str, SurfaceDeclaration]) -> str:
    """``lean_declarations.tsv`` with each row's ``location`` (and ``module``) recomputed."""
    reader = csv.DictReader(declarations_tsv.splitlines(), delimiter="\t")
    header = reader.fieldnames
    if header is None:
        raise ValueError(f"{DECLARATIONS_NAME}: empty, expected a header row")
    out = ["\t".join(header)]
    for row in reader:
        full_name = f"{row['namespace']}.{row['lean_name']}"
        declaration = by_name.get(full_name)
        if declaration is None:
            raise KeyError(f"{DECLARATIONS_NAME}: {full_name} is not declared in the pinned files")
        row["location"], row["module"] = declaration.location, declaration.module
        out.append("\t".join(row[column] for column in header))
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: scripts/lean_surface.py ROOT (ROOT: a folder holding the pinned Lean files "
              f"as ROOT/<commit[:7]>/<path>), got {argv!r}", file=sys.stderr)
        return 2
    root = Path(argv[0])
    declarations: list[SurfaceDeclaration] = []
    for path, entry in sorted(pinned_files().items()):
        declarations += parse_declarations(_read_pinned(root, path, entry), path)
    by_name = {d.full_name: d for d in declarations}
    (SPEC_DIR / SURFACE_NAME).write_bytes(render_surface(declarations).encode())
    tsv = SPEC_DIR / DECLARATIONS_NAME
    tsv.write_bytes(_relocate(tsv.read_bytes().decode(), by_name).encode())
    print(f"wrote {SPEC_DIR / SURFACE_NAME} ({len(declarations)} declarations) and the "
          f"locations of {tsv}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
