"""Pure timing decisions for the latency and cold checks: samples of two workers -> a verdict.

`decide` turns a `stats.Comparison` of reference and candidate samples into GOOD, BAD, or None
(more samples could still decide); `timed_finding` makes the final Finding once sampling stops
(None there becomes SKIP, "undecided after the sample bound"). The error rates are those of
`harness.stats.compare_samples`: a difference is called at p < alpha (0.05) and only when the
median ratio is past 1 + threshold; "same" needs the whole bootstrap CI inside the band.
"""

from __future__ import annotations

from typing import Any

from harness.judgement import Finding
from harness.search import Verdict
from harness.stats import Comparison


def median(values: list[float]) -> float | None:
    """The median, None for no values."""
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def latency_figures(
    ref_s: list[float], cand_s: list[float], cmp: Comparison | None
) -> dict[str, Any]:
    """The figures a timed judgement stores (keys are part of the report format)."""
    figures: dict[str, Any] = {
        "samples": len(cand_s),
        "median_s": median(cand_s),
        "reference_median_s": median(ref_s),
        "candidate_s": [round(x, 5) for x in cand_s],
        "reference_s": [round(x, 5) for x in ref_s],
    }
    if cmp is not None:
        figures.update(
            comparison=cmp.direction,
            ratio=cmp.ratio,
            p_value=cmp.p_value,
            ci_low=cmp.ci_low,
            ci_high=cmp.ci_high,
        )
    return figures


def decide(
    cmp: Comparison | None, reference_median_s: float | None, floor_s: float = 0.0
) -> Verdict | None:
    """A timing comparison -> GOOD/BAD, or None while more samples could still decide.

    BAD: significantly worse by more than the threshold AND slower by at least `floor_s`.
    GOOD: the same or better; significantly worse but by less than the floor; or (with a floor)
    even the CI's worst case is slower by less than the floor.
    """
    if cmp is None or cmp.ratio is None or reference_median_s is None:
        return None
    slower_by = (cmp.ratio - 1) * reference_median_s
    if cmp.direction == "worse":
        return Verdict.BAD if slower_by >= floor_s else Verdict.GOOD
    if cmp.direction in ("same", "better"):
        return Verdict.GOOD
    if floor_s > 0 and cmp.ci_high is not None and (cmp.ci_high - 1) * reference_median_s < floor_s:
        return Verdict.GOOD
    return None


def timed_finding(
    cmp: Comparison | None, figures: dict[str, Any], what: str, floor_s: float = 0.0
) -> Finding:
    """The finding once sampling has stopped: `decide`, with no decision being SKIP."""
    if cmp is None or cmp.ratio is None or cmp.p_value is None:
        return Finding(Verdict.SKIP, f"no usable {what} samples", figures)
    text = (
        f"{what} median {figures['median_s'] * 1000:.0f} ms vs "
        f"{figures['reference_median_s'] * 1000:.0f} ms (x{cmp.ratio:.2f}, p={cmp.p_value:.3g}, "
        f"n={figures['samples']})"
    )
    verdict = decide(cmp, figures["reference_median_s"], floor_s)
    if verdict is None:
        return Finding(Verdict.SKIP, f"undecided after the sample bound: {text}", figures)
    if verdict is Verdict.GOOD and cmp.direction == "worse":
        text += f", below the {floor_s * 1000:.0f} ms floor"
    return Finding(verdict, text, figures)


def next_batch(have: int, first: int, bound: int) -> int:
    """Warm samples to take next per side: `first`, then double what there is, up to `bound`."""
    return first if have == 0 else max(min(have, bound - have), 0)
