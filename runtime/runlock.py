"""One writer per run folder: an ``O_EXCL`` lock file holding the writer's pid and host.

``maskproof train`` (a new run on ``--out``, or ``--resume``) takes ``RUN_DIR/LOCK`` before it
writes anything there and removes it when it exits, also after an error, SIGINT or SIGTERM. A
second writer finds the file and is refused with one line naming the folder and the holder's
pid. A lock left by a process that is gone (killed with SIGKILL, or a crashed machine's reboot
on the same host) is stale: it is detected and taken over with a one-line notice on stderr. A
lock from another host cannot be checked from here and is never taken over.

Standard library only. The lock records the holder's start time (Linux ``/proc``), so a pid
reused by an unrelated process does not keep a dead run's lock alive.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType

from maskproof.runtime.errors import UserError

LOCK_NAME = "LOCK"
#: How long a reader waits for a lock file just created (its content is written right after the
#: ``O_EXCL`` create) before calling it unreadable.
_READ_PATIENCE_S = 1.0


def _host() -> str:
    return socket.gethostname()


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (``/proc/PID/stat`` field 22), or ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return stat.rsplit(")", 1)[1].split()[19]
    except IndexError:
        return None


def _alive(pid: int, start: str | None) -> bool:
    """Whether ``pid`` on this host is the process that wrote the lock."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    if start is not None:
        now = _start_time(pid)
        if now is not None and now != start:
            return False  # the pid was reused by a later process
    return True


def _read(path: Path) -> dict[str, object] | None:
    """The lock's record, ``None`` if the file vanished; waits briefly for a fresh one."""
    deadline = time.monotonic() + _READ_PATIENCE_S
    while True:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise UserError(f"run folder {path.parent}: cannot read {path.name} "
                            f"({error.strerror or error})") from None
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict) and isinstance(record.get("pid"), int):
            return record
        if time.monotonic() > deadline:
            raise UserError(f"run folder {path.parent}: {path.name} is unreadable; remove it if "
                            "no maskproof run is using the folder")
        time.sleep(0.05)


def _holder(record: dict[str, object]) -> str:
    return f"pid {record.get('pid')} on {record.get('host')}"


def _stale(record: dict[str, object]) -> bool:
    if record.get("host") != _host():
        return False
    pid = record.get("pid")
    start = record.get("start")
    return isinstance(pid, int) and not _alive(pid, start if isinstance(start, str) else None)


def check_unlocked(folder: Path, flag: str) -> None:
    """Refuse early (without taking it) when ``folder`` is locked by a live writer."""
    record = _read(folder / LOCK_NAME) if (folder / LOCK_NAME).is_file() else None
    if record is not None and not _stale(record):
        raise UserError(f"{flag} {folder}: in use by another maskproof run "
                        f"({_holder(record)}); wait for it or stop it first")


class RunLock:
    """``with RunLock(folder, flag):`` holds ``folder/LOCK`` for the block."""

    def __init__(self, folder: Path, flag: str) -> None:
        self.folder = folder
        self.flag = flag
        self.path = folder / LOCK_NAME
        self.token = uuid.uuid4().hex
        self.held = False

    def _record(self) -> bytes:
        pid = os.getpid()
        return json.dumps({"pid": pid, "host": _host(), "start": _start_time(pid),
                           "token": self.token}).encode()

    def acquire(self) -> None:
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                record = _read(self.path)
                if record is None:
                    continue  # released meanwhile: try again
                if not _stale(record):
                    raise UserError(f"{self.flag} {self.folder}: in use by another maskproof "
                                    f"run ({_holder(record)}); wait for it or stop it "
                                    "first") from None
                if self._remove_stale(record):
                    print(f"maskproof train: {self.folder}: taking over the stale lock of "
                          f"{_holder(record)} (that process is gone)", file=sys.stderr)
                continue
            try:
                os.write(fd, self._record())
                os.fsync(fd)
            finally:
                os.close(fd)
            self.held = True
            return
        raise UserError(f"{self.flag} {self.folder}: could not take {self.path.name}; another "
                        "maskproof run keeps taking it")

    def _remove_stale(self, record: dict[str, object]) -> bool:
        """Remove the stale lock ``record``, never a fresh one another process took meanwhile."""
        aside = self.folder / f".{LOCK_NAME}.{self.token}.stale"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            moved = json.loads(aside.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            moved = None
        if moved != record:  # a live writer's lock: put it back (unless a third took the name)
            try:
                os.link(aside, self.path)
            except OSError:
                pass
            aside.unlink(missing_ok=True)
            return False
        aside.unlink(missing_ok=True)
        return True

    def release(self) -> None:
        """Remove the lock if it is still this process's (a removed folder holds none)."""
        if not self.held:
            return
        self.held = False
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return
        if isinstance(record, dict) and record.get("token") == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()
