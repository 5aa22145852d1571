"""Render results and scorecards: rich tables (people), JSON (machines), Markdown (CI comments)."""

from __future__ import annotations

import json

from rich.table import Table

from harness.results import Result
from harness.scorecard import Scorecard, fmt_bytes, fmt_s

VERDICT_STYLE = {"worse": "bold red", "better": "green", "same": "", "unknown": "yellow"}


def result_rows(r: Result) -> list[tuple[str, str]]:
    """(metric, value) pairs for one measured commit, in reading order."""
    st, lat, img = r.startup, r.latency, r.image
    startup = "ok" if st.ok else f"FAILED phase={st.phase} exit={st.exit_code}"
    rows = [
        ("commit", f"{r.commit.sha[:12]} {r.commit.subject}"),
        ("machine", f"{r.machine.id} ({r.machine.cpu}, {r.machine.cores} cores)"),
        (
            "image",
            f"{img.tag or '-'} ({'built' if img.built else 'reused'})"
            if img.built_ok
            else f"build FAILED: {img.error}",
        ),
        ("image size", fmt_bytes(img.size_bytes)),
        ("image compressed", fmt_bytes(img.compressed_bytes)),
        ("layers", str(len(img.layers))),
        ("start-up", startup),
        ("ready (docker run -> API)", fmt_s(st.ready_s)),
        ("worker's ready line", fmt_s(st.worker_ready_s)),
        ("ready gap (ready line -> API)", fmt_s(st.ready_gap_s)),
        ("first request", fmt_s(lat.first_s)),
        ("warm p50", fmt_s(lat.warm_p50_s)),
        ("warm p95", fmt_s(lat.warm_p95_s)),
        ("warm min", fmt_s(lat.warm_min_s)),
        ("warm samples", str(len(lat.samples_s))),
        ("peak memory incl. page cache", fmt_bytes(r.memory.peak_bytes)),
        ("peak process memory (no cache)", fmt_bytes(r.memory.peak_rss_bytes)),
    ]
    for stand in img.stand_ins:  # the base was replaced: say by what and what it lacks
        rows.append(("stand-in base", f"{stand['ref']} -> {stand['image']}"))
        rows += [("warning", w) for w in stand.get("warnings", [])]
    if r.error:
        rows.append(("error", f"{r.error['kind']}: {r.error['message']}"))
    return rows


def result_table(r: Result) -> Table:
    table = Table(title=f"harness measure {r.commit.sha[:12]}", show_header=True)
    table.add_column("metric")
    table.add_column("value")
    for k, v in result_rows(r):
        table.add_row(k, v)
    return table


def phases_table(r: Result) -> Table:
    """Each start-up phase line: when it arrived (Docker's clock, from the container's start)
    and the worker's own elapsed figure; then the gap to the API answering."""
    table = Table(title="start-up phases (at: seconds since the container started)")
    for col in ("phase", "status", "at", "worker elapsed"):
        table.add_column(col, justify="right" if col in ("at", "worker elapsed") else "left")
    for p in r.startup.phase_times:
        table.add_row(str(p["phase"]), str(p["status"]), fmt_s(p["at_s"]), fmt_s(p["elapsed_s"]))
    table.add_row("ready gap", "", fmt_s(r.startup.ready_gap_s), "", style="dim")
    return table


def layers_table(r: Result, top: int = 8) -> Table:
    table = Table(title="largest layers")
    table.add_column("size", justify="right")
    table.add_column("created by")
    for layer in sorted(r.image.layers, key=lambda x: -x.size_bytes)[:top]:
        table.add_row(fmt_bytes(layer.size_bytes), layer.created_by[:90])
    return table


def scorecard_table(o: Scorecard) -> Table:
    title = f"{o.baseline.commit.sha[:12]} (baseline) vs {o.candidate.commit.sha[:12]}" + (
        " -- interleaved" if o.interleaved else ""
    )
    table = Table(title=title)
    for col in ("metric", "baseline", "candidate", "verdict", "detail"):
        table.add_column(col)
    for r in o.rows:
        style = VERDICT_STYLE.get(r.verdict, "")
        table.add_row(
            r.metric,
            r.baseline,
            r.candidate,
            f"[{style}]{r.verdict}[/]" if style else r.verdict,
            r.detail,
        )
    return table


def scorecard_markdown(o: Scorecard) -> str:
    head = "WORSE" if o.worse else "no regression"
    lines = [
        f"### harness compare: {head}",
        "",
        f"baseline `{o.baseline.commit.sha[:12]}` ({o.baseline.commit.subject}) vs candidate "
        f"`{o.candidate.commit.sha[:12]}` ({o.candidate.commit.subject})"
        + ("; latency samples interleaved in one run" if o.interleaved else ""),
        "",
        "| metric | baseline | candidate | verdict | detail |",
        "|---|---|---|---|---|",
    ]
    for r in o.rows:
        verdict = f"**{r.verdict}**" if r.verdict == "worse" else r.verdict
        cells = [r.metric, r.baseline, r.candidate, verdict, r.detail]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def scorecard_text(o: Scorecard) -> str:
    """Plain text table (for assertion messages and logs)."""
    width = [max(len(getattr(r, f)) for r in o.rows) for f in ("metric", "baseline", "candidate")]
    out = []
    for r in o.rows:
        out.append(
            f"{r.metric:<{width[0]}}  {r.baseline:>{width[1]}}  {r.candidate:>{width[2]}}  "
            f"{r.verdict:<7}  {r.detail}"
        )
    return "\n".join(out)


def scorecard_json(o: Scorecard) -> str:
    return json.dumps(o.to_dict(), indent=2)
