"""Property tests of the pure bisect search (harness/search.py): fast, no I/O."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.search import (
    Ambiguous,
    EndsWrong,
    Found,
    InconsistentVerdict,
    Search,
    Verdict,
    probe_bound,
    run,
)


@st.composite
def histories(draw: st.DrawFn, max_n: int = 300) -> tuple[int, int, frozenset[int]]:
    """(n, first_bad, skipped): n positions, the true first bad one, and interior skips."""
    n = draw(st.integers(min_value=2, max_value=max_n))
    first_bad = draw(st.integers(min_value=1, max_value=n - 1))
    interior = list(range(1, n - 1))
    if interior:
        # Dense skip sets too: runs of unbuildable commits are common in real histories.
        density = draw(st.sampled_from([0.0, 0.05, 0.3, 0.9, 1.0]))
        picks = draw(st.lists(st.booleans(), min_size=len(interior), max_size=len(interior)))
        chosen = draw(st.sets(st.sampled_from(interior), max_size=len(interior)))
        skipped = frozenset(
            i for i, p in zip(interior, picks, strict=True) if (p and density >= 0.3) or i in chosen
        )
        if density == 0.0:
            skipped = frozenset()
        elif density == 1.0:
            skipped = frozenset(interior)
    else:
        skipped = frozenset()
    return n, first_bad, skipped


def oracle(first_bad: int, skipped: frozenset[int]):
    def judge(i: int) -> Verdict:
        if i in skipped:
            return Verdict.SKIP
        return Verdict.BAD if i >= first_bad else Verdict.GOOD

    return judge


def expected(n: int, first_bad: int, skipped: frozenset[int]) -> Found | Ambiguous:
    """The best any search can say: nearest judged positions around the true first bad one."""
    lo = max(i for i in range(first_bad) if i not in skipped)
    hi = min(i for i in range(first_bad, n) if i not in skipped)
    if hi == lo + 1:
        return Found(first_bad=hi, last_good=lo)
    return Ambiguous(candidates=tuple(range(lo + 1, hi + 1)), last_good=lo)


@settings(max_examples=400, deadline=None)
@given(histories())
def test_finds_first_bad_or_smallest_skipped_range_within_bound(case) -> None:
    n, first_bad, skipped = case
    calls: list[int] = []
    judge = oracle(first_bad, skipped)

    def counting(i: int) -> Verdict:
        calls.append(i)
        return judge(i)

    outcome, probes = run(n, counting)
    assert outcome == expected(n, first_bad, skipped)
    assert probes == calls
    assert len(set(calls)) == len(calls), "a commit was probed twice"
    skips_met = sum(1 for i in calls if i in skipped)
    assert len(calls) <= probe_bound(n, skips_met)
    assert calls[:2] == [0, n - 1], "both ends are checked first"


@settings(max_examples=200, deadline=None)
@given(histories(max_n=120))
def test_ambiguous_range_holds_only_skipped_and_the_bad_one(case) -> None:
    n, first_bad, skipped = case
    outcome, _ = run(n, oracle(first_bad, skipped))
    if isinstance(outcome, Ambiguous):
        *rest, last = outcome.candidates
        assert all(i in skipped for i in rest)
        assert last not in skipped and last >= first_bad
        assert first_bad in outcome.candidates
    else:
        assert isinstance(outcome, Found)
        assert outcome.first_bad == first_bad


@settings(max_examples=200, deadline=None)
@given(histories(max_n=200), st.randoms(use_true_random=False))
def test_resume_from_cached_verdicts_probes_nothing_twice(case, rnd) -> None:
    """An interrupted search fed its cache again asks only for the positions it still needs."""
    n, first_bad, skipped = case
    judge = oracle(first_bad, skipped)
    full_outcome, full_probes = run(n, judge)
    cut = rnd.randint(0, len(full_probes))
    cached = {i: judge(i) for i in full_probes[:cut]}
    resumed = Search(n)
    for i in rnd.sample(sorted(cached), len(cached)):  # cache order is arbitrary
        resumed.record(i, cached[i])
    fresh: list[int] = []
    while (i := resumed.next_probe()) is not None:
        assert i not in cached
        fresh.append(i)
        resumed.record(i, judge(i))
    assert resumed.result() == full_outcome
    assert fresh == full_probes[cut:]


@given(st.integers(min_value=2, max_value=300), st.sampled_from(list(Verdict)))
def test_good_end_not_good_stops_after_both_ends(n: int, good_end: Verdict) -> None:
    if good_end is Verdict.GOOD:
        return
    outcome, probes = run(n, lambda i: good_end if i == 0 else Verdict.BAD)
    assert probes == [0, n - 1]
    assert outcome == EndsWrong(good_end=good_end, bad_end=Verdict.BAD)
    assert outcome.which == "good"
    assert "good end is not good" in outcome.describe()


@given(st.integers(min_value=2, max_value=300), st.sampled_from([Verdict.GOOD, Verdict.SKIP]))
def test_bad_end_not_bad_stops_after_both_ends(n: int, bad_end: Verdict) -> None:
    outcome, probes = run(n, lambda i: bad_end if i == n - 1 else Verdict.GOOD)
    assert probes == [0, n - 1]
    assert isinstance(outcome, EndsWrong)
    assert outcome.which == "bad"
    assert outcome.no_regression is (bad_end is Verdict.GOOD)
    assert f"bad end is not bad (it is {bad_end})" in outcome.describe()


def test_both_ends_wrong_says_both() -> None:
    outcome, _ = run(5, lambda i: Verdict.BAD if i == 0 else Verdict.GOOD)
    assert isinstance(outcome, EndsWrong)
    assert outcome.which == "both"
    assert not outcome.no_regression


def test_two_commits_need_only_the_ends() -> None:
    outcome, probes = run(2, lambda i: Verdict.BAD if i else Verdict.GOOD)
    assert outcome == Found(first_bad=1, last_good=0)
    assert probes == [0, 1]


@pytest.mark.parametrize("n", [0, 1, -3])
def test_too_short_range_is_refused(n: int) -> None:
    with pytest.raises(ValueError, match="at least 2 commits"):
        Search(n)


def test_contradictory_verdicts_are_refused() -> None:
    s = Search(10)
    s.record(5, Verdict.BAD)
    with pytest.raises(InconsistentVerdict, match="earlier one is bad"):
        s.record(7, Verdict.GOOD)
    with pytest.raises(InconsistentVerdict, match="was bad, now good"):
        s.record(5, "good")
    s.record(2, Verdict.GOOD)
    with pytest.raises(InconsistentVerdict, match="later one is good"):
        s.record(1, Verdict.BAD)
    with pytest.raises(ValueError, match="outside the range"):
        s.record(10, Verdict.GOOD)
    with pytest.raises(ValueError):
        s.record(3, "maybe")


def test_result_before_done_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not finished"):
        Search(4).result()


def test_bound_is_log2_plus_skips_plus_two() -> None:
    # 2 ends + ceil(log2(n - 1)) judged interior probes + one per skip met.
    assert probe_bound(2, 0) == 2
    assert probe_bound(3, 0) == 3
    assert probe_bound(33, 0) == 2 + 5
    assert probe_bound(34, 0) == 2 + 6
    assert probe_bound(300, 4) == 2 + 4 + 9


# -- the timing verdict rule (harness.timing.decide) is pure too ------------------------------
def _cmp(verdict: str, ratio: float, ci_high: float):
    from harness.stats import Comparison

    return Comparison(verdict, ratio, 0.01, 0.9, ci_high)


@pytest.mark.parametrize(
    ("verdict", "ratio", "ci_high", "floor", "want"),
    [
        ("worse", 2.0, 2.5, 0.0, Verdict.BAD),  # warm latency: no floor
        ("worse", 1.25, 1.4, 0.25, Verdict.GOOD),  # 0.1 s x 1.25: 25 ms slower, under the floor
        ("worse", 11.0, 14.0, 0.25, Verdict.BAD),  # a lazy load: a second slower
        ("same", 1.0, 1.1, 0.0, Verdict.GOOD),
        ("better", 0.5, 0.6, 0.0, Verdict.GOOD),
        ("unknown", 1.1, 1.9, 0.0, None),  # keep sampling
        ("unknown", 1.1, 1.9, 0.25, Verdict.GOOD),  # worst case 90 ms slower < 250 ms floor
        ("unknown", 1.1, 4.0, 0.25, None),  # worst case 300 ms slower: keep sampling
    ],
)
def test_timing_decision(verdict, ratio, ci_high, floor, want) -> None:
    from harness.timing import decide

    assert decide(_cmp(verdict, ratio, ci_high), 0.1, floor) is want


def test_timing_decision_without_figures_is_undecided() -> None:
    from harness.timing import decide

    assert decide(None, 0.1) is None
    assert decide(_cmp("unknown", 1.0, 1.0), None) is None
