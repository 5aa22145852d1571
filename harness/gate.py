"""The perf gate's hook: when HEAD is worse than the baseline, bisect baseline..HEAD and say who.

Kept apart from the driver so that `harness.bisect` never imports the reports (which import it).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from harness.bisect import run_bisect
from harness.bisect_report import summary_line, write_reports
from harness.compare_report import write_compare_reports
from harness.config import Config
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.interrupts import sigterm_unwinds
from harness.judgement import Options
from harness.scorecard import Scorecard

REPORT = "perf-gate"  # results/perf-gate.{md,json,html,github-action-benchmark.json,bmf.json}


def write_gate_reports(
    card: Scorecard, folder: Path, baseline: str, repo: Path | str
) -> dict[str, Path]:
    """The gate's scorecard in every format, next to each other in `folder`: Markdown (the job
    summary), JSON, HTML, and the figures for github-action-benchmark and Bencher."""
    reproduce = [
        f"harness compare {shlex.quote(baseline)} {card.candidate.commit.sha[:12]} "
        f"--repo {shlex.quote(str(repo))}",
        ".venv/bin/python -m pytest -m perf tests/perf/test_perf_gate.py",
    ]
    return write_compare_reports(card, folder, name=REPORT, reproduce=reproduce, exports=True)


def bisect_for_gate(
    repo_path: Path | str,
    baseline_sha: str,
    config: Config,
    *,
    head: str = "HEAD",
    checks: tuple[str, ...] = ("startup", "size", "latency"),
    threshold: float = 0.20,
) -> str:
    """Bisect baseline..HEAD, write the reports, return a one-line summary (never raises for a
    harness failure: that comes back as text, so the gate still prints its own table)."""
    try:
        with sigterm_unwinds():  # a stopped gate removes its containers (finally blocks)
            repo = Repo(repo_path)
            opts = Options(threshold=threshold)
            run = run_bisect(repo, baseline_sha, head, config, checks=checks, options=opts)
    except HarnessError as exc:
        return f"bisect {baseline_sha[:12]}..{head} could not run: {exc.one_line()}"
    paths = write_reports(run, config.path(config.measure.results_dir))
    return f"{summary_line(run)} (report: {paths['md']})"
