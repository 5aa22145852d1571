"""Pure: does a candidate's latency look like the good end's or like the bad end's?

A sequential probability ratio test (Wald) on log latencies. Both ends are measured throughout
the bisect (their samples pooled), so the question for a middle commit is not "is it within
x% of the good end" but which of the two measured levels it sits at:

- model: log latency ~ Normal(level, s) with one spread s shared by all workers; the ends'
  levels and s are estimated from their pooled samples (winsorised at 3 robust sds, so a stray
  request stalled by other load cannot carry a verdict);
- evidence: LLR = log P(candidate mean | level = bad end) - log P(candidate mean | level =
  good end), where each side's variance is s^2 (1/n_candidate + 1/n_end): the uncertainty of
  the end's own level counts, so a few reference samples cannot make a verdict look sure;
- decision after each candidate sample (from `min_samples` on): BAD when LLR >= A, GOOD when
  LLR <= -A, with A = log((1 - error) / error); else more samples, up to the probe's budget.
  Wald's bounds give P(BAD | like good) and P(GOOD | like bad) of about `error` (0.01) each;
  tests/bisect/test_classify.py measures them by simulation.

An LLR that has not reached a bound is still evidence: the noisy search (harness.noisysearch)
takes it at half strength (`weighed`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.search import Verdict

MIN_SPREAD = 0.01  # log units: a floor for s, so identical samples cannot divide by zero


@dataclass(frozen=True)
class Levels:
    """The two ends, on the log scale: centre of each and the pooled spread."""

    good: float
    bad: float
    spread: float
    n_good: int
    n_bad: int

    @property
    def ratio(self) -> float:
        """Bad end over good end (geometric means)."""
        return math.exp(self.bad - self.good)


def _logs(values: Sequence[float]) -> np.ndarray:
    arr = np.log(np.maximum(np.asarray(list(values), dtype=float), 1e-6))
    if arr.ndim != 1 or not np.all(np.isfinite(arr)):
        raise ValueError("latency samples must be finite numbers")
    return arr


def _winsorised(logs: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean of the logs after clamping to median +- 3 robust sds; and the clamped values."""
    med = float(np.median(logs))
    mad = 1.4826 * float(np.median(np.abs(logs - med)))
    if mad > 0:
        logs = np.clip(logs, med - 3 * mad, med + 3 * mad)
    return float(np.mean(logs)), logs


def levels(good_s: Sequence[float], bad_s: Sequence[float]) -> Levels:
    """The ends' levels and pooled spread from their samples (seconds); at least 2 each."""
    g, b = _logs(good_s), _logs(bad_s)
    if g.size < 2 or b.size < 2:
        raise ValueError("each end needs at least 2 samples")
    mg, gw = _winsorised(g)
    mb, bw = _winsorised(b)
    ss = float(np.sum((gw - mg) ** 2) + np.sum((bw - mb) ** 2))
    spread = max(math.sqrt(ss / (g.size + b.size - 2)), MIN_SPREAD)
    return Levels(mg, mb, spread, int(g.size), int(b.size))


def log_ratio(lv: Levels, cand_s: Sequence[float]) -> float:
    """log P(candidate | like bad) / P(candidate | like good); 0 for no samples."""
    c = _logs(cand_s)
    if c.size == 0:
        return 0.0
    # Clamp the candidate's samples around the two levels (robust to stray requests).
    lo, hi = min(lv.good, lv.bad) - 3 * lv.spread, max(lv.good, lv.bad) + 3 * lv.spread
    mean = float(np.mean(np.clip(c, lo, hi)))
    s2 = lv.spread**2
    v_good = s2 * (1 / c.size + 1 / lv.n_good)
    v_bad = s2 * (1 / c.size + 1 / lv.n_bad)
    ll_bad = -0.5 * math.log(v_bad) - (mean - lv.bad) ** 2 / (2 * v_bad)
    ll_good = -0.5 * math.log(v_good) - (mean - lv.good) ** 2 / (2 * v_good)
    return ll_bad - ll_good


