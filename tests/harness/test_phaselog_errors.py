"""Phase-line summaries of container logs, and the error kinds' exit codes."""

from __future__ import annotations

import json

import pytest

from harness.errors import EXIT_CODES, HarnessError
from harness.phaselog import summarize
from worker.phases import EXIT_CODES as WORKER_CODES


def line(**kw) -> str:
    return json.dumps(kw)


def test_summary_of_a_failing_start() -> None:
    log = "\n".join(
        [
            "plain text",
            line(phase="env", status="ok", elapsed_ms=1),
            line(phase="venv", status="fail", exit_code=13, cause="pip", remedy="r", details={}),
            '{"phase": "nonsense", "status": "ok"}',
            "{broken json",
        ]
    )
    s = summarize(log)
    assert [r["phase"] for r in s.records] == ["env", "venv"]
    assert s.phase == "venv" and s.failed["exit_code"] == 13
    assert s.ready_s is None


def test_summary_of_a_ready_worker() -> None:
    log = (
        line(phase="env", status="ok", elapsed_ms=1)
        + "\n"
        + line(phase="ready", status="ok", elapsed_ms=2500)
    )
    s = summarize(log)
    assert s.phase == "ready" and s.failed is None and s.ready_s == 2.5
    assert summarize("no phase lines at all").phase is None


def test_exit_codes_are_distinct_and_clear_of_the_workers() -> None:
    codes = list(EXIT_CODES.values())
    assert len(codes) == len(set(codes))
    assert not set(codes) & {0, 1, 2}  # success, crash, usage
    assert set(EXIT_CODES) >= {
        "bad_revision",
        "not_a_repo",
        "build",
        "never_ready",
        "request",
        "docker",
        "config",
        "regression",
    }
    # The harness's codes are its own; a worker's phase codes are reported in the record.
    assert isinstance(WORKER_CODES, dict)


def test_one_line() -> None:
    e = HarnessError("it\nbroke", "build", "fix\nit")
    assert e.one_line() == "error: it broke -- fix it"
    assert e.exit_code == EXIT_CODES["build"]
    with pytest.raises(ValueError):
        HarnessError("x", "nonsense")
