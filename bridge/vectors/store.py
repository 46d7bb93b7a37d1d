"""Writing a vector directory atomically and reading one back with its integrity checked.

``write_vectors`` writes every file into a fresh temporary directory beside the target and then
renames it into place, so a reader never sees half a set. The directory and its files get the
modes ``mkdir`` and ``open`` give under the user's umask (not ``mkdtemp``'s 0700).

It replaces an existing directory only when that directory is empty or is a previous vectors
directory (a manifest of our format that lists every file present); anything else is refused, so
``--out ~`` cannot wipe a home directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from maskproof.bridge.vectors.encoding import Json, VectorFormatError
from maskproof.bridge.vectors.schema import FORMAT_NAME, MANIFEST, SCHEMA_VERSION
from maskproof.runtime.atomic import apply_folder_mode


@dataclass(frozen=True)
class LoadedVectors:
    """A vector directory whose manifest and file hashes have been checked."""

    directory: Path
    manifest: dict[str, Json]
    modules: dict[str, dict[str, Json]]  # file name -> module document


def _read_manifest(directory: Path) -> dict[str, Json] | None:
    try:
        manifest = json.loads((directory / MANIFEST).read_text("ascii"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        return None
    return manifest


def _listed_files(manifest: Mapping[str, Json]) -> list[dict[str, Json]]:
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise VectorFormatError("manifest.json: 'files' must be a list of {path, sha256} objects")
    return [f for f in files if isinstance(f, dict)]


def is_vectors_directory(directory: Path) -> bool:
    """Whether ``directory`` holds a previous vector set and nothing else."""
    manifest = _read_manifest(directory)
    if manifest is None:
        return False
    try:
        listed = {str(entry.get("path")) for entry in _listed_files(manifest)} | {MANIFEST}
    except VectorFormatError:
        return False
    return {child.name for child in directory.iterdir()} <= listed


def write_vectors(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` as the whole content of ``directory``, atomically (see module docstring)."""
    target = directory.resolve()
    if target.exists():
        if not target.is_dir():
            raise ValueError(f"--out {directory} exists and is not a directory")
        if any(target.iterdir()) and not is_vectors_directory(target):
            raise ValueError(f"refusing to overwrite {directory}: it is not empty and not a "
                             f"previous vectors directory (no {MANIFEST} of {FORMAT_NAME} "
                             f"listing every file)")
    blocking = next((a for a in target.parents if a.exists() and not a.is_dir()), None)
    if blocking is not None:
        raise ValueError(f"--out {directory}: {blocking} is a file, expected a directory there")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        apply_folder_mode(staging)  # mkdtemp makes it 0700; the renamed set gets mkdir's mode
        for name, data in files.items():
            (staging / name).write_bytes(data)
        if target.exists():
            # Two renames cannot be one atomic step: move the old set aside, put it back if the
            # new one cannot take its place, and delete it only once the new set is in place.
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rename(target, retired / "vectors")
            try:
                os.rename(staging, target)
            except BaseException:
                os.rename(retired / "vectors", target)
                shutil.rmtree(retired)
                raise
            shutil.rmtree(retired)
        else:
            os.rename(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def load_vectors(directory: Path) -> LoadedVectors:
    """Read a vector directory, refusing unknown schema versions and files that fail their hash."""
    manifest = _read_manifest(directory)
    if manifest is None:
        raise VectorFormatError(f"{directory} has no {MANIFEST} of format {FORMAT_NAME}")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise VectorFormatError(f"{directory}/{MANIFEST}: schema_version {version!r}, this "
                                f"reader understands {SCHEMA_VERSION}")
    modules: dict[str, dict[str, Json]] = {}
    for entry in _listed_files(manifest):
        name = str(entry.get("path"))
        if "/" in name or "\\" in name or name.startswith("."):
            raise VectorFormatError(f"{MANIFEST} lists a path outside the directory: {name!r}")
        try:
            data = (directory / name).read_bytes()
        except OSError as error:
            raise VectorFormatError(f"{directory}/{name}: listed in {MANIFEST} but unreadable "
                                    f"({error.strerror})") from None
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise VectorFormatError(f"{directory}/{name}: SHA-256 differs from {MANIFEST}")
        if name != MANIFEST:
            document = json.loads(data)
            if not isinstance(document, dict):
                raise VectorFormatError(f"{directory}/{name}: not a module document")
            modules[name] = document
    return LoadedVectors(directory, manifest, modules)
