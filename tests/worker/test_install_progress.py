"""The venv install's progress lines come at a steady cadence even when the installer is silent.

Real child processes stand in for pip/uv (a Python one-liner that sleeps, a shell script named
`python`); the interval is a parameter so a test takes seconds, not minutes. No timed asserts: the
number of lines is checked against the measured wall time, with a generous factor (a loaded
machine delays the ticker's wake-ups, it does not make them more frequent).
"""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path
from typing import Any

from worker import uvrun
from worker.installwatch import disk_bytes
from worker.phases import parse_line
from worker.piprun import stream_pip

TICK = 0.2  # seconds between progress lines in these tests (15 in the worker)


def progress(out: str) -> list[dict[str, Any]]:
    records = (parse_line(line) for line in out.splitlines())
    return [r for r in records if r and r["phase"] == "venv" and r["status"] == "progress"]


def enough(lines: list[Any], wall_s: float) -> bool:
    """At least a quarter of the ticks the wall time had room for, and never fewer than two."""
    return len(lines) >= max(2, int(wall_s / TICK / 4))


def test_a_silent_installer_still_gets_progress_lines(tmp_path: Path, capsys: Any) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "already.bin").write_bytes(b"x" * 100_000)  # what the venv holds before the install
    child = [sys.executable, "-c", "import time; time.sleep(2.0)"]
    t0 = time.monotonic()
    rc = stream_pip(
        child, 7, collections.deque(maxlen=15), venv / ".pip-tmp",
        interval_s=TICK, watch={"venv_bytes": venv},
    )  # fmt: skip
    wall = time.monotonic() - t0
    lines = progress(capsys.readouterr().out)
    assert rc == 0
    assert enough(lines, wall), (len(lines), wall)
    elapsed = [r["elapsed_s"] for r in lines]
    assert elapsed == sorted(elapsed) and elapsed[-1] <= wall + 0.1
    for r in lines:
        assert (r["step"], r["installer"]) == ("installing", "pip")
        assert (r["total"], r["collected"]) == (7, 0)
        assert r["venv_bytes"] >= 100_000
    assert lines[-1].get("finished") is True and not any(r.get("finished") for r in lines[:-1])


CHATTY = """
import pathlib, sys, time
print("Collecting a==1", flush=True)
print("Processing ./b-2.whl", flush=True)
pathlib.Path(sys.argv[1], "torch.bin").write_bytes(b"y" * 300_000)
time.sleep(1.0)
print("Installing collected packages: a, b", flush=True)
"""


def test_the_closing_line_counts_packages_and_bytes(tmp_path: Path, capsys: Any) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    tail: collections.deque[str] = collections.deque(maxlen=15)
    child = [sys.executable, "-c", CHATTY, str(venv)]
    rc = stream_pip(child, 2, tail, venv / ".pip-tmp", interval_s=TICK, watch={"venv_bytes": venv})
    captured = capsys.readouterr()
    last = progress(captured.out)[-1]
    assert rc == 0 and last["finished"] is True
    assert (last["collected"], last["total"]) == (2, 2)
    assert last["last"] == "Installing collected packages: a, b"
    assert last["venv_bytes"] >= 300_000
    assert list(tail)[-1] == "Installing collected packages: a, b"
    assert "pip| Collecting a==1" in captured.err  # the installer's own output is still echoed


def test_bootstrapping_uv_is_not_silent_either(tmp_path: Path, capsys: Any) -> None:
    """pip installing uv (up to 3 minutes, output captured) under a ticker; here a fake `python`
    that takes its time and fails, so the caller goes on with pip."""
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.write_text("#!/bin/sh\nsleep 1.5\necho 'no index' >&2\nexit 1\n")
    python.chmod(0o755)
    t0 = time.monotonic()
    uv, why = uvrun.bootstrap(python, progress_s=TICK)
    wall = time.monotonic() - t0
    lines = progress(capsys.readouterr().out)
    assert uv is None and "pip exit 1" in why and "no index" in why
    assert enough(lines, wall), (len(lines), wall)
    assert {r["step"] for r in lines} == {"installing-uv"}
    assert lines[0]["package"] == f"uv=={uvrun.UV_VERSION}"


def test_disk_bytes_of_a_tree(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_bytes(b"z" * 50_000)
    (tmp_path / "link").symlink_to(tmp_path / "a")  # not followed: counted once
    assert 50_000 <= disk_bytes(tmp_path) < 2 * 50_000
    assert disk_bytes(tmp_path / "missing") == 0
