"""PNG charts as bytes (matplotlib, Agg backend), for files and for the HTML reports' data: URIs.

matplotlib is imported when a chart is drawn, not at the top: only a command that writes a report
pays for it (about a second).
"""

from __future__ import annotations

import io
from typing import Any

from harness.scorecard import Scorecard


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_png(fig: Any, dpi: int = 90) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    pyplot().close(fig)
    return buf.getvalue()


def compare_chart(card: Scorecard) -> bytes | None:
    """Baseline vs candidate: every warm latency sample (ms, in request order) and the single
    figures (ready, first request, s); None when neither side has any of them."""
    sides = (("baseline", card.baseline, "tab:blue"), ("candidate", card.candidate, "tab:orange"))
    has_samples = any(r.latency.samples_s for _, r, _ in sides)
    singles = [
        ("ready", lambda r: r.startup.ready_s),
        ("first request", lambda r: r.latency.first_s),
    ]
    has_singles = any(get(r) is not None for _, get in singles for _, r, _ in sides)
    if not (has_samples or has_singles):
        return None
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2), width_ratios=(2, 1))
    for name, r, colour in sides:
        ys = [s * 1e3 for s in r.latency.samples_s]
        left.plot(range(1, len(ys) + 1), ys, "o-", ms=4, lw=1, color=colour, label=name)
        if r.latency.warm_p50_s is not None:
            left.axhline(r.latency.warm_p50_s * 1e3, color=colour, ls="--", lw=0.8)
    left.set_title("warm requests (dashed: p50)", fontsize=9)
    left.set_xlabel("request #", fontsize=8)
    left.locator_params(axis="x", integer=True)
    left.set_ylabel("ms", fontsize=8)
    left.legend(fontsize=8)
    width = 0.38
    for i, (name, r, colour) in enumerate(sides):
        xs = [j + (i - 0.5) * width for j in range(len(singles))]
        ys = [get(r) or 0.0 for _, get in singles]
        right.bar(xs, ys, width, color=colour, label=name)
    right.set_xticks(range(len(singles)), [label for label, _ in singles], fontsize=8)
    right.set_ylabel("s", fontsize=8)
    right.set_title("start-up and first request", fontsize=9)
    fig.tight_layout()
    return to_png(fig)
