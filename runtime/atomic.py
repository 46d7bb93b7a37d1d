"""Atomic file writes: readers see the previous file or the complete new one, never a torn one.

Standard library only, so the torch-free commands (``maskproof check``) share it with training.
The bytes go to a temporary name in the same directory, are flushed and fsync'ed, and are renamed
over the target with :func:`os.replace` (atomic on POSIX); then the directory is fsync'ed.

:func:`tempfile.mkstemp` creates the temporary file with mode 0600 (``mkdtemp``: folders 0700),
which the rename would carry to the target; the output instead gets the mode that ``open``
would have given it under the user's umask (:func:`file_mode`, :func:`folder_mode`).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def _umask_from_proc() -> int | None:
    """``Umask:`` of ``/proc/self/status`` (Linux 4.7 and later), or ``None`` where it is absent."""
    try:
        status = Path("/proc/self/status").read_bytes()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(b"Umask:"):
            try:
                return int(line.split()[1], 8)
            except (IndexError, ValueError):
                return None
    return None


def current_umask() -> int:
    """The process's umask, read without changing it where the platform allows.

    Linux reports it in ``/proc/self/status``. Elsewhere the only way is :func:`os.umask`
    set-and-restore; the lock keeps two callers here from interleaving, and the mask set
    meanwhile (0o077) only ever makes another thread's new file more private, never less.
    """
    mask = _umask_from_proc()
    if mask is not None:
        return mask
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from ``open`` under the current umask: 0o666 & ~umask."""
    return 0o666 & ~current_umask()


def folder_mode() -> int:
    """The mode a new folder gets from ``mkdir`` under the current umask: 0o777 & ~umask."""
    return 0o777 & ~current_umask()


def apply_folder_mode(folder: Path) -> None:
    """Give ``folder`` (made by :func:`tempfile.mkdtemp`, 0700) the mode ``mkdir`` would have."""
    try:
        os.chmod(folder, folder_mode())
    except OSError:  # a filesystem without modes (vfat): the folder stays as private as it was
        pass


def _apply_file_mode(fd: int, name: str) -> None:
    """Give the file ``mkstemp`` made (0600) the mode ``open`` would have."""
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, file_mode())
        else:  # pragma: no cover - Windows before Python 3.13 has no fchmod
            os.chmod(name, file_mode())
    except OSError:  # a filesystem without modes (vfat): the file stays as private as it was
        pass


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some filesystems do not open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` so that readers see the old or the new file, whole."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            _apply_file_mode(handle.fileno(), temp_name)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except OSError as error:
        Path(temp_name).unlink(missing_ok=True)
        raise with_path(error, path) from None
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def with_path(error: OSError, path: Path) -> OSError:
    """``error`` naming ``path`` (a failed ``write`` names no file: ``[Errno 28] No space
    left on device`` alone tells a user nothing about where)."""
    if error.filename is not None:
        return error
    named = OSError(error.errno, error.strerror or str(error), str(path))
    return named


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, value: object, *, sort_keys: bool = True) -> None:
    write_text_atomic(path, json.dumps(value, indent=2, sort_keys=sort_keys) + "\n")


def blocking_file(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is a file (nothing can be made below
    it), else ``None``; an output path is checked with this before any work is done."""
    for ancestor in Path(path).absolute().parents:
        if ancestor.exists():
            return None if ancestor.is_dir() else ancestor
    return None
