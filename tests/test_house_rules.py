"""The house rules hold on every commit: mypy --strict and ruff are clean on the packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["spec", "runtime", "bridge"]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def test_mypy_strict_is_clean() -> None:
    result = _run("mypy", "--strict", *PACKAGES)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", *PACKAGES, "tests", "bench")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
