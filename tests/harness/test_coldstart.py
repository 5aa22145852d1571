"""harness.coldstart: the fresh volume swapped into the config, the install time read from the
worker's phase lines, and the cold start's hard limit in compare (pure; the real cold start is
`harness measure --cold-volume`, minutes of install, not part of the default run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.coldstart import cold_config, cold_line, install_seconds, venv_seconds
from harness.config import parse_config
from harness.errors import HarnessError
from harness.results import ColdStartRecord, Result
from harness.scorecard import score
from tests.harness.test_scorecard import rec

TOML = """
[run.env]
WORKER_VOLUME = "/runpod-volume"
[[run.mounts]]
source = "~/vol"
target = "/runpod-volume"
[[run.mounts]]
source = "/etc/ssl/certs/ca-certificates.crt"
target = "/etc/worker-ca.crt"
read_only = true
[limits]
cold_ready_hard_s = 60.0
"""


def test_only_the_volume_mount_is_swapped(tmp_path: Path) -> None:
    cfg = parse_config(TOML, tmp_path)
    cold = cold_config(cfg, tmp_path / "fresh")
    assert [m.source for m in cold.run.mounts] == [
        str(tmp_path / "fresh"),
        "/etc/ssl/certs/ca-certificates.crt",
    ]
    assert cfg.run.mounts[0].source == "~/vol"  # the config itself is untouched
    assert cold.fingerprint() != cfg.fingerprint()


def test_no_volume_mount_is_a_config_error(tmp_path: Path) -> None:
    cfg = parse_config("[run.env]\nWORKER_VOLUME = '/elsewhere'\n", tmp_path)
    with pytest.raises(HarnessError) as err:
        cold_config(cfg, tmp_path)
    assert err.value.kind == "config" and "/elsewhere" in str(err.value)


@given(st.floats(0, 1e4, allow_nan=False), st.lists(st.sampled_from(["create", "install"])))
def test_install_seconds_is_the_installed_line(seconds: float, steps: list[str]) -> None:
    records = [{"phase": "venv", "status": "progress", "step": s} for s in steps]
    assert install_seconds(records) is None
    records.append({"phase": "venv", "status": "progress", "step": "installed", "seconds": seconds})
    assert install_seconds(records) == seconds


def test_venv_seconds_on_dockers_clock() -> None:
    rows = [
        {"phase": "volume", "status": "ok", "at_s": 1.25},
        {"phase": "disk", "status": "ok", "at_s": 1.5},
        {"phase": "venv", "status": "ok", "at_s": 91.75},
    ]
    assert venv_seconds(rows) == 90.5
    assert venv_seconds(rows[:2]) is None


def _with_cold(r: Result, ready: float | None, ok: bool = True) -> Result:
    r.cold_start = ColdStartRecord(ok=ok, ready_s=ready, install_s=40.0, error=None if ok else "x")
    return r


def test_cold_start_over_the_hard_limit_is_worse(tmp_path: Path) -> None:
    cfg = parse_config(TOML, tmp_path)
    o = score(_with_cold(rec("a"), 50.0), _with_cold(rec("b"), 75.0), cfg)
    row = next(r for r in o.rows if r.metric == "cold start (empty volume)")
    assert row.verdict == "worse" and o.worse


def test_cold_start_under_the_limit_is_reported_only(tmp_path: Path) -> None:
    cfg = parse_config(TOML, tmp_path)
    o = score(rec("a"), _with_cold(rec("b"), 55.0), cfg)
    row = next(r for r in o.rows if r.metric == "cold start (empty volume)")
    assert row.verdict == "info" and not o.worse and "install" in row.detail


def test_failed_cold_start_crosses_the_limit(tmp_path: Path) -> None:
    cfg = parse_config(TOML, tmp_path)
    o = score(_with_cold(rec("a"), 50.0), _with_cold(rec("b"), None, ok=False), cfg)
    assert o.worse


def test_record_round_trips_with_and_without_a_cold_start() -> None:
    r = _with_cold(rec("a"), 50.0)
    assert Result.from_json(r.to_json()).cold_start == r.cold_start
    assert Result.from_json(rec("b").to_json()).cold_start is None


def test_cold_line_of_a_start_that_installed_nothing_says_so() -> None:
    """A baked image (Dockerfile.baked) starts on an empty volume without an install."""
    line = cold_line(ColdStartRecord(ok=True, ready_s=12.25, install_s=None, venv_s=0.1))
    assert "nothing installed" in line and "?" not in line
    line = cold_line(ColdStartRecord(ok=True, ready_s=80.0, install_s=70.5, venv_s=72.0))
    assert "the install 70.5 s" in line
