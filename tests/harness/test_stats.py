"""harness.stats: verdicts on samples (pure; hypothesis for the input space)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.stats import compare_exact, compare_samples, percentile


def _lognormal(seed: int, n: int, median: float, sigma: float = 0.05) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(median * np.exp(rng.normal(0, sigma, n)))


def test_same_distribution_is_same_at_the_stated_rate() -> None:
    # 10 samples a side, 5% jitter: the CI of the median ratio should sit inside [1/1.2, 1.2]
    # (and MWU should not fire with a 2x ratio) for nearly every seed.
    verdicts = [
        compare_samples(_lognormal(s, 10, 0.5), _lognormal(10_000 + s, 10, 0.5)).direction
        for s in range(200)
    ]
    assert verdicts.count("worse") == 0
    assert verdicts.count("better") == 0
    assert verdicts.count("same") / len(verdicts) >= 0.90, verdicts


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), median=st.floats(0.01, 50), sigma=st.floats(0.0, 0.1))
def test_a_2x_shift_is_worse_and_its_mirror_better(seed: int, median: float, sigma: float) -> None:
    base = _lognormal(seed, 10, median, sigma)
    slow = _lognormal(seed + 1, 10, 2 * median, sigma)
    worse = compare_samples(base, slow)
    assert worse.direction == "worse", worse
    assert worse.ratio == pytest.approx(np.median(slow) / np.median(base))
    better = compare_samples(slow, base)
    assert better.direction == "better", better


@settings(max_examples=50, deadline=None)
@given(
    a=st.lists(st.floats(0.001, 100), min_size=2, max_size=30),
    b=st.lists(st.floats(0.001, 100), min_size=2, max_size=30),
    t=st.floats(0.01, 2),
)
def test_verdict_rules_hold_for_any_samples(a: list[float], b: list[float], t: float) -> None:
    c = compare_samples(a, b, threshold=t)
    assert c.direction in {"better", "same", "worse", "unknown"}
    assert c.ci_low <= c.ci_high
    if c.direction == "worse":
        assert c.p_value < 0.05 and c.ratio > 1 + t
    if c.direction == "better":
        assert c.p_value < 0.05 and c.ratio < 1 / (1 + t)
    if c.direction == "same":
        assert 1 / (1 + t) <= c.ci_low and c.ci_high <= 1 + t
    # deterministic: same inputs, same answer
    assert compare_samples(a, b, threshold=t) == c


def test_a_small_significant_shift_is_not_worse() -> None:
    base = _lognormal(1, 30, 1.0, 0.01)
    cand = _lognormal(2, 30, 1.05, 0.01)  # 5% slower, clearly significant, under 20%
    c = compare_samples(base, cand)
    assert c.p_value < 0.05
    assert c.direction == "same"


def test_noisy_small_samples_are_unknown() -> None:
    c = compare_samples([1.0, 3.0, 0.5], [2.0, 0.4, 2.5])
    assert c.direction == "unknown"


@pytest.mark.parametrize(
    ("base", "cand", "why"),
    [([1.0], [1.0, 2.0], "fewer than 2"), ([0.0, 0.0], [1.0, 1.0], "median is 0")],
)
def test_degenerate_inputs_are_unknown(base, cand, why) -> None:
    c = compare_samples(base, cand)
    assert c.direction == "unknown" and why in c.reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": [1, float("nan")], "candidate": [1, 2]}, "finite"),
        ({"baseline": [1, -2], "candidate": [1, 2]}, ">= 0"),
        ({"baseline": [1, 2], "candidate": [1, 2], "threshold": 0}, "threshold"),
        ({"baseline": [1, 2], "candidate": [1, 2], "alpha": 1.5}, "alpha"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        compare_samples(**kwargs)


def test_compare_exact() -> None:
    assert compare_exact(100, 106, threshold=0.05).direction == "worse"
    assert compare_exact(100, 104, threshold=0.05).direction == "same"
    assert compare_exact(106, 100, threshold=0.05).direction == "better"
    assert compare_exact(None, 100, threshold=0.05).direction == "unknown"


def test_percentile() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([], 50) is None
