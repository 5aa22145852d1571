"""Progress lines while an installer runs, also while it prints nothing.

Standard library only. pip is silent for minutes while it unpacks torch, and uv prints almost
nothing at all (progress bars off), so a line-driven "progress every 15 s" never comes. A
`Ticker` is a daemon thread that emits one `venv progress` line every `interval_s` (on a fixed
schedule from its start, so a slow disk walk does not add drift) with the seconds elapsed, what
the caller can count (packages collected, the last output line) and the bytes on disk of the
folders being filled (the new venv; uv's cache). On exit it emits one closing line.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from worker.phases import emit

INTERVAL_S = 15.0


def disk_bytes(root: Path) -> int:
    """Bytes allocated under `root` (st_blocks, symlinks not followed); files that vanish while
    the installer works are skipped, a missing root is 0."""
    total = 0
    stack = [str(root)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total


class Ticker:
    """`with Ticker("installing", ...):` emits progress lines until the block ends."""

    def __init__(
        self,
        step: str,
        *,
        interval_s: float = INTERVAL_S,
        watch: Mapping[str, Path] | None = None,
        fields: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.step = step
        self.interval_s = interval_s
        self.watch = dict(watch or {})
        self.fields = fields or dict
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ticker-{step}", daemon=True)
        self._t0 = time.monotonic()

    def line(self, **extra: Any) -> dict[str, Any]:
        """Emit one progress line now (what the thread does on every tick)."""
        sizes = {key: disk_bytes(path) for key, path in self.watch.items()}
        elapsed = round(time.monotonic() - self._t0, 1)
        return emit(
            "venv", "progress", step=self.step, elapsed_s=elapsed, **self.fields(), **sizes, **extra
        )

    def _wait_s(self) -> float:
        """Seconds to the next slot of the schedule (a slot missed by a slow walk is skipped)."""
        since = time.monotonic() - self._t0
        return (math.floor(since / self.interval_s) + 1) * self.interval_s - since

    def _run(self) -> None:
        while not self._stop.wait(self._wait_s()):
            self.ticks += 1
            self.line()

    def __enter__(self) -> Ticker:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        if kind is None:
            self.line(finished=True)
