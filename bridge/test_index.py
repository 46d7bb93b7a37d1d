"""Which test files exercise each spec mirror, recorded in the repository and shipped.

``maskproof check`` reports, for every Lean ``def``, the tests that name its Python mirror. An
installed maskproof has no ``tests/`` folder, so the table is recorded here from the checkout's
tests (``python -m maskproof.bridge.test_index``) and shipped as ``test_index.json``; a test in
the suite fails when the recorded table and the tests disagree, so it cannot go stale.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

INDEX_NAME = "test_index.json"
#: Folders under tests/ that the suite does not collect (tests/conftest.py's collect_ignore):
#: ``wheel/`` holds a user's project that scripts/check_wheel.sh runs against the wheel.
NOT_THE_SUITE = frozenset({"wheel"})


def mirror_short_names() -> list[str]:
    """The last dotted part of every mirror's Python name (what a test file would spell)."""
    from maskproof import spec

    return sorted({m.python_name.rsplit(".", 1)[-1] for m in spec.MIRRORS.values()})


def scan(names: Iterable[str], tests_root: Path) -> dict[str, list[str]]:
    """``name -> test files under tests_root that mention it``, paths as ``tests/...``."""
    sources = {path: path.read_text("utf-8") for path in sorted(tests_root.rglob("test_*.py"))
               if path.relative_to(tests_root).parts[0] not in NOT_THE_SUITE}
    found: dict[str, list[str]] = {}
    for name in names:
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        hits = [path.relative_to(tests_root.parent).as_posix()
                for path, text in sources.items() if pattern.search(text)]
        if hits:
            found[name] = hits
    return found


def recorded() -> dict[str, list[str]]:
    """The shipped table (``{}`` if this build has none)."""
    entry = resources.files("maskproof.bridge").joinpath(INDEX_NAME)
    if not entry.is_file():
        return {}
    table: dict[str, list[str]] = json.loads(entry.read_text("utf-8"))
    return table


def render(table: dict[str, list[str]]) -> str:
    return json.dumps(table, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    tests_root = Path(argv[0]) if argv else Path("tests")
    if not tests_root.is_dir():
        print(f"test_index: {tests_root} is not a folder; expected the checkout's tests/",
              file=sys.stderr)
        return 2
    target = Path(__file__).with_name(INDEX_NAME)
    target.write_text(render(scan(mirror_short_names(), tests_root)), "utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
