"""Pure statistics: is a candidate's sample better, the same, or worse than a baseline's?

Two tests, both on the ratio of medians (candidate / baseline):
- Mann-Whitney U (two-sided) says whether the samples differ at all (p < alpha);
- a percentile bootstrap CI of the median ratio says by how much.
"worse" needs significance AND ratio > 1 + threshold; "better" needs significance AND
ratio < 1 / (1 + threshold); "same" needs the whole CI inside [1/(1+t), 1+t]; anything else is
"unknown" (too few or too noisy samples to say). Deterministic: the bootstrap has a fixed seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import mannwhitneyu

# Which way the candidate moved. Not a bisect verdict (harness.search.Verdict: good/bad/skip).
Direction = Literal["better", "same", "worse", "unknown"]
DIRECTIONS: tuple[str, ...] = ("better", "same", "worse", "unknown")


@dataclass(frozen=True)
class Comparison:
    direction: Direction
    ratio: float | None  # median(candidate) / median(baseline)
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    effect: float | None = None  # P(candidate > baseline) + P(tie)/2 (common-language effect)
    n_baseline: int = 0
    n_candidate: int = 0
    reason: str = ""


def _clean(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(list(values), dtype=float)
    if arr.ndim != 1 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: samples must be finite numbers")
    if np.any(arr < 0):
        raise ValueError(f"{name}: samples must be >= 0 (durations, sizes)")
    return arr


def median_ratio_ci(
    base: np.ndarray, cand: np.ndarray, alpha: float, n_boot: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap CI of median(cand)/median(base), resampling each side separately."""
    rng = np.random.default_rng(seed)
    b = np.median(rng.choice(base, size=(n_boot, base.size), replace=True), axis=1)
    c = np.median(rng.choice(cand, size=(n_boot, cand.size), replace=True), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(b > 0, c / np.where(b > 0, b, 1), np.inf)
    lo, hi = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def compare_samples(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    threshold: float = 0.20,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Direction of candidate vs baseline samples (lower is better: latencies, sizes)."""
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    base, cand = _clean(baseline, "baseline"), _clean(candidate, "candidate")
    nb, nc = base.size, cand.size
    if nb < 2 or nc < 2:
        return Comparison("unknown", None, None, None, None, None, nb, nc, "fewer than 2 samples")
    mb, mc = float(np.median(base)), float(np.median(cand))
    if mb <= 0:
        return Comparison("unknown", None, None, None, None, None, nb, nc, "baseline median is 0")
    ratio = mc / mb
    test = mannwhitneyu(cand, base, alternative="two-sided")
    p = float(test.pvalue) if math.isfinite(test.pvalue) else 1.0
    effect = float(test.statistic) / (nb * nc)
    lo, hi = median_ratio_ci(base, cand, alpha, n_boot, seed)
    upper, lower = 1 + threshold, 1 / (1 + threshold)
    if p < alpha and ratio > upper:
        direction, reason = "worse", f"significant (p={p:.3g}) and ratio {ratio:.2f} > {upper:.2f}"
    elif p < alpha and ratio < lower:
        direction, reason = "better", f"significant (p={p:.3g}) and ratio {ratio:.2f} < {lower:.2f}"
    elif lower <= lo and hi <= upper:
        direction, reason = "same", f"CI [{lo:.2f}, {hi:.2f}] inside [{lower:.2f}, {upper:.2f}]"
    else:
        direction, reason = "unknown", f"CI [{lo:.2f}, {hi:.2f}] too wide for a verdict (p={p:.3g})"
    return Comparison(direction, ratio, p, lo, hi, effect, nb, nc, reason)


def compare_exact(
    baseline: float | None, candidate: float | None, *, threshold: float
) -> Comparison:
    """Direction for a deterministic metric measured once (image size): only the ratio counts."""
    if baseline is None or candidate is None or baseline <= 0:
        return Comparison("unknown", None, None, None, None, reason="not measured on both sides")
    ratio = candidate / baseline
    if ratio > 1 + threshold:
        direction: Direction = "worse"
    elif ratio < 1 / (1 + threshold):
        direction = "better"
    else:
        direction = "same"
    return Comparison(
        direction, ratio, None, ratio, ratio, None, 1, 1, f"exact, threshold {threshold}"
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation), None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None
