"""File-mode helpers shared by the umask tests (the ``umask`` fixture is in tests/conftest.py)."""

from __future__ import annotations

import stat
from pathlib import Path

UMASKS = [0o022, 0o027]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
