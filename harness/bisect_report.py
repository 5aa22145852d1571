"""A bisect run for people and machines: JSON, Markdown, a rich table, a PNG chart, an HTML page.

Files go next to the other results: results/bisect-<good12>-<bad12>.{json,md,png,html}.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from harness.atomic import write_atomic
from harness.bisect import BisectRun, CheckResult
from harness.charts import pyplot, to_png
from harness.htmlreport import bisect_page
from harness.judgement import COMPARED, Judgement

# The figure each check is charted by, and how to print it.
METRIC: dict[str, tuple[str, str, float]] = {
    "build": ("size_bytes", "image MB", 1e-6),
    "startup": ("ready_s", "ready s", 1.0),
    "size": ("size_bytes", "image MB", 1e-6),
    "latency": ("median_s", "warm median ms", 1e3),
    "cold": ("median_s", "first request ms", 1e3),
    "cmd": ("exit_code", "command exit code", 1.0),
}


def _cmd_flag(run: BisectRun, check: str) -> str:
    """` --check-cmd 'CMD'` for the cmd check (its command is part of what it means), else ''."""
    cmd = run.options.check_cmd
    return f" --check-cmd {shlex.quote(cmd)}" if check == "cmd" and cmd else ""


def stem(run: BisectRun) -> str:
    return f"bisect-{run.good.sha[:12]}-{run.bad.sha[:12]}"


def reproduce_command(run: BisectRun, result: CheckResult) -> str:
    """One line that reproduces the verdict for this check."""
    repo = shlex.quote(run.repo)
    if result.first_bad and result.last_good:
        compared = result.check in COMPARED
        ref = f" --good {run.good.sha[:12]}" if compared else ""
        cmd = _cmd_flag(run, result.check)
        return (
            f"harness check {result.first_bad[:12]} --check {result.check}{ref}{cmd} --repo {repo}"
        )
    return (
        f"harness bisect --good {run.good.sha[:12]} --bad {run.bad.sha[:12]} "
        f"--check {result.check}{_cmd_flag(run, result.check)} --repo {repo}"
    )


def _figure(judgement: Judgement | None, check: str) -> float | None:
    if judgement is None:
        return None
    key, _, scale = METRIC[check]
    value = judgement.figures.get(key)
    return None if value is None else float(value) * scale


def _evidence(run: BisectRun, result: CheckResult) -> dict[str, Any]:
    by_sha = {p.sha: p for p in result.probes}
    bad, good = by_sha.get(result.first_bad or ""), by_sha.get(result.last_good or "")
    _, unit, _ = METRIC[result.check]
    out: dict[str, Any] = {
        "unit": unit,
        "at_culprit": _figure(bad, result.check),
        "at_parent": _figure(good, result.check),
        "culprit_reason": bad.reason if bad else None,
        "parent_reason": good.reason if good else None,
        # the telling line of the culprit's log (harness.cause); the cmd check's last output
        "culprit_cause": bad.figures.get("cause") if bad else None,
        "culprit_output": bad.figures.get("output_tail") if bad else None,
    }
    if result.confirmation is not None:
        c = result.confirmation
        out["confirmation"] = {
            "verdict": str(c.verdict),
            "reason": c.reason,
            "culprit_median_s": c.figures.get("median_s"),
            "parent_median_s": c.figures.get("reference_median_s"),
            "p_value": c.figures.get("p_value"),
            "samples": c.figures.get("samples"),
        }
    return out


def _culprit(run: BisectRun, result: CheckResult) -> dict[str, Any]:
    assert result.first_bad
    info = run.info.get(result.first_bad)
    return {
        "check": result.check,
        "first_bad": result.first_bad,
        "last_good": result.last_good,
        "subject": info.subject if info else None,
        "author": info.author if info else None,
        "date": info.date if info else None,
        "files": run.files.get(result.first_bad, []),
        "evidence": _evidence(run, result),
        "reproduce": reproduce_command(run, result),
    }


def to_json(run: BisectRun) -> dict[str, Any]:
    """The machine report (`--json`): one object; single checks also get a top-level first_bad."""
    checks = {}
    for r in run.checks:
        checks[r.check] = {
            "status": r.status,
            "message": r.message,
            "first_bad": r.first_bad,
            "last_good": r.last_good,
            "candidates": r.candidates,
            "probes": len(r.probes),
            "probe_bound": r.bound,
            "rounds": r.rounds,  # probes at once: one per engine (one engine: = probes)
            "round_bound": r.round_bound,
            "confirmation": r.confirmation.to_json() if r.confirmation else None,
            "search": r.search,  # latency: ends, posterior, visit path (else None)
        }
    data: dict[str, Any] = {
        "repo": run.repo,
        "good": run.good.sha,
        "bad": run.bad.sha,
        "range": {"commits": len(run.commits), "first_parent": run.commits},
        "verdict": run.verdict,
        "exit_code": run.exit_code,
        "checks": checks,
        "culprits": [_culprit(run, r) for r in run.culprits],
        "last_good": run.last_good,
        "steps": [p.to_json() for r in run.checks for p in r.probes],
        "built": run.built,
        "measured": run.measured,
        "wall_s": round(run.wall_s, 2),
        **({"warnings": run.warnings} if run.warnings else {}),  # stand-in bases' gaps
        # used, timed (latency/cold run there), width (k per check), dropped, lost probes
        "engines": run.engines,
        "options": {
            "threshold": run.options.threshold,
            "size_threshold": run.options.size_threshold,
            **({"check_cmd": run.options.check_cmd} if run.options.check_cmd else {}),
        },
    }
    if len(run.checks) == 1:
        only = run.checks[0]
        data["check"] = only.check
        data["first_bad"] = only.first_bad
        data["last_good"] = only.last_good
    return data


def summary_line(run: BisectRun) -> str:
    head = f"bisect {run.good.short}..{run.bad.short} ({len(run.commits)} commits): {run.verdict}"
    parts = []
    for r in run.checks:
        if r.status == "found" and r.first_bad:
            info = run.info.get(r.first_bad)
            subject = f" {info.subject!r}" if info else ""
            parts.append(f"{r.check}: {r.first_bad[:12]}{subject}")
        else:
            parts.append(f"{r.check}: {r.status}")
    return head + "; " + "; ".join(parts)


def to_markdown(run: BisectRun, chart: str | None = None) -> str:
    lines = [
        f"# Bisect {run.good.short}..{run.bad.short}",
        "",
        f"- repository: `{run.repo}`",
        f"- good: `{run.good.short}` {run.good.subject}",
        f"- bad: `{run.bad.short}` {run.bad.subject}",
        f"- first-parent commits (with both ends): {len(run.commits)}",
        f"- verdict: **{run.verdict}** (exit {run.exit_code}); wall {run.wall_s:.0f} s; "
        f"images built {len(run.built)}, commits measured {len(run.measured)}",
        *_engines_markdown(run),
        *(f"- warning: {w}" for w in run.warnings),
        "",
        "| check | status | probes (bound) | rounds (bound) | first bad | message |",
        "|---|---|---|---|---|---|",
    ]
    for r in run.checks:
        first = f"`{r.first_bad[:12]}`" if r.first_bad else "-"
        lines.append(
            f"| {r.check} | {r.status} | {len(r.probes)} (<= {r.bound}) | "
            f"{r.rounds} (<= {r.round_bound}) | {first} | {r.message} |"
        )
    for r in run.culprits:
        c = _culprit(run, r)
        ev = c["evidence"]
        lines += [
            "",
            f"## {r.check}: `{r.first_bad}`",
            "",
            f"- subject: {c['subject']}",
            f"- author: {c['author']}, date: {c['date']}",
            f"- files changed: {', '.join(f'`{f}`' for f in c['files']) or '(none)'}",
            f"- at the culprit: {ev['culprit_reason']}",
            f"- at its parent `{(r.last_good or '')[:12]}`: {ev['parent_reason']}",
        ]
        if ev["culprit_cause"]:
            lines.append(f"- telling line: `{ev['culprit_cause']}`")
        if ev["culprit_output"]:
            lines += ["- the command's last output lines:", "", "```", ev["culprit_output"], "```"]
        if "confirmation" in ev:
            lines.append(f"- confirmed against the parent: {ev['confirmation']['reason']}")
        lines.append(f"- reproduce: `{c['reproduce']}`")
    for r in run.checks:
        if r.search:
            lines += _search_markdown(r)
    lines += ["", "## Probes", "", "| check | # | commit | verdict | figures | cached | engine |"]
    lines.append("|---|---|---|---|---|---|---|")
    for r in run.checks:
        for p in r.probes:
            lines.append(
                f"| {r.check} | {p.position} | `{p.sha[:12]}` | {p.verdict} | {p.reason} | "
                f"{'yes' if p.cached else 'no'} | {p.figures.get('engine', '-')} |"
            )
    if chart:
        lines += ["", f"![metric over the probed commits]({chart})"]
    return "\n".join(lines) + "\n"


def _engines_markdown(run: BisectRun) -> list[str]:
    """The engines line, and one line per probe lost with a dropped engine."""
    pool = run.engines
    if not pool:
        return []
    lines = [
        f"- engines: {', '.join(pool['used'])} (timed checks on {pool['timed']}); dropped: "
        + (", ".join(f"{name} ({why})" for name, why in pool["dropped"].items()) or "none")
    ]
    for lost in pool["lost"]:
        lines.append(
            f"- lost probe (no verdict, run again elsewhere): [{lost['check']}] "
            f"#{lost['position']} `{lost['sha'][:12]}` on {lost['engine']}: {lost['why']}"
        )
    return lines


def _search_markdown(r: CheckResult) -> list[str]:
    """The latency search: both ends, the visit path and the posterior's top positions."""
    search = r.search or {}
    ends = search.get("ends", {})
    lines = ["", f"## {r.check}: ends, visits and posterior", ""]
    for name in ("good", "bad"):
        end = ends.get(name)
        if end and end.get("median_s") is not None:
            lines.append(
                f"- {name} end (kept warm): median {end['median_s'] * 1000:.0f} ms, "
                f"{end['samples']} samples"
            )
    if ends:
        lines.append(f"- ends: {ends.get('message', '')}")
    if "probability" in search:
        lines.append(
            f"- posterior: P(#{search['best']}) = {search['probability']:.3f} after "
            f"{search['visits']} visits (confidence {search['confidence']}, at most "
            f"{search['max_visits']} visits); status {search.get('status')}"
        )
    if containers := search.get("containers"):
        lines.append(
            f"- candidate containers: {containers['started']} started, "
            f"{containers['reused']} times reused"
        )
    path = search.get("path") or []
    if path:
        lines += ["", "| visit | # | LLR | most likely | P |", "|---|---|---|---|---|"]
        for n, step in enumerate(path, 1):
            lines.append(
                f"| {n} | {step['position']} | {step['llr']:+.2f} | #{step['best']} | "
                f"{step['p']:.3f} |"
            )
    post = search.get("posterior") or []
    top = sorted(range(len(post)), key=lambda i: -post[i])[:5]
    if top:
        lines += ["", "top positions: " + ", ".join(f"#{i} {post[i]:.3f}" for i in top)]
    return lines


