"""The latency verdict between the two ends (harness.classify), pure: simulation, no Docker.

Log-normal samples (tests/bisect/simulate.py) at sigma 0.15 / 0.35 / 0.5 and shifts +20 / +30
/ +50 %: the SPRT's wrong-verdict rate stays near its stated 1 %, and whole simulated bisects
(the posterior search over 32 commits) name the right commit at the issue's goal and never a
wrong one, where today's rule and search (run through the same simulation) do not. Each test
prints its table (pytest -s) beside today's figures.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.classify import bound, compare_ends, evidence, levels, log_ratio, verdict
from harness.search import Verdict
from tests.bisect.simulate import bisect_rates, ends_outcome, rates

SIGMAS = (0.15, 0.35, 0.5)
SHIFTS = (0.2, 0.3, 0.5)
positive = st.floats(min_value=0.01, max_value=5.0, allow_nan=False)


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("shift", SHIFTS)
def test_sprt_wrong_verdicts_stay_near_the_stated_error(sigma: float, shift: float) -> None:
    """Over 200 probes of each truth, at most 3 % wrong (stated: 1 % each way)."""
    for like_bad in (False, True):
        new = rates("sprt", sigma, shift, like_bad, trials=200, seed=5)
        old = rates("today", sigma, shift, like_bad, trials=30, seed=5)
        print(
            f"sigma {sigma} shift +{shift:.0%} truth {'bad' if like_bad else 'good'}: "
            f"sprt wrong {new.wrong:.1%} undecided {new.undecided:.1%} n {new.mean_samples:.1f}; "
            f"today wrong {old.wrong:.1%} undecided {old.undecided:.1%} n {old.mean_samples:.1f}"
        )
        assert new.wrong <= 0.03
        assert new.mean_samples <= 24


GOALS = [  # (sigma, shift, at least right of 40)
    (0.35, 0.3, 38),
    (0.15, 0.5, 40),
    (0.5, 0.5, 38),
]


@pytest.mark.parametrize(("sigma", "shift", "right"), GOALS)
def test_simulated_bisects_meet_the_goal_and_name_no_wrong_commit(
    sigma: float, shift: float, right: int
) -> None:
    got = bisect_rates("noisy", sigma, shift, runs=40, seed=11)
    print(f"sigma {sigma} +{shift:.0%}: {got}")
    assert got["wrong"] == 0
    assert got["right"] >= right


def test_drift_is_shared_through_the_recent_reference_window() -> None:
    """Other load arriving during the bisect (the machine 10 % slower per 100 requests): a
    candidate is compared with the ends' recent samples, so no wrong commit is named. With
    all-time pools (REFERENCE_WINDOW unbounded) the same seeds named 28 wrong commits of 40."""
    got = bisect_rates("noisy", 0.35, 0.3, runs=40, seed=11, drift=0.1)
    print(f"sigma 0.35 +30%, drift 10%/100 requests: {got}")
    assert got["wrong"] == 0 and got["right"] >= 38


def test_the_ends_shared_drift_saves_candidate_samples() -> None:
    """The ends' gap from all their samples and only their common level from the recent window
    (classify.evidence): at sigma 0.35 +30 % the same 40 seeded bisects took 527 samples on
    average when each end's level came from its own window alone (classify.log_ratio)."""
    got = bisect_rates("noisy", 0.35, 0.3, runs=40, seed=11)
    print(f"sigma 0.35 +30%: {got}")
    assert got["wrong"] == 0
    assert got["samples"] <= 450


@pytest.mark.xfail(strict=True, reason="today's rule: undecided probes and wrong commits")
def test_todays_rule_under_the_same_simulation() -> None:
    got = bisect_rates("today", 0.35, 0.3, runs=10, seed=11)
    print(f"today, sigma 0.35 +30%: {got}")
    assert got["wrong"] == 0 and got["right"] >= 10


