"""Pure: read any worker's start-up phase lines out of a container log.

A phase line is one JSON object on a line of its own with a non-empty string `phase` and a
string `status`, e.g. `{"phase": "venv", "status": "fail", "exit_code": 13, "cause": "...",
"remedy": "..."}`. There is no list of phase names: any worker that prints such lines is read.
Optional fields the harness uses: `exit_code` (int), `cause` and `remedy` (str), `elapsed_ms`
(number, the worker's own clock). An optional field of another type is ignored, never fatal;
the record itself is kept as the worker printed it (the result store holds it as is).
`status == "fail"` marks a failure; `{"phase": "ready", "status": "ok", "elapsed_ms": N}` gives
the worker's own ready time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any


def parse_phase_line(line: str) -> dict[str, Any] | None:
    """The phase record on one log line, or None when the line is anything else."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except ValueError:  # also RecursionError's sibling for absurd nesting: not a phase line
        return None
    if not isinstance(record, dict):
        return None
    phase, status = record.get("phase"), record.get("status")
    if not (isinstance(phase, str) and phase.strip() and isinstance(status, str)):
        return None
    return record


def _text(record: dict[str, Any] | None, key: str) -> str | None:
    value = (record or {}).get(key)
    return value if isinstance(value, str) and value else None


def _int(record: dict[str, Any] | None, key: str) -> int | None:
    value = (record or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds(record: dict[str, Any], key: str) -> float | None:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) / 1000 if math.isfinite(value) and value >= 0 else None


@dataclass
class PhaseSummary:
    records: list[dict[str, Any]] = field(default_factory=list)
    failed: dict[str, Any] | None = None  # the first {"status": "fail"} record
    last: str | None = None  # the last phase seen
    ready_s: float | None = None  # the worker's own elapsed time at its "ready" line

    @property
    def phase(self) -> str | None:
        """The failing phase when one failed, else the last phase reached."""
        return self.failed["phase"] if self.failed else self.last

    @property
    def cause(self) -> str | None:
        return _text(self.failed, "cause")

    @property
    def remedy(self) -> str | None:
        return _text(self.failed, "remedy")

    @property
    def exit_code(self) -> int | None:
        """The exit code the failing phase announced (None: no failure line, or none given)."""
        return _int(self.failed, "exit_code")


def summarize(log: str) -> PhaseSummary:
    """Every phase line of `log` in order, the first failure, the last phase, the ready time."""
    out = PhaseSummary()
    for line in log.splitlines():
        record = parse_phase_line(line)
        if record is None:
            continue
        out.records.append(record)
        out.last = record["phase"]
        if record["status"] == "fail" and out.failed is None:
            out.failed = record
        if record["phase"] == "ready" and record["status"] == "ok":
            ready_s = _seconds(record, "elapsed_ms")
            if ready_s is not None:
                out.ready_s = ready_s
    return out
