"""Pure: where start-up time goes, from a container log read with Docker's timestamps.

Each line of `docker logs --timestamps` starts with the moment the daemon received it (RFC 3339,
nanoseconds). A phase line's `at_s` is that moment relative to the container's `State.StartedAt`:
one clock for the whole start, even when the worker's own `elapsed_ms` restarts (the reference
worker's boot execs `python -m worker`, whose clock starts again at 0). `elapsed_s` is the
worker's figure as printed, for what it is worth.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from harness.phases import parse_phase_line

_STAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})(?: |$)"
)


def parse_docker_time(text: str) -> float | None:
    """Epoch seconds of a Docker RFC 3339 time; None for junk and for Docker's zero time."""
    m = _STAMP.match(text.strip() + " ")
    if m is None:
        return None
    whole, frac, zone = m.groups()
    try:
        t = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    if t.year < 1970:
        return None  # "0001-01-01T00:00:00Z": not started (or not known)
    return t.astimezone(UTC).timestamp() + (int(frac) / 10 ** len(frac) if frac else 0.0)


def split_stamp(line: str) -> tuple[float | None, str]:
    """(epoch seconds, the line's text) of one timestamped log line; (None, line) if unstamped."""
    m = _STAMP.match(line)
    if m is None:
        return None, line
    return parse_docker_time(m.group(0)), line[m.end() :]


def strip_stamps(log: str) -> str:
    """The log as the worker printed it (timestamps removed)."""
    return "\n".join(split_stamp(line)[1] for line in log.splitlines())


def _elapsed_s(record: dict[str, Any]) -> float | None:
    value = record.get("elapsed_ms")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(value / 1000, 3) if math.isfinite(value) and value >= 0 else None


def phase_times(log: str, started_at: float | None) -> list[dict[str, Any]]:
    """One {phase, status, elapsed_s, at_s} per phase line of a timestamped log, in order.

    `started_at` is the container's StartedAt (epoch seconds); without it at_s is None.
    """
    rows = []
    for line in log.splitlines():
        when, text = split_stamp(line)
        record = parse_phase_line(text)
        if record is None:
            continue
        at = round(when - started_at, 3) if when is not None and started_at is not None else None
        rows.append(
            {
                "phase": record["phase"],
                "status": record["status"],
                "elapsed_s": _elapsed_s(record),
                "at_s": at,
            }
        )
    return rows


def ready_gap_s(
    rows: list[dict[str, Any]], api_ready_at: float | None, started_at: float | None
) -> float | None:
    """Seconds from the worker's last `ready`/`ok` line (as Docker saw it) to the API answering
    (`api_ready_at`, epoch seconds, as the harness saw it); None when either is missing."""
    if api_ready_at is None or started_at is None:
        return None
    ready = [
        r for r in rows if r["phase"] == "ready" and r["status"] == "ok" and r["at_s"] is not None
    ]
    if not ready:
        return None
    return round(api_ready_at - (started_at + ready[-1]["at_s"]), 3)
