"""harness.scorecard: rows and verdicts from two result records (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.config import parse_config
from harness.report import scorecard_json, scorecard_markdown, scorecard_text
from harness.results import (
    CommitRecord,
    ImageRecord,
    LatencyRecord,
    Machine,
    Result,
    StartupRecord,
)
from harness.scorecard import score

CFG = parse_config("", Path("/tmp"))


def rec(
    sha: str,
    *,
    size: int = 1_000_000_000,
    median: float = 0.5,
    ok: bool = True,
    machine: str = "m1",
    ready: float = 3.0,
    seed: int = 0,
) -> Result:
    rng = np.random.default_rng(seed)
    samples = list(median * np.exp(rng.normal(0, 0.03, 10)))
    return Result(
        machine=Machine(id=machine),
        commit=CommitRecord(sha=sha * 40, subject=f"commit {sha}"),
        image=ImageRecord(built_ok=True, size_bytes=size),
        startup=StartupRecord(
            ok=ok,
            ready_s=ready if ok else None,
            exit_code=None if ok else 13,
            phase="ready" if ok else "venv",
        ),
        latency=LatencyRecord(
            ok=ok,
            first_s=median * 3,
            warm_p50_s=float(np.median(samples)),
            samples_s=samples if ok else [],
        ),
    )


def verdicts(outcome) -> dict[str, str]:
    return {r.metric: r.verdict for r in outcome.rows}


def test_identical_commits_are_not_worse() -> None:
    o = score(rec("a", seed=1), rec("b", seed=2), CFG)
    v = verdicts(o)
    assert not o.worse
    assert v["image size"] == "same" and v["start-up"] == "same"
    assert v["warm latency p50"] == "same"


def test_slower_latency_is_worse_and_named_in_the_text() -> None:
    o = score(rec("a"), rec("b", median=1.0, seed=3), CFG)
    assert o.worse and verdicts(o)["warm latency p50"] == "worse"
    assert "warm latency p50" in scorecard_text(o)
    assert "**worse**" in scorecard_markdown(o)


def test_hard_size_limit_is_worse_even_against_a_big_baseline() -> None:
    o = score(rec("a", size=6_000_000_000), rec("b", size=6_000_000_000), CFG)
    v = verdicts(o)
    assert v["image size"] == "same" and v["image size hard limit"] == "worse" and o.worse


def test_size_over_target_is_info_only() -> None:
    o = score(rec("a", size=2_500_000_000), rec("b", size=2_500_000_000), CFG)
    assert verdicts(o)["image size target"] == "info" and not o.worse


def test_growth_past_the_size_threshold_is_worse() -> None:
    o = score(rec("a"), rec("b", size=1_100_000_000), CFG)
    assert verdicts(o)["image size"] == "worse"


def test_failed_startup_is_worse() -> None:
    o = score(rec("a"), rec("b", ok=False), CFG)
    assert verdicts(o)["start-up"] == "worse" and o.worse


def test_baseline_from_another_machine_counts_only_exact_metrics() -> None:
    o = score(rec("a", machine="other"), rec("b", median=5.0), CFG)
    v = verdicts(o)
    assert v["warm latency p50"] == "unknown" and v["ready time"] == "unknown"
    assert not o.worse
    assert not o.same_machine


def test_ready_time_is_reported_not_gated_by_default() -> None:
    row = next(
        r
        for r in score(rec("a", ready=5.0), rec("b", ready=60.0), CFG).rows
        if r.metric == "ready time"
    )
    assert row.verdict == "info" and "would be worse" in row.detail


def test_ready_time_when_gated_needs_relative_and_absolute_margin() -> None:
    cfg = parse_config("[compare]\nready_time_counts = true\n", Path("/tmp"))

    def verdict(a: float, b: float) -> str:
        o = score(rec("a", ready=a), rec("b", ready=b), cfg)
        return next(r.verdict for r in o.rows if r.metric == "ready time")

    assert verdict(1.0, 3.0) == "same"  # 3x but only 2 s (< 5 s slack)
    assert verdict(5.0, 20.0) == "worse"
    assert verdict(20.0, 5.0) == "better"
    assert verdict(10.0, 14.0) == "same"  # 4 s and 40%: under both margins


def test_the_json_keeps_each_sides_whole_record() -> None:
    """Phase times, the cold start's install and imports: what the rows sum up stays readable."""
    a, b = rec("a", seed=1), rec("b", ready=4.5, seed=2)
    doc = json.loads(scorecard_json(score(a, b, CFG)))
    assert Result.model_validate(doc["records"]["baseline"]) == a
    assert Result.model_validate(doc["records"]["candidate"]) == b
