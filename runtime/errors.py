"""Errors the command line reports as one line on stderr with exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import errno
import shutil
from pathlib import Path


class UserError(Exception):
    """Bad user input (a flag, a file, a device); the message names the value and the need."""


class NonFiniteLossError(UserError):
    """Training produced a NaN or infinite loss or gradient; the last good checkpoint is kept."""


class StepCheckFailed(Exception):
    """A live step check (``--check-every``) found the runtime disagreeing with the spec.

    Not a user error: the command line prints the one-line diff and exits with status 1.
    """


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by ``maskproof train`` so it unwinds like SIGINT."""


class RunStopped(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM; says which, where, and whether it can be resumed.

    A ``KeyboardInterrupt`` still, so code that stops on an interrupt keeps doing so.
    """

    def __init__(self, signal_name: str, run_dir: str | None, step: int | None) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.run_dir = run_dir  # None: stopped before the run folder held anything to resume
        self.step = step  # the step of the last checkpoint, None if there is none


class EncoderFileError(UserError):
    """An exported encoder file (``maskproof export``) that is missing, unreadable, modified,
    or whose weights do not fit the config it records; the message is one line."""


def usage_message(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's usage error, completed where it names neither the value nor the need."""
    if message.startswith("the following arguments are required: COMMAND"):
        commands = [name for action in parser._actions
                    if isinstance(action, argparse._SubParsersAction)
                    for name in action.choices]
        return f"{message}; expected one of {', '.join(commands)}"
    flag = message.removeprefix("argument ").partition(": expected one argument")[0]
    if flag != message.removeprefix("argument ") and flag.startswith("-"):
        option = flag.split("/")[0]
        return f"{message} (a value starting with '-' is read as a flag; write {option}=VALUE)"
    return message


#: ``errno`` values of a full disk or an exhausted quota.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(error: OSError) -> bool:
    return error.errno in _DISK_FULL


def os_error_message(error: OSError) -> str:
    """One line for an OS error: what failed, on which path, and (disk full) what to do."""
    where = f" writing {error.filename}" if error.filename is not None else ""
    reason = error.strerror or str(error)
    if not is_disk_full(error):
        return f"{reason}{where}" if where else str(error)
    free = ""
    if error.filename is not None:
        try:
            free = f", {shutil.disk_usage(Path(error.filename).parent).free} bytes free there"
        except OSError:
            pass
    return (f"no space left on the device{where} ({reason}{free}); free some space or write "
            "to another disk, then run the command again")
