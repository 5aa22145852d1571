"""harness.formats: each export checked against the shape its tool documents (pydantic models
of github-action-benchmark's customSmallerIsBetter input and of Bencher Metric Format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr, TypeAdapter
from typer.testing import CliRunner

from harness.cli import app
from harness.config import load_config, parse_config
from harness.formats import BASELINE_SUFFIX, render_result, render_scorecard
from harness.gitrepo import Repo
from harness.measure import default_store, new_result
from harness.results import (
    CommitRecord,
    ImageRecord,
    LatencyRecord,
    Machine,
    MemoryRecord,
    Result,
    StartupRecord,
)
from harness.scorecard import score
from tests.gitutil import commit_files

Number = StrictInt | StrictFloat


class GabEntry(BaseModel):
    """One entry of github-action-benchmark's `customSmallerIsBetter` JSON list."""

    model_config = ConfigDict(extra="forbid")
    name: StrictStr
    unit: StrictStr
    value: Number
    range: StrictStr | None = None
    extra: StrictStr | None = None


class BmfMetric(BaseModel):
    """One measure of one benchmark in Bencher Metric Format (only `value` is required)."""

    model_config = ConfigDict(extra="forbid")
    value: Number
    lower_value: Number | None = None
    upper_value: Number | None = None


GAB = TypeAdapter(list[GabEntry])
BMF = TypeAdapter(dict[str, dict[str, BmfMetric]])
FIGURES = {
    "request/warm_p50",
    "request/warm_p95",
    "request/first",
    "startup/ready",
    "image/size",
    "memory/peak_process",
}


def no_nulls(doc: Any) -> None:
    """Optional fields are left out, never written as null (neither tool documents null)."""
    if isinstance(doc, dict):
        assert None not in doc.values(), doc
        for v in doc.values():
            no_nulls(v)
    elif isinstance(doc, list):
        for v in doc:
            no_nulls(v)


def result(sha: str = "a", scale: float = 1.0, **missing: bool) -> Result:
    lat = LatencyRecord(
        ok=True,
        first_s=None if missing.get("first") else 1.5 * scale,
        warm_p50_s=0.5 * scale,
        warm_p95_s=0.7 * scale,
        warm_min_s=0.4 * scale,
        samples_s=[0.4 * scale, 0.5 * scale, 0.7 * scale],
    )
    return Result(
        machine=Machine(id="m1"),
        commit=CommitRecord(sha=sha * 40, subject=f"commit {sha}"),
        image=ImageRecord(built_ok=True, size_bytes=int(2e9 * scale)),
        startup=StartupRecord(ok=True, ready_s=12.5 * scale),
        latency=lat,
        memory=MemoryRecord(peak_rss_bytes=None if missing.get("memory") else 1_200_000_000),
    )


def parse(text: str) -> Any:
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    no_nulls(doc)
    return doc


def test_measure_github_action_benchmark() -> None:
    entries = GAB.validate_python(parse(render_result(result(), "github-action-benchmark")))
    by_name = {e.name: e for e in entries}
    assert set(by_name) == FIGURES
    assert (
        by_name["request/warm_p50"].value == 0.5 and by_name["request/warm_p50"].unit == "seconds"
    )
    assert by_name["request/warm_p50"].range == "0.4 .. 0.7"
    assert by_name["image/size"].value == 2_000_000_000 and by_name["image/size"].unit == "bytes"
    assert "commit aaaaaaaaaaaa" in (by_name["startup/ready"].extra or "")


def test_measure_bmf() -> None:
    doc = BMF.validate_python(parse(render_result(result(), "bmf")))
    assert set(doc) == FIGURES
    p50 = doc["request/warm_p50"]["seconds"]
    assert (p50.value, p50.lower_value, p50.upper_value) == (0.5, 0.4, 0.7)
    assert doc["memory/peak_process"]["bytes"].value == 1_200_000_000


