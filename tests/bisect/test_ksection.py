"""Property tests of k-section (harness/ksection.py): rounds of k probes, pure and fast."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import search
from harness.ksection import KSection, digits, round_bound, run, split_points
from harness.search import Verdict, probe_bound
from tests.bisect.test_search import expected, histories, oracle


def ceil_log3(n: int) -> int:
    """ceil(log3(n)) in integers (no float rounding at powers of 3)."""
    e, p = 0, 1
    while p < n:
        p *= 3
        e += 1
    return e


@settings(max_examples=300, deadline=None)
@given(histories())
def test_one_engine_probes_exactly_what_the_sequential_search_probes(case) -> None:
    n, first_bad, skipped = case
    judge = oracle(first_bad, skipped)
    outcome, probes = search.run(n, judge)
    k_outcome, rounds = run(n, 1, judge)
    assert k_outcome == outcome
    assert [r for (r,) in rounds] == probes  # one position a round, the same ones, same order
    assert round_bound(n, 1, sum(1 for p in probes if p in skipped)) == probe_bound(
        n, sum(1 for p in probes if p in skipped)
    )


@settings(max_examples=400, deadline=None)
@given(histories(), st.integers(min_value=1, max_value=6), st.randoms(use_true_random=False))
def test_any_k_any_arrival_order_same_culprit_within_round_bound(case, k, rnd) -> None:
    n, first_bad, skipped = case
    judge = oracle(first_bad, skipped)

    def shuffled(positions: list[int]) -> list[int]:
        out = list(positions)
        rnd.shuffle(out)
        return out

    outcome, rounds = run(n, k, judge, order=shuffled)
    assert outcome == expected(n, first_bad, skipped)  # = what the sequential search says
    assert outcome == search.run(n, judge)[0]
    flat = [p for r in rounds for p in r]
    assert len(flat) == len(set(flat)), "a position was probed twice"
    assert all(1 <= len(r) <= k for r in rounds)
    skips_met = sum(1 for p in flat if p in skipped)
    assert len(rounds) <= round_bound(n, k, skips_met)
    if k >= 2:
        assert {0, n - 1} <= set(rounds[0]), "both ends are probed in the first round"


@settings(max_examples=300, deadline=None)
@given(
    histories(max_n=60),
    st.sampled_from(["good end bad", "no regression", "both"]),
    st.integers(min_value=1, max_value=5),
)
def test_wrong_ends_are_reported_as_the_sequential_search_reports_them(case, how, k) -> None:
    """Both ends are always judged, even once one is known wrong (EndsWrong names both)."""
    n, _, skipped = case
    first_bad = {"good end bad": 0, "no regression": n, "both": 0}[how]
    judge = oracle(first_bad, skipped)
    if how == "both":  # good end bad, bad end good: not monotone, as real ends can be

        def judge(i: int) -> Verdict:
            return Verdict.BAD if i == 0 else Verdict.GOOD

    outcome, rounds = run(n, k, judge)
    assert isinstance(outcome, search.EndsWrong)
    assert outcome == search.run(n, judge)[0]
    assert {0, n - 1} <= {p for r in rounds for p in r}


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=2, max_value=2000), st.data())
def test_two_engines_need_at_most_ceil_log3_n_plus_2_rounds(n, data) -> None:
    first_bad = data.draw(st.integers(min_value=1, max_value=n - 1))
    outcome, rounds = run(n, 2, oracle(first_bad, frozenset()))
    assert outcome == search.Found(first_bad=first_bad, last_good=first_bad - 1)
    assert len(rounds) <= round_bound(n, 2, 0) <= ceil_log3(n) + 2


def test_two_engines_on_32_commits_every_culprit() -> None:
    """The issue's goal, exhaustively: n = 32, every culprit, k = 2."""
    worst = 0
    for first_bad in range(1, 32):
        outcome, rounds = run(32, 2, oracle(first_bad, frozenset()))
        assert outcome == search.Found(first_bad=first_bad, last_good=first_bad - 1)
        worst = max(worst, len(rounds))
    assert worst <= ceil_log3(32) + 2 == 6
    assert worst == round_bound(32, 2, 0) == 5  # 1 round for the ends, 4 for 30 interior


@settings(max_examples=300, deadline=None)
@given(histories(max_n=120), st.integers(min_value=1, max_value=5), st.data())
def test_lost_probes_are_owed_again_and_never_become_verdicts(case, k, data) -> None:
    """A probe with no verdict (its engine died) stays owed until it is judged or cannot matter;
    arrivals in any order; the outcome and the round count are as without losses."""
    n, first_bad, skipped = case
    judge = oracle(first_bad, skipped)
    ks = KSection(n)
    lost_total = 0
    while positions := ks.propose(k):
        assert ks.owed() == positions
        while owed := ks.owed():
            position = data.draw(st.sampled_from(owed))
            if lost_total < 30 and data.draw(st.booleans()):
                lost_total += 1  # the engine died: nothing recorded
                assert position in ks.owed(), "a lost probe must be run again"
                assert position not in ks.search.verdicts
                continue
            ks.record(position, judge(position))
            assert position not in ks.owed()
    assert ks.done
    assert ks.result() == expected(n, first_bad, skipped)
    assert ks.rounds <= round_bound(n, k, ks.skipped)


def test_a_round_cannot_open_while_verdicts_are_owed() -> None:
    ks = KSection(10)
    assert ks.propose(2) == [0, 9]
    ks.record(9, Verdict.BAD)
    with pytest.raises(RuntimeError, match="owes"):
        ks.propose(2)
    ks.record(0, Verdict.GOOD)
    assert ks.propose(2) == [3, 6]  # 8 interior positions split 2/2/2 around the two probes


def test_an_owed_probe_that_can_no_longer_matter_is_dropped() -> None:
    ks = KSection(12)
    ks.propose(2)
    ks.record(0, Verdict.GOOD)
    ks.record(11, Verdict.BAD)
    assert ks.propose(2) == [4, 7]
    ks.record(4, Verdict.BAD)  # the engine probing #7 died; #7 is now past the first bad
    assert ks.owed() == []
    assert ks.propose(2) == [2, 3]


def test_three_engines_probe_the_middle_with_the_ends() -> None:
    ks = KSection(33)
    assert ks.propose(3) == [0, 32, 16]
    ks.record(16, Verdict.BAD)
    ks.record(0, Verdict.GOOD)
    ks.record(32, Verdict.GOOD)  # no regression: the speculative probe was wasted, nothing more
    assert ks.owed() == [] and ks.propose(3) == []
    assert isinstance(ks.result(), search.EndsWrong)


@given(st.lists(st.integers(), unique=True).map(sorted), st.integers(min_value=1, max_value=8))
def test_split_points_leave_groups_of_at_most_u_over_k_plus_1(untested, k) -> None:
    points = split_points(untested, k)
    assert points == sorted(set(points)) and set(points) <= set(untested)
    assert len(points) == min(k, len(untested))
    cuts = [-1, *(untested.index(p) for p in points), len(untested)]
    groups = [b - a - 1 for a, b in itertools.pairwise(cuts)]
    assert max(groups) <= len(untested) // (k + 1)


def test_digits() -> None:
    assert [digits(u, 3) for u in (0, 1, 2, 3, 8, 9, 26, 27, 30)] == [0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert digits(30, 2) == (30).bit_length()
