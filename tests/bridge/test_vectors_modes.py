"""``maskproof vectors --out DIR`` gives DIR and its files the user's umask, not mkdtemp's 0700."""

from __future__ import annotations

from pathlib import Path

import pytest

from maskproof.bridge.cli import main
from maskproof.bridge.vectors.schema import MANIFEST
from tests.modes import mode


def assert_umask_modes(out: Path, umask: int) -> None:
    assert mode(out) == 0o777 & ~umask
    files = {p.name: mode(p) for p in out.iterdir()}
    assert MANIFEST in files and len(files) > 1, sorted(files)
    assert files == dict.fromkeys(files, 0o666 & ~umask)


def test_vectors_folder_and_files_get_the_umask_mode(tmp_path: Path, umask: int,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "new" / "v"
    assert main(["vectors", "--out", str(out)]) == 0
    assert_umask_modes(out, umask)
    assert mode(out.parent) == 0o777 & ~umask  # made by mkdir(parents=True), for comparison
    capsys.readouterr()


def test_replacing_a_vectors_folder_gives_the_umask_mode(tmp_path: Path, umask: int,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    out = tmp_path / "v"
    assert main(["vectors", "--out", str(out)]) == 0
    out.chmod(0o700)
    assert main(["vectors", "--out", str(out)]) == 0
    assert_umask_modes(out, umask)
    assert [p.name for p in tmp_path.iterdir()] == ["v"]  # no staging or retired folder left
    capsys.readouterr()
