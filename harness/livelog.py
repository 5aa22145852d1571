"""Show a starting worker's phase lines as they arrive (while the harness waits for ready).

`format_phase` is pure: one phase record as `[phase] status key=value ...`, with only the fields
a person watching a start-up wants (the venv install's step, installer, package counts and last
line; a failure's cause). `LiveLog` reads the container's log in slices with Docker's timestamps
(`since` one second before the newest line seen, so nothing at the edge is lost) and hands each
new phase line to a `Progress` callback exactly once; other log lines are not shown.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from harness.phases import parse_phase_line
from harness.progress import Progress
from harness.startup_times import split_stamp

SHOWN = (
    "step", "installer", "packages", "collected", "total", "elapsed_s", "venv_bytes",
    "cache_bytes", "last", "message", "cause",
)  # fmt: skip
EXIT = "exit_code"
MAX_VALUE = 80  # characters of one field's value


def _bytes(n: float) -> str:
    """1234567 -> 1.23MB (one token, so a line stays `key=value` pairs)."""
    for unit in ("B", "KB", "MB"):
        if abs(n) < 1000:
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.2f}{unit}"
        n /= 1000
    return f"{n:.2f}GB"


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\n", " ")[:MAX_VALUE]
    return json.dumps(text) if (" " in text or not text) else text


def format_phase(record: dict[str, Any]) -> str:
    """`[venv] progress step=install installer=pip packages=120` for one phase record."""
    parts = [f"[{record['phase']}]", str(record["status"])]
    for key in (*SHOWN, EXIT):
        if key in record and record[key] is not None:
            value = record[key]
            if key.endswith("_bytes") and isinstance(value, int | float):
                value = _bytes(value)
            parts.append(f"{key}={_value(value)}")
    return " ".join(parts)


class LiveLog:
    """Polls one container's log (at most every `interval_s`); each new phase line goes to
    `progress` once, formatted by `format_phase`."""

    def __init__(self, container: Any, progress: Progress, interval_s: float = 0.5) -> None:
        self.container = container
        self.progress = progress
        self.interval_s = interval_s
        self._polled = float("-inf")  # monotonic time of the last read
        self._edge: float | None = None  # epoch seconds of the newest line seen
        self._recent: dict[str, float] = {}  # raw lines near the edge -> their time
        self.shown: list[str] = []

    def poll(self, force: bool = False) -> None:
        """Read what the log gained since the last read (skipped when read < interval_s ago)."""
        now = time.monotonic()
        if not force and now - self._polled < self.interval_s:
            return
        self._polled = now
        kwargs: dict[str, Any] = {"stdout": True, "stderr": True, "timestamps": True}
        if self._edge is not None and self._edge > 1.0:
            kwargs["since"] = self._edge - 1.0
        try:
            raw = self.container.logs(**kwargs)
        except Exception:  # a container gone away: nothing more to show
            return
        for line in raw.decode(errors="replace").splitlines():
            self._take(line)

    def _take(self, line: str) -> None:
        when, text = split_stamp(line)
        if when is None or line in self._recent:
            return
        if self._edge is not None and when < self._edge - 1.0:
            return  # older than the window asked for: seen in an earlier read
        self._recent[line] = when
        if self._edge is None or when > self._edge:
            self._edge = when
            self._recent = {k: t for k, t in self._recent.items() if t >= when - 2.0}
        record = parse_phase_line(text)
        if record is not None:
            shown = format_phase(record)
            self.shown.append(shown)
            with contextlib.suppress(Exception):  # a broken display never stops the wait
                self.progress(shown)
