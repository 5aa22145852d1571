"""Start-up phases: one JSON line each on stdout, and one exit code per failing phase.

Standard library only: the boot program imports this before any virtual environment exists.
A line looks like
    {"phase": "volume", "status": "ok", "elapsed_ms": 3, "details": {...}}
and a failure ends the process with
    {"phase": "disk", "status": "fail", "exit_code": 12, "cause": "...", "remedy": "...", ...}
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, NoReturn

# Order matters: it is the order the phases run in. Exit codes are stable API (README table).
EXIT_CODES: dict[str, int] = {
    "env": 10,
    "volume": 11,
    "disk": 12,
    "venv": 13,
    "imports": 14,
    "device": 15,
    "model": 16,
    "warmup": 17,
    "serve": 18,
}
PHASES: tuple[str, ...] = (*EXIT_CODES, "ready")

_T0 = time.monotonic()


class PhaseError(Exception):
    """A start-up failure with what a person needs to fix it."""

    def __init__(self, phase: str, cause: str, remedy: str, **details: Any) -> None:
        if phase not in EXIT_CODES:
            raise ValueError(f"unknown phase {phase!r}")
        super().__init__(f"{phase}: {cause}")
        self.phase = phase
        self.cause = cause
        self.remedy = remedy
        self.details = details

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.phase]


def emit(phase: str, status: str, **fields: Any) -> dict[str, Any]:
    """Print one phase line (flushed at once, so `docker logs` shows it live) and return it."""
    record = {
        "phase": phase,
        "status": status,
        "elapsed_ms": round((time.monotonic() - _T0) * 1000),
    }
    record.update(fields)
    print(json.dumps(record, default=str, sort_keys=False), flush=True)
    return record


def fail(error: PhaseError) -> NoReturn:
    """Print the one failure line for `error` and exit with its phase's code."""
    emit(
        error.phase,
        "fail",
        exit_code=error.exit_code,
        cause=error.cause,
        remedy=error.remedy,
        details=error.details,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    raise SystemExit(error.exit_code)


def parse_line(line: str) -> dict[str, Any] | None:
    """The phase record in one log line, or None for any other line."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if isinstance(record, dict) and record.get("phase") in PHASES and "status" in record:
        return record
    return None
