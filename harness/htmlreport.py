"""Pure: one self-contained HTML page per bisect and per comparison.

Everything is in the file: styles inline, charts as `data:image/png;base64` images, no external
asset (a Content-Security-Policy forbids any, so a page that works offline works anywhere). A
small inline script marks each chart `data-loaded="yes"` once the browser has decoded it, and the
body `data-charts-loaded="yes"` when all have (`no` when one has not, `none` without charts); the
browser test reads that back.

The bisect page is built from the report's JSON (`bisect_report.to_json`) so this module needs
nothing from the bisect driver.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.report import result_rows
from harness.scorecard import Scorecard

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .2em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
code, pre { font: 13px ui-monospace, monospace; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; }
.bad, .worse { color: #b00; font-weight: bold; } .good, .better { color: #070; }
.skip, .unknown { color: #777; }
.culprit { border-left: 4px solid #b00; padding: .2em 1em; margin: 1em 0; background: #fff7f7; }
img.chart { max-width: 100%; border: 1px solid #ddd; }
"""
SCRIPT = """
window.addEventListener("load", function () {
  var all = true, imgs = document.querySelectorAll("img.chart");
  imgs.forEach(function (img) {
    var ok = img.complete && img.naturalWidth > 0;
    img.setAttribute("data-loaded", ok ? "yes" : "no");
    all = all && ok;
  });
  document.body.setAttribute("data-charts-loaded", !imgs.length ? "none" : all ? "yes" : "no");
});
"""


def esc(value: Any) -> str:
    return html.escape("-" if value is None else str(value))


def code(value: Any, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<code{attr}>{esc(value)}</code>"


def table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """Cells are HTML already (escape with `esc`)."""
    attr = f' class="{cls}"' if cls else ""
    out = [f"<table{attr}><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows]
    return "\n".join(out) + "</table>"


def facts(items: Iterable[Sequence[str]]) -> str:
    """A two-column table without a header: (label, HTML value) rows."""
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in items) + "</table>"


def chart(png: bytes | None, alt: str) -> str:
    if png is None:
        return "<p>No chart: no figures were measured.</p>"
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="chart" alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def page(title: str, body: Sequence[str]) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            f"<title>{esc(title)}</title><style>{STYLE}</style>",
            f"<script>{SCRIPT}</script></head>",
            '<body data-charts-loaded="pending">',
            *body,
            "</body></html>",
            "",
        ]
    )


def verdict(value: Any) -> str:
    return f'<span class="{esc(value)}">{esc(value)}</span>'


def _figure(value: Any, unit: str) -> str:
    return "-" if value is None else f"{value:.4g} {esc(unit)}"


def _culprit_section(c: Mapping[str, Any], subjects: Mapping[str, str]) -> str:
    ev = c["evidence"]
    parent = c.get("last_good") or ""
    items = [
        ("subject", esc(c.get("subject"))),
        ("author", esc(c.get("author"))),
        ("date", esc(c.get("date"))),
        ("files changed", ", ".join(code(f) for f in c.get("files") or []) or "(none)"),
        ("at the culprit", f"{_figure(ev.get('at_culprit'), ev['unit'])}: "
                           f"{esc(ev.get('culprit_reason'))}"),
        (f"at its parent {code(parent[:12])} {esc(subjects.get(parent, ''))}",
         f"{_figure(ev.get('at_parent'), ev['unit'])}: {esc(ev.get('parent_reason'))}"),
    ]  # fmt: skip
    conf = ev.get("confirmation")
    if conf:
        items.append(
            ("confirmed against the parent", f"{verdict(conf['verdict'])}: {esc(conf['reason'])}")
        )
    return (
        f'<div class="culprit" data-check="{esc(c["check"])}">'
        f"<h3>{esc(c['check'])}: first bad commit {code(c['first_bad'], 'sha culprit-sha')}</h3>"
        f"{facts(items)}"
        f"<p>Reproduce this verdict:</p><pre>{esc(c['reproduce'])}</pre></div>"
    )


