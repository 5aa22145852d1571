"""SIGTERM unwinds like Ctrl-C, so every `finally` runs: containers removed, builds killed.

Python's default for SIGTERM ends the process on the spot, leaving worker containers running.
Every command (and the perf gate's bisect) runs inside `sigterm_unwinds()`, which turns SIGTERM
into `Terminated`, a KeyboardInterrupt, for as long as it is entered.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwind like Ctrl-C."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """While entered, SIGTERM raises `Terminated` in the main thread (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
