"""Ctrl-C, SIGTERM and SIGHUP: one handler that turns each into KeyboardInterrupt, so every exit path cleans up.

The first signal raises `Interrupted` where the program is; later ones are only
remembered, so the clean-up that the first one set off is not itself cut short
(a process that must die at once is sent SIGKILL, and the next run removes what
it left, see kpidsl/output/folder.py). DuckDB turns a signal during a query into
its own "Query interrupted" error: `received()` tells such an error from a real one.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

HANDLED = ("SIGINT", "SIGTERM", "SIGHUP")
_received: int | None = None
_deferring = 0
_pending: int | None = None


class Interrupted(KeyboardInterrupt):
    """A signal asked kpidsl to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def install() -> None:
    """Handle the signals that ask a program to stop (in the main thread only, where Python allows it)."""
    global _received, _pending
    _received = _pending = None
    for name in HANDLED:
        number = getattr(signal, name, None)
        if number is None:
            continue  # SIGHUP does not exist everywhere
        try:
            signal.signal(number, _handler)
        except ValueError:
            return  # not the main thread: leave the defaults


def _handler(signum: int, frame: Any) -> None:
    global _received, _pending
    if _received is not None:
        return
    _received = signum
    if _deferring:
        _pending = signum
        return
    raise Interrupted(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """A signal arriving inside waits until the block is done, then interrupts (a few renames that must
    happen together). Python runs signal handlers in the main thread whichever thread the signal hits,
    so this holds while DuckDB's threads run too, unlike blocking the signal."""
    global _deferring, _pending
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring and _pending is not None:
        signum, _pending = _pending, None
        raise Interrupted(signum)


def received() -> int | None:
    """The signal that interrupted this process, if one did."""
    return _received


def exit_code(error: BaseException | None = None) -> int:
    """128 + the signal's number, as a shell reports a process a signal stopped (130 for Ctrl-C)."""
    signum = error.signum if isinstance(error, Interrupted) else _received
    return 128 + (signum or signal.SIGINT)


def describe(error: BaseException | None = None) -> str:
    """`Ctrl-C`, `SIGTERM`, ... for the one-line message."""
    signum = error.signum if isinstance(error, Interrupted) else _received
    if signum in (None, signal.SIGINT):
        return "Ctrl-C"
    return signal.Signals(signum).name
