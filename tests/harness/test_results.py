"""harness.results: the versioned record round-trips; the store keys by machine and sha."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.results import (
    SCHEMA_VERSION,
    CommitRecord,
    LatencyRecord,
    Machine,
    Result,
    ResultStore,
    StartupRecord,
)

REQUIRED = [
    ("schema_version",),
    ("commit",),
    ("startup", "ok"),
    ("startup", "exit_code"),
    ("startup", "phase"),
    ("startup", "ready_s"),
    ("image", "size_bytes"),
    ("latency", "first_s"),
    ("latency", "warm_p50_s"),
    ("latency", "warm_p95_s"),
    ("latency", "samples_s"),
]


def make(sha: str = "a" * 40, samples: list[float] | None = None, fp: str = "f") -> Result:
    return Result(
        config_fingerprint=fp,
        machine=Machine(id="m1", cpu="cpu", cores=2),
        commit=CommitRecord(sha=sha, subject="s"),
        startup=StartupRecord(ok=True, ready_s=1.5, phase="ready"),
        latency=LatencyRecord(ok=True, first_s=0.2, samples_s=samples or [0.1, 0.2]),
    )


def test_json_has_the_documented_fields() -> None:
    doc = json.loads(make().to_json())
    for path in REQUIRED:
        node = doc
        for key in path:
            assert key in node, path
            node = node[key]
    assert doc["schema_version"] == SCHEMA_VERSION


@settings(max_examples=30)
@given(
    samples=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=20),
    sha=st.text("0123456789abcdef", min_size=40, max_size=40),
    subject=st.text(max_size=50),
)
def test_round_trip(samples: list[float], sha: str, subject: str) -> None:
    r = make(sha, samples)
    r.commit.subject = subject
    assert Result.from_json(r.to_json()) == r


def test_store_save_load_and_misses(tmp_path: Path) -> None:
    store = ResultStore(tmp_path, "m1")
    r = make()
    path = store.save(r)
    assert path == tmp_path / "m1" / f"{'a' * 40}.json"
    assert store.load("a" * 40, "f") == r
    assert store.load("a" * 40, "other-config") is None
    assert store.load("b" * 40) is None
    assert ResultStore(tmp_path, "m2").load("a" * 40) is None  # another machine's results
    raw = json.loads(path.read_text())
    raw["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(raw))
    assert store.load("a" * 40) is None
    path.write_text("{not json")
    assert store.load("a" * 40) is None