def evidence(
    good_s: Sequence[float], bad_s: Sequence[float], cand_s: Sequence[float], window: int
) -> float:
    """log P(candidate | like bad) / P(candidate | like good), for ends whose common level drifts.

    Other load on the machine moves every worker's latency by about the same factor (a common
    shift on the log scale), not the gap between the ends. So the gap d comes from all the ends'
    samples (interleaved, so the drift falls on both alike), and only the common level -- the
    midpoint of the two ends -- from the last `window` samples of each, both ends pooled. Then
    candidate mean - midpoint ~ Normal(-+d/2, v) with v = s^2 (1/n + (1/w_g + 1/w_b)/4 +
    (1/N_g + 1/N_b)/4): twice the reference samples of `log_ratio` on the same windows (which
    estimates each end's level from its own window alone), and the same drift-tracking."""
    c = _logs(cand_s)
    if c.size == 0:
        return 0.0
    recent = levels(good_s[-window:], bad_s[-window:])
    whole = levels(good_s, bad_s)
    gap = whole.bad - whole.good
    mid = (recent.good + recent.bad) / 2
    lo = min(recent.good, recent.bad) - 3 * recent.spread
    hi = max(recent.good, recent.bad) + 3 * recent.spread
    mean = float(np.mean(np.clip(c, lo, hi)))
    v = recent.spread**2 * (
        1 / c.size
        + (1 / recent.n_good + 1 / recent.n_bad) / 4
        + (1 / whole.n_good + 1 / whole.n_bad) / 4
    )
    return gap * (mean - mid) / v


def bound(error: float) -> float:
    """Wald's threshold A for equal error rates: log((1 - error) / error)."""
    if not 0 < error < 0.5:
        raise ValueError(f"error rate must be in (0, 0.5), got {error}")
    return math.log((1 - error) / error)


def verdict(llr: float, error: float) -> Verdict | None:
    """BAD / GOOD once the LLR passes a bound; None while it is between them."""
    a = bound(error)
    if llr >= a:
        return Verdict.BAD
    if llr <= -a:
        return Verdict.GOOD
    return None


UNDECIDED_WEIGHT = 0.5


def weighed(llr: float, error: float) -> float:
    """The evidence a visit hands to the search: its LLR, halved when it stopped short of the
    bound (the budget ran out). Such a visit is taken at half strength: stopping at the budget
    selects the visits whose samples happened to sit between the ends, and the simulation
    (tests/bisect/simulate.py) names wrong commits now and then at full strength."""
    return llr if abs(llr) >= bound(error) else UNDECIDED_WEIGHT * llr


@dataclass(frozen=True)
class Ends:
    """Whether the bad end is slower than the good end at all (checked before any probe)."""

    status: str  # "regression" | "no_regression" | "unknown"
    ratio: float  # bad / good (geometric means)
    low: float  # one-sided 97.5% lower bound of the ratio
    high: float  # one-sided 99.5% upper bound


Z_ENDS = 1.96  # one-sided 97.5% normal quantile: "the bad end is slower"
# One-sided 99.5 %: "no regression" ends a bisect the user started because they saw one, so it
# needs more evidence. A +30 % regression at sigma 0.35 sits just past the 20 % threshold: with
# 1.96 here, 3 of 200 simulated ends were called "no regression" (and one of 20 noisy-zoo runs),
# with 2.576 none (tests/bisect/test_classify.py); a true no-regression costs 36 samples a side
# instead of 18 at that noise.
Z_NO_REGRESSION = 2.576
MIN_END_SAMPLES = 12  # "no regression" is not called on fewer samples a side


def compare_ends(good_s: Sequence[float], bad_s: Sequence[float], threshold: float) -> Ends:
    """no_regression: even the upper bound of bad/good (99.5 %) is below 1 + threshold (and each
    side has MIN_END_SAMPLES); regression: else, when the lower bound is above 1 (the bad end is
    slower, one-sided 97.5 %); else unknown (more samples)."""
    lv = levels(good_s, bad_s)
    diff = lv.bad - lv.good
    se = lv.spread * math.sqrt(1 / lv.n_good + 1 / lv.n_bad)
    low, high = math.exp(diff - Z_ENDS * se), math.exp(diff + Z_NO_REGRESSION * se)
    if high < 1 + threshold and min(lv.n_good, lv.n_bad) >= MIN_END_SAMPLES:
        status = "no_regression"
    elif low > 1:
        status = "regression"
    else:
        status = "unknown"
    return Ends(status, lv.ratio, low, high)
