"""Time limits on adapter code, and where adapter code was when it raised or was stopped.

The audit runs code nobody here wrote, so a method that never returns (an I-JEPA collator's
rejection loop that cannot succeed on a small grid, say) must end as a verdict, not a hang.
:func:`time_limit` arms a POSIX interval timer whose signal raises :class:`DidNotTerminate` in
the main thread at the next Python bytecode; it derives from ``BaseException`` so an adapter's
``except Exception`` cannot swallow it. It needs ``SIGALRM`` and the main thread: elsewhere
(Windows, a worker thread) the limit is not enforced, and :func:`limits_enforced` says so. A
single C call that never returns (a deadlocked kernel) is beyond any in-process limit.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType

_HARNESS = os.path.dirname(os.path.abspath(__file__))  # bridge/audit: the contracts and runner
#: Files that are the adapter's (reported as the location) though they live beside the harness.
_ADAPTERS = frozenset({"reference.py"})


class DidNotTerminate(BaseException):
    """Adapter code ran past its time limit; ``where`` is the line it was running."""

    def __init__(self, seconds: float, where: str) -> None:
        super().__init__(f"did not terminate within {seconds:g} s (was running {where})")
        self.seconds, self.where = seconds, where


def limits_enforced() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@functools.cache
def _tool_libraries() -> tuple[str, ...]:
    import hypothesis
    import torch

    return tuple(os.path.dirname(os.path.abspath(m.__file__ or "")) + os.sep
                 for m in (torch, hypothesis))


def _ours(filename: str) -> bool:
    """Harness, torch or Hypothesis code: never the line to blame."""
    path = os.path.abspath(filename)
    if os.path.dirname(path) == _HARNESS and os.path.basename(path) not in _ADAPTERS:
        return True
    return path.startswith(_tool_libraries())


def frame_location(frame: FrameType | None) -> str:
    """``file:line in function`` of the innermost frame that is neither the harness nor torch nor
    Hypothesis (else the innermost frame): the adapter's or the audited library's own line."""
    frames: list[FrameType] = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    chosen = next((f for f in frames if not _ours(f.f_code.co_filename)), None)
    chosen = chosen or (frames[0] if frames else None)
    if chosen is None:
        return "?"
    return f"{chosen.f_code.co_filename}:{chosen.f_lineno} in {chosen.f_code.co_name}"


def traceback_location(tb: TracebackType | None) -> str:
    """The innermost ``file:line in function`` of a traceback that is the adapter's code."""
    entries = traceback.extract_tb(tb)
    outside = [e for e in entries if not _ours(e.filename)]
    if not entries:
        return "?"
    entry = (outside or entries)[-1]
    return f"{entry.filename}:{entry.lineno} in {entry.name}"


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`DidNotTerminate` in this block after ``seconds`` (``None``: no limit)."""
    if seconds is None or not limits_enforced():
        yield
        return

    def expire(_signum: int, frame: FrameType | None) -> None:
        raise DidNotTerminate(seconds, frame_location(frame))

    previous = signal.signal(signal.SIGALRM, expire)
    # Someone else's timer (pytest-timeout's signal method, say) is put back afterwards with
    # the time it had left, so nesting inside it neither cancels nor extends it.
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:
            left = max(outer_delay - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)
