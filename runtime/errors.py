"""Errors the command line reports as one line on stderr with exit status 2, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad user input (a flag, a file, a device); the message names the value and the need."""


class NonFiniteLossError(UserError):
    """Training produced a NaN or infinite loss or gradient; the last good checkpoint is kept."""


class StepCheckFailed(Exception):
    """A live step check (``--check-every``) found the runtime disagreeing with the spec.

    Not a user error: the command line prints the one-line diff and exits with status 1.
    """
