"""Bisect reports from hand-made runs, no Docker: JSON keys, Markdown, the PNG chart."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from harness.bisect import (
    EXIT_FOUND,
    EXIT_GOOD_END_BAD,
    EXIT_NO_REGRESSION,
    EXIT_UNDECIDED,
    BisectRun,
    CheckResult,
)
from harness.bisect_report import stem, summary_line, to_json, to_markdown, write_reports
from harness.gitrepo import CommitInfo
from harness.judgement import Judgement, Options
from harness.search import Verdict

COMMITS = [f"{i:x}" * 40 for i in range(1, 10)]  # 9 commits: "111...", "222...", ...
G, B = Verdict.GOOD, Verdict.BAD


def info(sha: str, subject: str) -> CommitInfo:
    return CommitInfo(
        sha, "t" * 40, subject, "Ann <ann@example.invalid>", "2026-01-02T03:04:05+00:00", ()
    )


def step(check: str, pos: int, verdict: Verdict, figures: dict, cached: bool = False) -> Judgement:
    return Judgement(
        check, COMMITS[pos], COMMITS[0], verdict, f"{check} #{pos}", figures, 1.5, cached, pos
    )


def size_result() -> CheckResult:
    mb = 1_000_000
    probes = [
        step("size", 0, G, {"size_bytes": 100 * mb}),
        step("size", 8, B, {"size_bytes": 300 * mb}),
        step("size", 4, B, {"size_bytes": 300 * mb}, cached=True),
        step("size", 2, G, {"size_bytes": 101 * mb}),
        step("size", 3, B, {"size_bytes": 300 * mb}),
    ]
    return CheckResult(
        "size", "found", "size: first bad commit", probes, 5, COMMITS[3], COMMITS[2], [COMMITS[3]]
    )


def latency_result() -> CheckResult:
    probes = [
        step("latency", 0, G, {"first_s": 0.05}),
        step("latency", 8, B, {"median_s": 0.2, "reference_median_s": 0.1}),
        step("latency", 4, G, {"median_s": 0.1, "reference_median_s": 0.1}),
        step("latency", 6, B, {"median_s": 0.2, "reference_median_s": 0.1}),
        step("latency", 5, G, {"median_s": 0.1, "reference_median_s": 0.1}),
    ]
    confirmation = Judgement(
        "latency-confirm",
        COMMITS[6],
        COMMITS[5],
        B,
        "warm median 200 ms vs 100 ms",
        {"median_s": 0.2, "reference_median_s": 0.1, "p_value": 0.001, "samples": 30},
    )
    return CheckResult(
        "latency", "found", "latency: first bad commit", probes, 5, COMMITS[6], COMMITS[5],
        [COMMITS[6]], confirmation,
    )  # fmt: skip


def build_result() -> CheckResult:
    probes = [step("build", 0, G, {"size_bytes": 1}), step("build", 8, G, {"size_bytes": 1})]
    return CheckResult("build", "no_regression", "build: no regression", probes, 5)


def a_run(*checks: CheckResult) -> BisectRun:
    run = BisectRun(
        repo="/src/my worker",
        good=info(COMMITS[0], "good end"),
        bad=info(COMMITS[8], "bad end"),
        commits=COMMITS,
        checks=list(checks),
        options=Options(threshold=0.3, size_threshold=0.15),
        wall_s=12.345,
        built=[COMMITS[0], COMMITS[8]],
    )
    for c in checks:
        if c.first_bad:
            run.info[c.first_bad] = info(c.first_bad, f"the {c.check} culprit")
            run.info[c.last_good] = info(c.last_good, "its parent")
            run.files[c.first_bad] = ["Dockerfile", "worker/x.py"]
    return run


def test_json_report_keys_and_values() -> None:
    run = a_run(size_result(), latency_result(), build_result())
    data = to_json(run)
    assert set(data) == {
        "repo", "good", "bad", "range", "verdict", "exit_code", "checks", "culprits",
        "last_good", "steps", "built", "measured", "wall_s", "options", "engines",
    }  # fmt: skip
    assert data["verdict"] == "found" and data["exit_code"] == EXIT_FOUND == 0
    assert data["range"] == {"commits": 9, "first_parent": COMMITS}
    assert set(data["checks"]) == {"size", "latency", "build"}
    assert set(data["checks"]["size"]) == {
        "status", "message", "first_bad", "last_good", "candidates", "probes", "probe_bound",
        "confirmation", "search", "rounds", "round_bound",
    }  # fmt: skip
    assert data["checks"]["size"]["probes"] == 5 and data["checks"]["build"]["first_bad"] is None
    assert data["checks"]["latency"]["confirmation"]["check"] == "latency-confirm"
    size, latency = data["culprits"]
    assert set(size) == {
        "check", "first_bad", "last_good", "subject", "author", "date", "files", "evidence",
        "reproduce",
    }  # fmt: skip
    assert size["subject"] == "the size culprit" and size["files"] == ["Dockerfile", "worker/x.py"]
    assert size["evidence"]["at_culprit"] == pytest.approx(300)  # MB
    assert size["evidence"]["at_parent"] == pytest.approx(101)
    assert size["reproduce"] == (
        f"harness check {COMMITS[3][:12]} --check size --good {COMMITS[0][:12]} "
        "--repo '/src/my worker'"
    )
    assert latency["evidence"]["confirmation"] == {
        "verdict": "bad",
        "reason": "warm median 200 ms vs 100 ms",
        "culprit_median_s": 0.2,
        "parent_median_s": 0.1,
        "p_value": 0.001,
        "samples": 30,
    }
    assert data["last_good"] == COMMITS[2]  # before every culprit
    assert len(data["steps"]) == 12 and data["steps"][2]["cached"] is True
    # one commit measured per uncached step and the confirmation; the cached one is not listed
    assert COMMITS[4] in data["measured"]  # latency measured it even though size had it cached
    assert data["options"] == {"threshold": 0.3, "size_threshold": 0.15}
    assert "check" not in data  # only single-check runs get the top-level shortcut
    single = to_json(a_run(size_result()))
    assert (single["check"], single["first_bad"], single["last_good"]) == (
        "size",
        COMMITS[3],
        COMMITS[2],
    )


def test_markdown_report() -> None:
    run = a_run(size_result(), latency_result(), build_result())
    md = to_markdown(run, "chart.png")
    assert md.startswith(f"# Bisect {COMMITS[0][:12]}..{COMMITS[8][:12]}\n")
    assert "- verdict: **found** (exit 0); wall 12 s; images built 2" in md
    assert f"## size: `{COMMITS[3]}`" in md and f"## latency: `{COMMITS[6]}`" in md
    assert "- files changed: `Dockerfile`, `worker/x.py`" in md
    assert "- confirmed against the parent: warm median 200 ms vs 100 ms" in md
    assert md.count("\n| size | ") == 5 + 1  # five steps and the summary row
    assert "| build | no_regression | 2 (<= 5) | 0 (<= 0) | - |" in md
    assert md.rstrip().endswith("![metric over the probed commits](chart.png)")
    assert "![" not in to_markdown(run)


def test_engines_rounds_and_lost_probes_are_reported() -> None:
    size = size_result()
    size.rounds, size.round_bound = 3, 4
    for p in size.probes:
        p.figures["engine"] = "second" if p.position == 4 else "local"
    run = a_run(size)
    run.engines = {
        "used": ["local", "second"],
        "timed": "local",
        "width": {"size": 2},
        "dropped": {"second": "connection refused"},
        "lost": [
            {"check": "size", "position": 3, "sha": COMMITS[3], "engine": "second", "why": "gone"}
        ],
    }
    data = to_json(run)
    assert data["engines"]["used"] == ["local", "second"] and data["engines"]["lost"][0]["engine"]
    assert (data["checks"]["size"]["rounds"], data["checks"]["size"]["round_bound"]) == (3, 4)
    assert {s["position"]: s["figures"]["engine"] for s in data["steps"]}[4] == "second"
    md = to_markdown(run)
    assert "- engines: local, second (timed checks on local); dropped: second (connection" in md
    assert f"[size] #3 `{COMMITS[3][:12]}` on second: gone" in md
    assert "| size | found | 5 (<= 5) | 3 (<= 4) |" in md
    assert f"| size | 4 | `{COMMITS[4][:12]}` | bad | size #4 | yes | second |" in md


def test_reports_on_disk_and_the_chart_is_a_readable_png(tmp_path: Path) -> None:
    run = a_run(size_result(), latency_result(), build_result())
    paths = write_reports(run, tmp_path / "results")
    assert set(paths) == {"json", "md", "png", "html"}
    assert paths["md"].name == f"{stem(run)}.md" == f"bisect-{COMMITS[0][:12]}-{COMMITS[8][:12]}.md"
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(to_json(run)))
    assert paths["md"].read_text() == to_markdown(run, paths["png"].name)
    with Image.open(paths["png"]) as png:
        assert png.format == "PNG"
        # 9 x 2.6 inches per charted check at 90 dpi; three checks have figures
        assert png.size == (810, 702)
    pixels = matplotlib.image.imread(paths["png"])
    assert pixels.shape[:2] == (702, 810) and pixels.std() > 0  # something was drawn
    assert sorted(p.name for p in paths["md"].parent.iterdir()) == sorted(
        p.name for p in paths.values()
    )  # no temp files left


def noisy_latency_result(status: str = "found") -> CheckResult:
    """A latency result of the noisy search: ends, visit path and posterior in `search`."""
    post = [0.0, 0.0, 0.0, 0.01, 0.02, 0.96, 0.01, 0.0, 0.0]
    search = {
        "status": status,
        "ends": {
            "status": "regression", "ratio": 1.3, "low": 1.1, "high": 1.5,
            "message": "latency: bad end x1.30 the good end: bisecting",
            "good": {"samples": 40, "median_s": 0.2}, "bad": {"samples": 41, "median_s": 0.26},
        },
        "confidence": 0.95, "max_visits": 13, "visits": 4, "best": 5, "probability": 0.96,
        "posterior": post,
        "containers": {"started": 3, "reused": 1},
        "path": [
            {"position": 4, "llr": -5.1, "best": 6, "p": 0.3},
            {"position": 6, "llr": 4.9, "best": 5, "p": 0.6},
            {"position": 5, "llr": 4.7, "best": 5, "p": 0.8},
            {"position": 4, "llr": -4.8, "best": 5, "p": 0.96},
        ],
    }  # fmt: skip
    probes = [
        step("latency", 0, G, {"median_s": 0.2, "end": "good"}),
        step("latency", 8, B, {"median_s": 0.26, "end": "bad"}),
        step("latency", 4, G, {"median_s": 0.2, "llr": -5.1}),
        step("latency", 6, B, {"median_s": 0.26, "llr": 4.9}),
        step("latency", 5, B, {"median_s": 0.26, "llr": 4.7}),
    ]
    found = status == "found"
    return CheckResult(
        "latency", status, f"latency: {status}", probes, 15,
        COMMITS[5] if found else None, COMMITS[4] if found else None,
        [COMMITS[5]] if found else [], None, search,
    )  # fmt: skip


@pytest.mark.parametrize("status", ["found", "not_found"])
def test_the_latency_search_is_in_every_report(tmp_path: Path, status: str) -> None:
    run = a_run(noisy_latency_result(status))
    data = to_json(run)
    search = data["checks"]["latency"]["search"]
    assert search["probability"] == 0.96 and len(search["posterior"]) == len(COMMITS)
    assert search["ends"]["good"]["median_s"] == 0.2 and search["ends"]["bad"]["samples"] == 41
    assert [s["position"] for s in search["path"]] == [4, 6, 5, 4]
    md = to_markdown(run)
    assert "## latency: ends, visits and posterior" in md
    assert "good end (kept warm): median 200 ms, 40 samples" in md
    assert "bad end (kept warm): median 260 ms, 41 samples" in md
    assert "| 4 | 4 | -4.80 | #5 | 0.960 |" in md and "#5 0.960" in md
    assert "candidate containers: 3 started, 1 times reused" in md
    paths = write_reports(run, tmp_path)
    with Image.open(paths["png"]) as png:
        assert png.format == "PNG"
    assert run.exit_code == (EXIT_FOUND if status == "found" else EXIT_UNDECIDED)


def test_a_run_without_figures_has_no_chart(tmp_path: Path) -> None:
    bare = CheckResult("startup", "undecided", "startup: ?", [step("startup", 0, G, {})], 5)
    paths = write_reports(a_run(bare), tmp_path)
    assert set(paths) == {"json", "md", "html"}
    assert "![" not in paths["md"].read_text()
    assert "<img" not in paths["html"].read_text()


def test_summary_line() -> None:
    run = a_run(size_result(), build_result())
    assert summary_line(run) == (
        f"bisect {COMMITS[0][:12]}..{COMMITS[8][:12]} (9 commits): found; "
        f"size: {COMMITS[3][:12]} 'the size culprit'; build: no_regression"
    )


STATUSES = [
    "found", "ambiguous", "no_regression", "good_end_bad", "undecided", "unconfirmed", "not_found",
]  # fmt: skip


@given(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=5))
def test_run_verdict_and_exit_code(statuses: list[str]) -> None:
    results = [CheckResult(f"c{i}", s, "", [], 2) for i, s in enumerate(statuses)]
    run = a_run(*results)
    if "found" in statuses:
        want = ("found", EXIT_FOUND)
    elif set(statuses) == {"no_regression"}:
        want = ("no_regression", EXIT_NO_REGRESSION)
    elif "good_end_bad" in statuses:
        want = ("good_end_bad", EXIT_GOOD_END_BAD)
    else:
        want = ("undecided", EXIT_UNDECIDED)
    assert (run.verdict, run.exit_code) == want
