"""Per-phase start-up times from a Docker log with timestamps (pure: no Docker)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.startup_times import parse_docker_time, phase_times, ready_gap_s, split_stamp

T0 = datetime(2026, 11, 29, 11, 0, 0, tzinfo=UTC)


def stamp(offset_s: float) -> str:
    """A Docker log timestamp (RFC 3339, nanoseconds, fixed width) offset_s after T0."""
    t = T0 + timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}123Z"


def line(offset_s: float, text: str) -> str:
    return f"{stamp(offset_s)} {text}"


def phase(name: str, status: str, elapsed_ms: float | None = None) -> str:
    rec: dict = {"phase": name, "status": status}
    if elapsed_ms is not None:
        rec["elapsed_ms"] = elapsed_ms
    return json.dumps(rec)


def test_docker_time_formats() -> None:
    start = T0.timestamp()
    assert parse_docker_time("2026-11-29T11:00:00.000000000Z") == start
    assert parse_docker_time("2026-11-29T11:00:01.5Z") == start + 1.5  # RFC3339Nano trims zeros
    assert parse_docker_time("2026-11-29T11:00:02Z") == start + 2
    assert parse_docker_time("0001-01-01T00:00:00Z") is None  # Docker's "never started"
    assert parse_docker_time("") is None and parse_docker_time("yesterday") is None


def test_split_stamp() -> None:
    when, text = split_stamp(line(1.25, "hello world"))
    assert when == pytest.approx(T0.timestamp() + 1.25, abs=1e-6) and text == "hello world"
    assert split_stamp("no stamp here") == (None, "no stamp here")
    when, text = split_stamp(stamp(3))  # an empty line
    assert when == pytest.approx(T0.timestamp() + 3, abs=1e-6) and text == ""


def test_boot_then_exec_restarts_the_worker_clock() -> None:
    """boot.py prints env..venv, then execs `python -m worker`, whose elapsed_ms starts at 0:
    at_s (Docker's clock) keeps going up, elapsed_s is as printed."""
    log = "\n".join(
        [
            line(0.1, phase("env", "ok", 5)),
            line(0.2, "plain text in between"),
            line(4.0, phase("venv", "ok", 3900)),
            line(5.0, phase("imports", "ok", 800)),
            line(9.5, phase("ready", "ok", 5300)),
            line(15.0, "uvicorn running"),
        ]
    )
    rows = phase_times(log, T0.timestamp())
    assert [(r["phase"], r["status"]) for r in rows] == [
        ("env", "ok"),
        ("venv", "ok"),
        ("imports", "ok"),
        ("ready", "ok"),
    ]
    assert [r["at_s"] for r in rows] == [0.1, 4.0, 5.0, 9.5]
    assert [r["elapsed_s"] for r in rows] == [0.005, 3.9, 0.8, 5.3]
    assert ready_gap_s(rows, T0.timestamp() + 17.25, T0.timestamp()) == 7.75


def test_missing_pieces_are_none() -> None:
    log = "\n".join([phase("env", "ok", "soon"), line(2, phase("ready", "ok"))])
    rows = phase_times(log, T0.timestamp())
    assert rows[0] == {"phase": "env", "status": "ok", "elapsed_s": None, "at_s": None}
    assert rows[1]["at_s"] == 2.0 and rows[1]["elapsed_s"] is None
    assert phase_times(log, None)[1]["at_s"] is None  # no StartedAt: no axis
    assert ready_gap_s(rows, None, T0.timestamp()) is None  # never answered
    no_ready = phase_times(line(1, phase("env", "ok")), T0.timestamp())
    assert ready_gap_s(no_ready, T0.timestamp() + 5, T0.timestamp()) is None


@given(st.lists(st.floats(min_value=0, max_value=3600), max_size=20))
def test_at_s_is_the_docker_offset(offsets: list[float]) -> None:
    log = "\n".join(line(o, phase(f"p{i}", "ok")) for i, o in enumerate(offsets))
    rows = phase_times(log, T0.timestamp())
    assert len(rows) == len(offsets)
    for row, offset in zip(rows, offsets, strict=True):
        assert abs(row["at_s"] - offset) <= 0.0011