def _chart_search(ax: Any, search: dict[str, Any]) -> None:
    """Both ends' medians as lines, and the final posterior as bars on a second axis."""
    for name, colour in (("good", "tab:green"), ("bad", "tab:red")):
        end = search.get("ends", {}).get(name) or {}
        if end.get("median_s") is not None:
            ax.axhline(end["median_s"] * 1e3, color=colour, lw=0.8, linestyle=":")
    twin = ax.twinx()
    post = search["posterior"]
    twin.bar(range(len(post)), post, color="tab:blue", alpha=0.25, width=0.8)
    twin.set_ylim(0, 1)
    twin.set_ylabel("posterior", fontsize=8)


def chart_png(run: BisectRun) -> bytes | None:
    """The metric of each check over the probed commits (PNG bytes); None: no figures."""
    plt = pyplot()
    plotted = [r for r in run.checks if any(_figure(p, r.check) is not None for p in r.probes)]
    if not plotted:
        return None
    fig, axes = plt.subplots(len(plotted), 1, figsize=(9, 2.6 * len(plotted)), squeeze=False)
    colours = {"good": "tab:green", "bad": "tab:red", "skip": "tab:gray"}
    for ax, r in zip(axes[:, 0], plotted, strict=True):
        points = sorted(
            (p.position, _figure(p, r.check), str(p.verdict))
            for p in r.probes
            if _figure(p, r.check) is not None
        )
        xs = [x for x, _, _ in points]
        ax.plot(xs, [y for _, y, _ in points], color="lightgray", zorder=1)
        ax.scatter(
            xs, [y for _, y, _ in points], c=[colours[v] for *_, v in points], zorder=2, s=30
        )
        if r.first_bad:
            ax.axvline(run.commits.index(r.first_bad), color="tab:red", linestyle="--", lw=1)
        if r.search and r.search.get("posterior"):
            _chart_search(ax, r.search)
        ax.set_title(f"{r.check}: {r.status}", fontsize=9)
        ax.set_ylabel(METRIC[r.check][1], fontsize=8)
        ax.set_xlim(-0.5, len(run.commits) - 0.5)
    axes[-1, 0].set_xlabel("first-parent position (0 = good end)")
    fig.tight_layout()
    return to_png(fig)