def bisect_page(
    data: Mapping[str, Any],
    png: bytes | None,
    subjects: Mapping[str, str],
    command: str,
) -> str:
    """The bisect report from its JSON (`to_json`), the chart, known commit subjects, and the
    command that runs it again."""
    good, bad = data["good"], data["bad"]
    title = f"Bisect {good[:12]}..{bad[:12]}: {data['verdict']}"
    body = [
        f"<h1>{esc(title)}</h1>",
        facts(
            [
                ["repository", code(data["repo"])],
                ["good end", f"{code(good, 'sha')} {esc(subjects.get(good, ''))}"],
                ["bad end", f"{code(bad, 'sha')} {esc(subjects.get(bad, ''))}"],
                ["first-parent commits", esc(data["range"]["commits"])],
                ["verdict", f"<b>{esc(data['verdict'])}</b> (exit {esc(data['exit_code'])})"],
                ["wall time", f"{data['wall_s']:.0f} s"],
                [
                    "images built / commits measured",
                    f"{len(data['built'])} / {len(data['measured'])}",
                ],
            ],
        ),
        "<h2>Checks</h2>",
        table(
            ["check", "status", "probes (bound)", "first bad", "message"],
            [
                [
                    esc(name),
                    esc(c["status"]),
                    f"{c['probes']} (&le; {c['probe_bound']})",
                    code(c["first_bad"][:12]) if c["first_bad"] else "-",
                    esc(c["message"]),
                ]
                for name, c in data["checks"].items()
            ],
        ),
        f"<h2>Culprits ({len(data['culprits'])})</h2>",
    ]
    if not data["culprits"]:
        body.append("<p>No culprit: see the checks above.</p>")
    body += [_culprit_section(c, subjects) for c in data["culprits"]]
    body += ["<h2>Metric over the probed commits</h2>", chart(png, "metric per probed commit")]
    body += [
        f"<h2>Every probe ({len(data['steps'])})</h2>",
        table(
            ["check", "#", "commit", "verdict", "figures", "cached", "seconds"],
            [
                [
                    esc(p["check"]),
                    esc(p["position"]),
                    code(p["sha"][:12]),
                    verdict(p["verdict"]),
                    esc(p["reason"]),
                    "yes" if p["cached"] else "no",
                    f"{p['seconds']:.1f}",
                ]
                for p in data["steps"]
            ],
            cls="probes",
        ),
        "<h2>Reproduce</h2>",
        "<p>The whole bisect (cached verdicts are reused; <code>--force</code> to redo them):</p>",
        f"<pre>{esc(command)}</pre>",
    ]
    if data["culprits"]:
        body.append("<p>Each culprit's verdict:</p>")
        body.append("<pre>" + "\n".join(esc(c["reproduce"]) for c in data["culprits"]) + "</pre>")
    body += [
        f"<h2>First-parent range ({data['range']['commits']})</h2>",
        table(
            ["#", "commit", "subject"],
            [
                [str(i), code(sha[:12]), esc(subjects.get(sha, ""))]
                for i, sha in enumerate(data["range"]["first_parent"])
            ],
        ),
    ]
    return page(title, body)


def compare_page(card: Scorecard, png: bytes | None, reproduce: Sequence[str]) -> str:
    """The comparison: verdict per metric (the worse ones first, as the culprits), the chart,
    every warm sample of both sides, each side's record, and the commands that reproduce it."""
    base, cand = card.baseline, card.candidate
    head = "WORSE" if card.worse else "no regression"
    title = f"Compare {base.commit.sha[:12]} vs {cand.commit.sha[:12]}: {head}"
    worse = [r for r in card.rows if r.verdict == "worse"]
    body = [
        f"<h1>{esc(title)}</h1>",
        facts(
            [
                ["baseline", f"{code(base.commit.sha, 'sha')} {esc(base.commit.subject)}"],
                ["candidate", f"{code(cand.commit.sha, 'sha')} {esc(cand.commit.subject)}"],
                ["latency samples", "interleaved in one run" if card.interleaved else "separate"],
                ["same machine", "yes" if card.same_machine else "no"],
                [
                    "engines",
                    esc(f"{base.measured_on.name} vs {cand.measured_on.name}")
                    + ("" if card.same_engine else " (timings not compared across engines)"),
                ],
            ],
        ),
        f"<h2>Worse ({len(worse)})</h2>",
    ]
    if worse:
        body.append(
            '<div class="culprit">'
            f"<p>The candidate {code(cand.commit.sha, 'sha culprit-sha')} is worse in:</p><ul>"
            + "".join(
                f"<li><b>{esc(r.metric)}</b>: {esc(r.baseline)} &rarr; {esc(r.candidate)} "
                f"({esc(r.detail)})</li>"
                for r in worse
            )
            + "</ul></div>"
        )
    else:
        body.append("<p>Nothing is worse.</p>")
    body += [
        "<h2>Every metric</h2>",
        table(
            ["metric", "baseline", "candidate", "verdict", "detail"],
            [
                [
                    esc(r.metric),
                    esc(r.baseline),
                    esc(r.candidate),
                    verdict(r.verdict),
                    esc(r.detail),
                ]
                for r in card.rows
            ],
        ),
        "<h2>Chart</h2>",
        chart(png, "warm samples and start-up of both sides"),
    ]
    a, b = base.latency.samples_s, cand.latency.samples_s
    x, y = dict(result_rows(base)), dict(result_rows(cand))
    body += [
        f"<h2>Every warm sample ({len(a)} baseline, {len(b)} candidate)</h2>",
        table(
            ["#", "baseline s", "candidate s"],
            [
                [str(i + 1)] + [f"{side[i]:.4f}" if i < len(side) else "-" for side in (a, b)]
                for i in range(max(len(a), len(b)))
            ],
            cls="probes",
        ),
        "<h2>Both records</h2>",
        table(
            ["", "baseline", "candidate"],
            [[esc(k), esc(x.get(k)), esc(y.get(k))] for k in {**x, **y}],
        ),
        "<h2>Reproduce</h2>",
        "<pre>" + "\n".join(esc(c) for c in reproduce) + "</pre>",
    ]
    return page(title, body)
