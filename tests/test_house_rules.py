"""The house rules hold on every commit: mypy --strict and ruff are clean, one import namespace."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINTED = ["spec", "runtime", "bridge", "maskproof/__init__.py", "maskproof/__main__.py",
          "maskproof/testing.py",
          "tests", "bench"]
#: The repository's top-level folders that install as maskproof.<name>: importing them by their
#: bare name would load a second copy of each module (or another project's ``spec``/``runtime``).
MAPPED = {"spec", "runtime", "bridge", "examples"}


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def test_mypy_strict_is_clean() -> None:
    # pyproject's [tool.mypy] names the files: the maskproof namespace, through its links.
    result = _run("mypy", "--strict")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "maskproof/spec" in _run("mypy", "--strict", "--verbose").stderr


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", *LINTED)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _bare_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{path.relative_to(ROOT)}:{node.lineno}: {name}" for name in names
                  if name.split(".")[0] in MAPPED]
    return found


def test_code_imports_the_maskproof_namespace_only() -> None:
    sources = [p for folder in ("spec", "runtime", "bridge", "examples", "tests", "bench")
               for p in (ROOT / folder).rglob("*.py")]
    bare = [line for path in sources for line in _bare_imports(path)]
    assert sources and not bare, bare


def test_the_namespace_links_to_the_repository_folders() -> None:
    for name in sorted(MAPPED):
        link = ROOT / "maskproof" / name
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve(), link
