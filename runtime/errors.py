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
