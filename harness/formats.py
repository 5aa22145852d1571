"""Pure: a measured commit or a scorecard in the formats other tools read.

- `json`: the result record / scorecard as stored and printed before (`--json`).
- `github-action-benchmark`: its `customSmallerIsBetter` input, a JSON list of
  `{"name", "unit", "value", "range"?, "extra"?}` (every figure here is smaller-is-better).
- `bmf`: Bencher Metric Format, `{"<benchmark>": {"<measure>": {"value", "lower_value"?,
  "upper_value"?}}}` for `bencher run --adapter json`; the measure is the unit (`seconds`,
  `bytes`).
- `markdown`: a table for a CI summary or comment.

The figures: warm p50 and p95, first request, ready time (seconds), image size and, when it was
read, peak process memory (bytes). A figure not measured is left out, never written as 0.
For a comparison the candidate's figures are the benchmarks; the baseline's go in `extra`
(github-action-benchmark) or under the same name with the suffix `@baseline` (BMF, which has no
free-text field).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harness.report import result_rows, scorecard_json, scorecard_markdown
from harness.results import Result
from harness.scorecard import Scorecard

FORMATS = ("json", "github-action-benchmark", "bmf", "markdown")
BASELINE_SUFFIX = "@baseline"


@dataclass(frozen=True)
class Figure:
    name: str  # e.g. "request/warm_p50"
    unit: str  # "seconds" | "bytes"
    value: float
    lower: float | None = None
    upper: float | None = None


def figures(r: Result) -> list[Figure]:
    """The exported figures of one result, those that were measured."""
    lat, st = r.latency, r.startup
    rows: list[Figure] = []

    def add(name: str, unit: str, value: float | None, **bounds: float | None) -> None:
        if value is not None:
            rows.append(Figure(name, unit, value, bounds.get("lower"), bounds.get("upper")))

    add("request/warm_p50", "seconds", lat.warm_p50_s, lower=lat.warm_min_s, upper=lat.warm_p95_s)
    add("request/warm_p95", "seconds", lat.warm_p95_s, lower=lat.warm_p50_s)
    add("request/first", "seconds", lat.first_s)
    add("startup/ready", "seconds", st.ready_s)
    add("image/size", "bytes", r.image.size_bytes)
    add("memory/peak_process", "bytes", r.memory.peak_rss_bytes)
    return rows


def _describe(r: Result) -> str:
    return f"commit {r.commit.sha[:12]}; machine {r.machine.id}; {len(r.latency.samples_s)} warm"


def _gab_entry(f: Figure, extra: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": f.name, "unit": f.unit, "value": f.value}
    if f.lower is not None and f.upper is not None:
        entry["range"] = f"{f.lower:g} .. {f.upper:g}"
    entry["extra"] = extra
    return entry


def github_action_benchmark(r: Result, baseline: Result | None = None) -> list[dict[str, Any]]:
    """customSmallerIsBetter entries; with `baseline`, its figure (and commit) in `extra`."""
    base = {f.name: f for f in figures(baseline)} if baseline is not None else {}
    out = []
    for f in figures(r):
        extra = _describe(r)
        if baseline is not None:
            b = base.get(f.name)
            was = f"{b.value:g} {b.unit}" if b is not None else "not measured"
            extra += f"; baseline {baseline.commit.sha[:12]}: {was}"
        out.append(_gab_entry(f, extra))
    return out


def _bmf_metric(f: Figure) -> dict[str, float]:
    metric = {"value": float(f.value)}
    if f.lower is not None:
        metric["lower_value"] = float(f.lower)
    if f.upper is not None:
        metric["upper_value"] = float(f.upper)
    return metric


def bmf(r: Result, baseline: Result | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """Bencher Metric Format; with `baseline`, its figures as `<name>@baseline` benchmarks."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for f in figures(r):
        out.setdefault(f.name, {})[f.unit] = _bmf_metric(f)
    if baseline is not None:
        for f in figures(baseline):
            out.setdefault(f.name + BASELINE_SUFFIX, {})[f.unit] = _bmf_metric(f)
    return out


def result_markdown(r: Result) -> str:
    """One measured commit as a Markdown table."""
    lines = [f"### harness measure `{r.commit.sha[:12]}`", "", "| metric | value |", "|---|---|"]
    for k, v in result_rows(r):
        cells = [c.replace("|", "\\|") for c in (k, v)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_result(r: Result, fmt: str) -> str:
    """`harness measure --format FMT` (newline-terminated)."""
    if fmt == "json":
        return r.to_json() + "\n"
    if fmt == "github-action-benchmark":
        return json.dumps(github_action_benchmark(r), indent=2) + "\n"
    if fmt == "bmf":
        return json.dumps(bmf(r), indent=2) + "\n"
    if fmt == "markdown":
        return result_markdown(r)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def render_scorecard(card: Scorecard, fmt: str) -> str:
    """`harness compare --format FMT` (newline-terminated)."""
    if fmt == "json":
        return scorecard_json(card) + "\n"
    if fmt == "github-action-benchmark":
        doc = github_action_benchmark(card.candidate, card.baseline)
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "bmf":
        return json.dumps(bmf(card.candidate, card.baseline), indent=2) + "\n"
    if fmt == "markdown":
        return scorecard_markdown(card)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
