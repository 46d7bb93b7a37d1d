"""The installed namespace: maskproof never resolves a bare ``spec``/``runtime``/``bridge``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import maskproof


def test_version_is_the_distribution_version() -> None:
    from importlib.metadata import version

    assert maskproof.__version__ == version("maskproof")
    out = subprocess.run([sys.executable, "-m", "maskproof", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == f"maskproof {maskproof.__version__}"


def test_a_users_own_spec_and_runtime_packages_do_not_reach_maskproof(tmp_path: Path) -> None:
    # The audit puts the working directory on sys.path (for the user's adapter); a user project
    # with packages named like maskproof's folders must not be imported in their place.
    for name in ("spec", "runtime", "bridge"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            f"raise ImportError('the user project {name} package was imported')\n")
    result = subprocess.run(
        [sys.executable, "-m", "maskproof", "audit",
         "maskproof.bridge.audit.reference:ReferenceAdapter", "--examples", "2",
         "--contract", "lean.block_mask", "--out", "report"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "1 hold, 0 fail" in result.stdout
