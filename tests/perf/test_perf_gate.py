"""The performance gate: HEAD of this repo against baselines/reference-cpu.json, via the harness.

When the baseline's commit is in this clone it is rebuilt beside HEAD and both are measured in
one run with interleaved requests (latency compared statistically, start-up and size exactly);
when it is not (shallow clone), the stored record is used and only exact metrics (size, start-up
ok) and hard limits count. Fails with the comparison table when anything is worse.
Run: `.venv/bin/python -m pytest -m perf tests/perf/test_perf_gate.py` (or `tox -e perf`).
The Markdown table is also written to results/perf-gate.md for a CI comment.
HARNESS_PERF_REPO=PATH gates another checkout (its harness.toml and baselines/).
HARNESS_BISECT_ON_REGRESSION=1: on a regression, bisect baseline..HEAD and name the culprit in the
failure message (reports under results/).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import baselines
from harness.bisect import bisect_for_gate
from harness.compare_run import run_compare
from harness.config import load_config
from harness.gitrepo import Repo
from harness.report import outcome_markdown, outcome_text

# HARNESS_PERF_REPO: gate another checkout (e.g. a snapshot of the worktree) instead of this one.
ROOT = Path(os.environ.get("HARNESS_PERF_REPO") or Path(__file__).resolve().parents[2])
BASELINE = "reference-cpu"
pytestmark = [pytest.mark.perf, pytest.mark.docker, pytest.mark.timeout(3600)]


def test_head_is_not_worse_than_the_reference_baseline() -> None:
    cfg = load_config(ROOT / "harness.toml")
    folder = cfg.path(cfg.measure.baselines_dir)
    if not baselines.exists(folder, BASELINE):
        pytest.fail(
            f"no {folder / (BASELINE + '.json')}: record it on a known-good commit with "
            f"`harness baseline record REV --name {BASELINE}`"
        )
    outcome = run_compare(Repo(ROOT), BASELINE, "HEAD", cfg)
    report = cfg.path(cfg.measure.results_dir) / "perf-gate.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(outcome_markdown(outcome))
    message = "HEAD is worse than the baseline:\n" + outcome_text(outcome)
    if outcome.worse and os.environ.get("HARNESS_BISECT_ON_REGRESSION") == "1":
        message += "\n" + bisect_for_gate(ROOT, outcome.baseline.commit.sha, cfg)
    assert not outcome.worse, message
    assert outcome.candidate.startup.ok and outcome.candidate.latency.ok
