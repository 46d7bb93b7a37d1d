"""Where Hypothesis keeps its files while ``maskproof check``, ``audit`` or ``zoo`` runs.

Hypothesis writes a storage folder, ``.hypothesis/`` in the current directory unless told
otherwise, even with ``database=None``: it caches there the constants it collects from local
source files (``constants/``) and a Unicode table. These commands must not leave it in the
user's working directory, so :func:`hypothesis_storage` points it at ``--hypothesis-db DIR`` when
given, else at a temporary folder removed afterwards, and restores the previous setting on exit.

The switch is :func:`hypothesis.configuration.set_hypothesis_home_dir`, which takes effect at any
time; ``HYPOTHESIS_STORAGE_DIRECTORY`` is read only once, at Hypothesis's first storage access,
so it cannot redirect a second command run in the same process (a test calling ``main``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir, storage_directory
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

#: The example database's folder inside the storage folder, where Hypothesis puts its own.
EXAMPLES = "examples"


def current_home() -> Path:
    """The storage folder Hypothesis uses now (resolving it, as its first access would)."""
    # Recent Hypothesis returns a StorageDirectory (.home_directory), older releases a Path.
    current: object = storage_directory(intent_to_write=False)
    return Path(str(getattr(current, "home_directory", current)))


def check_storage_folder(directory: Path) -> None:
    """Refuse a ``--hypothesis-db`` that cannot be a folder (one line, via ``bridge.cli``)."""
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"--hypothesis-db {directory} exists and is not a directory")


@contextmanager
def hypothesis_storage(directory: Path | None) -> Iterator[Path]:
    """Make ``directory`` (or a temporary folder, removed on exit) Hypothesis's storage folder.

    Yields the folder in use; the previous storage folder is restored on exit.
    """
    if directory is not None:
        check_storage_folder(directory)
        directory.mkdir(parents=True, exist_ok=True)
    previous = current_home()
    with ExitStack() as stack:
        home = directory if directory is not None else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="maskproof-hypothesis-")))
        set_hypothesis_home_dir(home)
        stack.callback(set_hypothesis_home_dir, previous)  # runs before the folder is removed
        yield home


def example_database(directory: Path | None) -> ExampleDatabase | None:
    """The example database in storage folder ``directory`` (``None``: no database)."""
    return None if directory is None else DirectoryBasedExampleDatabase(directory / EXAMPLES)
