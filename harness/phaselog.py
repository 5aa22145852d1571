"""Pure: read worker start-up phase lines (worker/phases.py format) out of a container log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from worker.phases import parse_line  # the worker's own reader: one format, one parser


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


def summarize(log: str) -> PhaseSummary:
    out = PhaseSummary()
    for line in log.splitlines():
        record = parse_line(line)
        if record is None:
            continue
        out.records.append(record)
        out.last = record["phase"]
        if record["status"] == "fail" and out.failed is None:
            out.failed = record
        if record["phase"] == "ready" and record["status"] == "ok" and "elapsed_ms" in record:
            out.ready_s = float(record["elapsed_ms"]) / 1000
    return out