@settings(max_examples=200, deadline=None)
@given(
    st.lists(positive, min_size=2, max_size=30),
    st.lists(positive, min_size=2, max_size=30),
    st.lists(positive, min_size=1, max_size=30),
)
def test_swapping_the_ends_negates_the_evidence(
    good: list[float], bad: list[float], cand: list[float]
) -> None:
    forward = log_ratio(levels(good, bad), cand)
    backward = log_ratio(levels(bad, good), cand)
    assert math.isfinite(forward)
    assert math.isclose(forward, -backward, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(positive, min_size=2, max_size=40),
    st.lists(positive, min_size=2, max_size=40),
    st.lists(positive, min_size=1, max_size=30),
    st.integers(min_value=2, max_value=40),
)
def test_evidence_with_a_shared_drift_is_antisymmetric_in_the_ends(
    good: list[float], bad: list[float], cand: list[float], window: int
) -> None:
    forward = evidence(good, bad, cand, window)
    assert math.isfinite(forward)
    assert math.isclose(forward, -evidence(bad, good, cand, window), rel_tol=1e-9, abs_tol=1e-9)


def test_a_common_drift_moves_the_verdict_with_it() -> None:
    """Both ends 30 % slower lately (other load): a candidate at the drifted good level is like
    the good end, one at the drifted bad level like the bad end."""
    good = [0.2 * (1 + 0.02 * (i % 5)) for i in range(40)]
    bad = [x * 1.3 for x in good]
    good[-12:] = [x * 1.3 for x in good[-12:]]
    bad[-12:] = [x * 1.3 for x in bad[-12:]]
    assert verdict(evidence(good, bad, [0.26, 0.27, 0.262, 0.268], 12), 0.01) is Verdict.GOOD
    assert verdict(evidence(good, bad, [0.34, 0.35, 0.345, 0.35], 12), 0.01) is Verdict.BAD
    assert evidence(good, bad, [], 12) == 0.0


def test_a_candidate_at_an_end_leans_to_that_end() -> None:
    good = [0.20, 0.21, 0.19, 0.2, 0.22, 0.18]
    bad = [0.30, 0.31, 0.29, 0.3, 0.32, 0.28]
    lv = levels(good, bad)
    assert verdict(log_ratio(lv, [0.2, 0.2, 0.21]), 0.01) is Verdict.GOOD
    assert verdict(log_ratio(lv, [0.3, 0.3, 0.31]), 0.01) is Verdict.BAD
    assert verdict(log_ratio(lv, [0.245]), 0.01) is None
    assert log_ratio(lv, []) == 0.0


def test_a_stray_slow_request_cannot_carry_a_verdict() -> None:
    """One request stalled 50x by other load, among good ones: still not 'like bad'."""
    good = [0.2, 0.21, 0.19, 0.2, 0.22, 0.18, 0.2, 0.21]
    bad = [0.26, 0.27, 0.25, 0.26, 0.28, 0.24, 0.26, 0.27]
    lv = levels(good, bad)
    assert log_ratio(lv, [0.2, 0.19, 10.0, 0.21, 0.2]) < 0


def test_a_regression_just_past_the_threshold_is_not_called_no_regression() -> None:
    """+30 % at sigma 0.35 against a 20 % threshold: 200 simulated ends comparisons never say
    "no regression" (with the upper bound at 97.5 % instead of 99.5 %, 3 did, and one of 20
    noisy-zoo runs ended there); a true no-regression still gets its answer."""
    rng = np.random.default_rng(11)
    said = Counter(ends_outcome(rng, 0.35, 0.3)[0] for _ in range(200))
    print(f"sigma 0.35 +30 %: {dict(said)}")
    assert said["no_regression"] == 0 and said["regression"] >= 195
    said = Counter(ends_outcome(rng, 0.35, 0.0)[0] for _ in range(200))
    print(f"sigma 0.35 no change: {dict(said)}")
    assert said["no_regression"] >= 160


def test_the_ends_comparison() -> None:
    good = [0.2 * (1 + 0.01 * (i % 5)) for i in range(12)]
    assert compare_ends(good, [x * 1.5 for x in good], 0.2).status == "regression"
    assert compare_ends(good, list(good), 0.2).status == "no_regression"
    assert compare_ends(good[:6], good[:6], 0.2).status == "unknown"  # too few to say "none"
    assert bound(0.01) == pytest.approx(math.log(99))
    with pytest.raises(ValueError):
        bound(0.6)
    with pytest.raises(ValueError):
        levels([0.2], [0.3, 0.3])