def write_chart(run: BisectRun, path: Path) -> Path | None:
    """`chart_png` written to `path`; None (nothing written) when there are no figures."""
    png = chart_png(run)
    return None if png is None else write_atomic(path, png)


def bisect_command(run: BisectRun) -> str:
    """The one line that runs this bisect again (same range, checks and thresholds)."""
    checks = ",".join(r.check for r in run.checks)
    return (
        f"harness bisect --good {run.good.sha[:12]} --bad {run.bad.sha[:12]} --check {checks} "
        f"--threshold {run.options.threshold:g} --size-threshold {run.options.size_threshold:g} "
        f"{_cmd_flag(run, 'cmd')[1:] + ' ' if 'cmd' in checks.split(',') else ''}"
        f"--repo {shlex.quote(run.repo)}"
    )


def html_page(run: BisectRun, png: bytes | None) -> str:
    """The self-contained HTML report (the chart inline)."""
    subjects = {sha: i.subject for sha, i in run.info.items()}
    subjects |= {run.good.sha: run.good.subject, run.bad.sha: run.bad.subject}
    return bisect_page(to_json(run), png, subjects, bisect_command(run))


def write_reports(run: BisectRun, folder: Path) -> dict[str, Path]:
    """Write the JSON, Markdown, PNG and HTML reports into `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / stem(run)
    chart = chart_png(run)
    png = write_atomic(base.with_suffix(".png"), chart) if chart else None
    md = write_atomic(base.with_suffix(".md"), to_markdown(run, png.name if png else None))
    js = write_atomic(base.with_suffix(".json"), json.dumps(to_json(run), indent=1, default=str))
    html = write_atomic(base.with_suffix(".html"), html_page(run, chart))
    paths = {"json": js, "md": md, "html": html}
    if png:
        paths["png"] = png
    return paths


def print_table(run: BisectRun, console: Any) -> None:
    """The rich table for people (to `console`, normally stderr or stdout)."""
    from rich.table import Table

    table = Table(title=f"bisect {run.good.short}..{run.bad.short} ({len(run.commits)} commits)")
    for col in ("check", "#", "commit", "verdict", "figures"):
        table.add_column(col)
    for r in run.checks:
        for p in r.probes:
            style = {"good": "green", "bad": "red", "skip": "dim"}[str(p.verdict)]
            table.add_row(r.check, str(p.position), p.sha[:12], f"[{style}]{p.verdict}", p.reason)
    console.print(table)
    for r in run.checks:
        console.print(f"{r.message}")
        if r.status == "found":
            cause = _evidence(run, r)["culprit_cause"]
            if cause:
                console.print(f"  telling line: {cause}", markup=False, highlight=False)
            console.print(f"  reproduce: {reproduce_command(run, r)}")
    console.print(f"verdict: {run.verdict} (exit {run.exit_code})")
    for warning in run.warnings:
        console.print(f"warning: {warning}", markup=False, highlight=False)
