"""The harness's error kinds and exit codes, and how a worker's failure maps onto them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.config import Config
from harness.container import RunningWorker
from harness.errors import EXIT_CODES, HarnessError
from harness.measure import never_ready_error, startup_into
from harness.phases import summarize
from harness.results import CommitRecord, Machine, Result


def test_exit_codes_are_distinct_and_clear_of_success_crash_and_usage() -> None:
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


def _exited_worker(log: str, exit_code: int) -> RunningWorker:
    """A worker whose container exited (what start_worker hands back; no engine needed)."""
    return RunningWorker(
        container=None,
        config=Config(),
        started_at=0.0,
        exit_code=exit_code,
        phases=summarize(log),
        log_tail=log,
    )


@given(
    phase=st.text(min_size=1, max_size=20).filter(str.strip),
    code=st.integers(min_value=1, max_value=255),
    cause=st.text(min_size=1, max_size=40).filter(str.strip),
    remedy=st.text(min_size=1, max_size=40).filter(str.strip),
)
def test_a_workers_exit_code_is_reported_never_passed_through(phase, code, cause, remedy) -> None:
    """Whatever code and phase a worker fails with, the harness exits with its own code 7
    (never_ready) and reports the worker's phase, code, cause and remedy in the record."""
    line = {"phase": phase, "status": "fail", "exit_code": code, "cause": cause, "remedy": remedy}
    worker = _exited_worker("booting\n" + json.dumps(line), code)
    result = Result(machine=Machine(id="m"), commit=CommitRecord(sha="a" * 40))
    startup_into(result, worker)
    err = never_ready_error(result, worker, Config())
    assert err.exit_code == EXIT_CODES["never_ready"] == 7
    assert result.startup.exit_code == code and result.startup.phase == phase
    assert result.startup.phases == [line]
    assert f"exited with code {code}" in err.message and cause in err.message
    assert err.hint == remedy


def test_a_worker_without_phase_lines_gets_its_last_log_line_reported() -> None:
    worker = _exited_worker("Traceback (most recent call last):\nImportError: no torch", 1)
    result = Result(machine=Machine(id="m"), commit=CommitRecord(sha="b" * 40))
    startup_into(result, worker)
    err = never_ready_error(result, worker, Config())
    assert err.exit_code == 7 and result.startup.phase is None
    assert "(log: ImportError: no torch)" in err.message
    assert result.startup.cause == err.cause == "ImportError: no torch"


def test_a_traceback_then_exit_0_is_explained_by_its_exception_line() -> None:
    """Issue 11: `exited with code 0 (last log line: })` hid the PermissionError above it."""
    log = (
        'Traceback (most recent call last):\n  File "/app/handler.py", line 9, in <module>\n'
        "    os.makedirs(VOLUME)\nPermissionError: [Errno 13] Permission denied: "
        "'/runpod-volume/f5tts'\n{\n  \"ok\": false\n}"
    )
    worker = _exited_worker(log, 0)
    result = Result(machine=Machine(id="m"), commit=CommitRecord(sha="c" * 40))
    startup_into(result, worker)
    err = never_ready_error(result, worker, Config())
    line = "PermissionError: [Errno 13] Permission denied: '/runpod-volume/f5tts'"
    assert "exited with code 0" in err.message and line in err.message
    assert "}" not in err.message
    assert err.cause == result.startup.cause == line


def test_one_line() -> None:
    e = HarnessError("it\nbroke", "build", "fix\nit")
    assert e.one_line() == "error: it broke -- fix it"
    assert e.exit_code == EXIT_CODES["build"]
    with pytest.raises(ValueError):
        HarnessError("x", "nonsense")
