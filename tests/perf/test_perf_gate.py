"""The performance gate: HEAD of this repo against baselines/reference-cpu.json, via the harness.

When the baseline's commit is in this clone it is rebuilt beside HEAD and both are measured in
one run with interleaved requests (latency compared statistically, start-up and size exactly);
when it is not (shallow clone), the stored record is used and only exact metrics (size, start-up
ok) and hard limits count. Fails with the comparison table when anything is worse.
Run: `.venv/bin/python -m pytest -m perf tests/perf/test_perf_gate.py` (or `tox -e perf`).
The table is also written to results/perf-gate.md for a CI comment, beside perf-gate.json,
perf-gate.html and the figures for github-action-benchmark / Bencher
(perf-gate.github-action-benchmark.json, perf-gate.bmf.json).
HARNESS_PERF_REPO=PATH gates another checkout (its harness.toml and baselines/).
HARNESS_BISECT_ON_REGRESSION=1: on a regression, bisect baseline..HEAD and name the culprit in the
failure message (reports under results/).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import baselines
from harness.abtest import run_abtest
from harness.config import load_config
from harness.gate import bisect_for_gate, write_gate_reports
from harness.gitrepo import Repo
from harness.report import scorecard_text

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
    card = run_abtest(Repo(ROOT), BASELINE, "HEAD", cfg)
    write_gate_reports(card, cfg.path(cfg.measure.results_dir), BASELINE, ROOT)
    message = "HEAD is worse than the baseline:\n" + scorecard_text(card)
    if card.worse and os.environ.get("HARNESS_BISECT_ON_REGRESSION") == "1":
        message += "\n" + bisect_for_gate(ROOT, card.baseline.commit.sha, cfg)
    assert not card.worse, message
    assert card.candidate.startup.ok and card.candidate.latency.ok