def test_figures_not_measured_are_left_out() -> None:
    r = result(first=True, memory=True)
    names = {
        e.name for e in GAB.validate_python(parse(render_result(r, "github-action-benchmark")))
    }
    assert names == FIGURES - {"request/first", "memory/peak_process"}
    assert set(BMF.validate_python(parse(render_result(r, "bmf")))) == names


def test_compare_exports_candidate_with_baseline() -> None:
    card = score(result("a"), result("b", scale=2.0), parse_config("", Path("/tmp")))
    entries = GAB.validate_python(parse(render_scorecard(card, "github-action-benchmark")))
    p50 = next(e for e in entries if e.name == "request/warm_p50")
    assert p50.value == 1.0  # the candidate's figure
    assert "baseline aaaaaaaaaaaa: 0.5 seconds" in (p50.extra or "")
    doc = BMF.validate_python(parse(render_scorecard(card, "bmf")))
    assert set(doc) == FIGURES | {name + BASELINE_SUFFIX for name in FIGURES}
    assert doc["startup/ready"]["seconds"].value == 25.0
    assert doc["startup/ready" + BASELINE_SUFFIX]["seconds"].value == 12.5
    assert render_scorecard(card, "markdown").startswith("### harness compare")
    assert json.loads(render_scorecard(card, "json"))["candidate"] == "b" * 40


def test_json_and_markdown_of_a_result() -> None:
    r = result()
    assert render_result(r, "json") == r.to_json() + "\n"  # what --json always printed
    md = render_result(r, "markdown")
    assert "| warm p50 | 0.500 s |" in md and md.startswith("### harness measure")


@given(
    st.floats(0, 1e4, allow_nan=False),
    st.one_of(st.none(), st.floats(0, 1e4)),
    st.one_of(st.none(), st.integers(0, 10**12)),
    st.one_of(st.none(), st.integers(0, 10**12)),
)
def test_any_result_exports_valid_shapes(
    p50: float, ready: float | None, size: int | None, rss: int | None
) -> None:
    r = result()
    r.latency.warm_p50_s, r.startup.ready_s = p50, ready
    r.image.size_bytes, r.memory.peak_rss_bytes = size, rss
    GAB.validate_python(parse(render_result(r, "github-action-benchmark")))
    BMF.validate_python(parse(render_result(r, "bmf")))


runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        ["measure", "--format", "csv"],
        ["measure", "--json", "--format", "bmf"],
        ["compare", "a", "b", "--format", "xml"],
        ["compare", "a", "b", "--markdown", "--json"],
    ],
)
def test_bad_format_choice_is_a_usage_error(args: list[str], tmp_path: Path) -> None:
    r = runner.invoke(app, [*args, "--repo", str(tmp_path)])
    assert r.exit_code == 2, r.output


def test_measure_command_exports_a_stored_result(tmp_path: Path) -> None:
    """No Docker: the commit's result is in the store, so `measure` only renders it."""
    path = tmp_path / "w"
    commit_files(path, {"README": "stored\n"})
    toml = tmp_path / "harness.toml"
    toml.write_text('[measure]\nresults_dir = "results"\n')
    cfg = load_config(toml)
    repo = Repo(path)
    stored = new_result(repo, repo.resolve("HEAD"), cfg)
    stored.latency, stored.startup = result().latency, result().startup
    default_store(cfg).save(stored)
    base = ["measure", "HEAD", "--repo", str(path), "--config", str(toml)]
    bmf_out = runner.invoke(app, [*base, "--format", "bmf"])
    assert bmf_out.exit_code == 0, bmf_out.output
    doc = BMF.validate_python(parse(bmf_out.stdout))
    assert doc["request/warm_p50"]["seconds"].value == 0.5
    as_json = runner.invoke(app, [*base, "--json"])
    assert json.loads(as_json.stdout)["commit"]["sha"] == stored.commit.sha
