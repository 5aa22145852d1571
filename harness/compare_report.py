"""A comparison's report files: Markdown, JSON, the export formats and one self-contained HTML page.

`harness compare` writes results/compare-<baseline12>-<candidate12>.{md,json,html}; the perf gate
writes results/perf-gate.{md,json,html} and its figures for github-action-benchmark
(`perf-gate.github-action-benchmark.json`) and Bencher (`perf-gate.bmf.json`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.atomic import write_atomic
from harness.charts import compare_chart
from harness.formats import render_scorecard
from harness.htmlreport import compare_page
from harness.scorecard import Scorecard

# key in the returned paths -> (format of harness.formats, file suffix)
BASIC = {"md": ("markdown", ".md"), "json": ("json", ".json")}
EXPORTS = {
    "github-action-benchmark": ("github-action-benchmark", ".github-action-benchmark.json"),
    "bmf": ("bmf", ".bmf.json"),
}


def stem(card: Scorecard) -> str:
    return f"compare-{card.baseline.commit.sha[:12]}-{card.candidate.commit.sha[:12]}"


def write_compare_reports(
    card: Scorecard,
    folder: Path,
    *,
    name: str | None = None,
    reproduce: Sequence[str] = (),
    exports: bool = False,
) -> dict[str, Path]:
    """Write `<name>.md`, `.json`, `.html` (and with `exports` the github-action-benchmark and
    BMF files) into `folder`; their paths by kind."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / (name or stem(card))
    kinds = {**BASIC, **(EXPORTS if exports else {})}
    paths = {
        key: write_atomic(Path(f"{base}{suffix}"), render_scorecard(card, fmt))
        for key, (fmt, suffix) in kinds.items()
    }
    page = compare_page(card, compare_chart(card), reproduce)
    paths["html"] = write_atomic(Path(f"{base}.html"), page)
    return paths
