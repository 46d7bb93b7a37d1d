"""Optional copies of the metric lines (``--log csv`` / ``--log tensorboard``).

``metrics.jsonl`` is always written and stays the record a resumed run trims and continues; these
writers only mirror it. The CSV file is rewritten from the kept lines when a run resumes, so it
never holds a line of an abandoned stretch; TensorBoard is told to purge the events from the
resumed step on (``purge_step``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from maskproof.runtime.atomic import write_bytes_atomic
from maskproof.runtime.errors import UserError

CSV_NAME = "metrics.csv"
TENSORBOARD_DIR = "tensorboard"
#: ``--log`` values; ``jsonl`` is accepted and always on.
WRITERS = ("jsonl", "csv", "tensorboard")
_INSTALL = "pip install tensorboard"


def parse_log_writers(values: Sequence[str]) -> tuple[str, ...]:
    """``--log`` values (repeatable, each a comma list) as the sorted extra writers' names."""
    names: set[str] = set()
    for value in values:
        for name in value.split(","):
            name = name.strip().lower()
            if name not in WRITERS:
                raise UserError(f"--log {value}: unknown writer {name!r}; expected csv or "
                                "tensorboard (comma list or repeated; jsonl is always written)")
            names.add(name)
    names.discard("jsonl")
    return tuple(sorted(names))


def require_available(writers: Sequence[str]) -> None:
    """Fail before the run starts if a requested writer's package is missing."""
    if "tensorboard" in writers:
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401
        except ImportError:
            raise UserError("--log tensorboard: the `tensorboard` package is not installed; "
                            f"install it with `{_INSTALL}` or drop --log tensorboard") from None


def scalar_fields(record: dict[str, Any]) -> dict[str, float]:
    """The numeric fields of a metric line (lists such as ``step_losses`` are left out)."""
    return {name: value for name, value in record.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


class MetricWriter(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class CsvWriter:
    """``metrics.csv``: one row per metric line, the numeric columns of the first line."""

    def __init__(self, path: Path, kept: Sequence[dict[str, Any]]) -> None:
        self.columns: list[str] | None = list(scalar_fields(kept[0])) if kept else None
        buffer = io.StringIO()
        if self.columns is not None:
            writer = csv.DictWriter(buffer, self.columns, extrasaction="ignore", restval="")
            writer.writeheader()
            writer.writerows(scalar_fields(record) for record in kept)
        write_bytes_atomic(path, buffer.getvalue().encode())  # a resumed run's lines only
        self.handle = path.open("a", encoding="utf-8", newline="")

    def write(self, record: dict[str, Any]) -> None:
        row = scalar_fields(record)
        first = self.columns is None
        if self.columns is None:
            self.columns = list(row)
        writer = csv.DictWriter(self.handle, self.columns, extrasaction="ignore", restval="")
        if first:
            writer.writeheader()
        writer.writerow(row)
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


class TensorBoardWriter:
    """Every numeric field as a scalar ``train/NAME`` at the line's step."""

    def __init__(self, folder: Path, purge_step: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder), purge_step=purge_step)

    def write(self, record: dict[str, Any]) -> None:
        step = int(record["step"])
        for name, value in scalar_fields(record).items():
            if name != "step":
                self.writer.add_scalar(f"train/{name}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def open_writers(names: Sequence[str], run_dir: Path, kept: Sequence[dict[str, Any]],
                 resumed_at: int | None) -> list[MetricWriter]:
    """The requested writers for ``run_dir``; ``kept``: the metric lines a resumed run keeps."""
    writers: list[MetricWriter] = []
    if "csv" in names:
        writers.append(CsvWriter(run_dir / CSV_NAME, kept))
    if "tensorboard" in names:
        writers.append(TensorBoardWriter(run_dir / TENSORBOARD_DIR, resumed_at))
    return writers
