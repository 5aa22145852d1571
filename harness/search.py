"""The bisect search, alone: which commit to probe next, and what the verdicts so far prove.

Pure logic, no I/O. Positions are indices into the first-parent list with both ends included:
position 0 is the good end, position n-1 the bad end. The caller measures; this module only
decides. Three verdicts: GOOD, BAD and SKIP (the commit cannot be judged for the check at hand).

Decisions (see docs/bisect.md):
- Both ends are probed first, good then bad. If the good end is not good or the bad end is not
  bad, the search stops at once with `EndsWrong`, which says which end and what it was.
- Between the ends the next probe is the median of the positions not yet probed inside the open
  interval (last known good, first known bad). A GOOD or BAD verdict there at least halves that
  set; a SKIP removes one position. Hence, with m = n - 2 interior positions, at most
  bit_length(m) = ceil(log2(n - 1)) judged interior probes are made, and the total is bounded by
  `probe_bound(n, skipped) = 2 + skipped + ceil(log2(n - 1))`, where `skipped` counts the
  SKIP verdicts actually met.
- Verdicts are memoised: a position is never proposed twice, and `record` accepts verdicts from a
  cache (in any order) as long as they agree with a monotone history.
- The result is `Found(first_bad, last_good)` when adjacent judged positions bracket the change,
  else `Ambiguous(candidates, last_good)`: the smallest range that holds the first bad commit,
  made of skipped positions and the first known bad one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class Verdict(enum.StrEnum):
    GOOD = "good"
    BAD = "bad"
    SKIP = "skip"


@dataclass(frozen=True)
class Found:
    """The first bad position and the judged good position just before it."""

    first_bad: int
    last_good: int


@dataclass(frozen=True)
class Ambiguous:
    """The first bad position is one of `candidates` (all skipped but the last, which is bad)."""

    candidates: tuple[int, ...]
    last_good: int


@dataclass(frozen=True)
class EndsWrong:
    """An end of the range did not have the verdict it must have; nothing between was probed."""

    good_end: Verdict
    bad_end: Verdict

    @property
    def which(self) -> str:
        """'good', 'bad' or 'both': the end(s) that are wrong."""
        wrong = [
            name
            for name, got, want in (
                ("good", self.good_end, Verdict.GOOD),
                ("bad", self.bad_end, Verdict.BAD),
            )
            if got is not want
        ]
        return "both" if len(wrong) == 2 else wrong[0]

    @property
    def no_regression(self) -> bool:
        """True when the good end is good and the bad end is good too: the range shows nothing."""
        return self.good_end is Verdict.GOOD and self.bad_end is Verdict.GOOD

    def describe(self) -> str:
        parts = []
        if self.good_end is not Verdict.GOOD:
            parts.append(f"the good end is not good (it is {self.good_end})")
        if self.bad_end is not Verdict.BAD:
            parts.append(f"the bad end is not bad (it is {self.bad_end})")
        return "; ".join(parts)


Outcome = Found | Ambiguous | EndsWrong


class InconsistentVerdict(ValueError):
    """A recorded verdict contradicts earlier ones (a good commit after a bad one)."""


def probe_bound(n: int, skipped: int) -> int:
    """The most probes `Search(n)` makes when it meets `skipped` SKIP verdicts."""
    interior = max(n - 2, 0)
    return 2 + skipped + interior.bit_length()


class Search:
    """Bisect over positions 0..n-1 (0 = good end, n-1 = bad end).

    Use: `while (i := s.next_probe()) is not None: s.record(i, judge(i))`, then `s.result()`.
    """

    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or n < 2:
            raise ValueError(f"a bisect range needs at least 2 commits (good and bad end): {n!r}")
        self.n = n
        self.verdicts: dict[int, Verdict] = {}
        self.order: list[int] = []  # positions in the order their verdicts arrived

    # -- state derived from the verdicts -------------------------------------------------------
    @property
    def last_good(self) -> int:
        goods = [i for i, v in self.verdicts.items() if v is Verdict.GOOD]
        return max(goods, default=0)

    @property
    def first_bad(self) -> int:
        bads = [i for i, v in self.verdicts.items() if v is Verdict.BAD]
        return min(bads, default=self.n - 1)

    def _ends(self) -> tuple[Verdict | None, Verdict | None]:
        return self.verdicts.get(0), self.verdicts.get(self.n - 1)

    def _untested_between(self) -> list[int]:
        lo, hi = self.last_good, self.first_bad
        return [i for i in range(lo + 1, hi) if i not in self.verdicts]

    # -- the protocol ---------------------------------------------------------------------------
    def next_probe(self) -> int | None:
        """The next position to judge, or None when the search is over."""
        good_end, bad_end = self._ends()
        if good_end is None:
            return 0
        if bad_end is None:
            return self.n - 1
        if good_end is not Verdict.GOOD or bad_end is not Verdict.BAD:
            return None
        untested = self._untested_between()
        if not untested:
            return None
        return untested[len(untested) // 2]

    def record(self, position: int, verdict: Verdict | str) -> None:
        """Store the verdict for `position`; a repeat must agree with the first one."""
        if not 0 <= position < self.n:
            raise ValueError(f"position {position} is outside the range 0..{self.n - 1}")
        verdict = Verdict(verdict)
        known = self.verdicts.get(position)
        if known is not None:
            if known is not verdict:
                raise InconsistentVerdict(
                    f"position {position} was {known}, now {verdict}: verdicts must be stable"
                )
            return
        # The ends are exempt: a wrong end is reported as EndsWrong, not as a contradiction.
        inner = {i: v for i, v in self.verdicts.items() if 0 < i < self.n - 1}
        if 0 < position < self.n - 1:
            if verdict is Verdict.GOOD and any(
                v is Verdict.BAD and i < position for i, v in inner.items()
            ):
                raise InconsistentVerdict(f"position {position} is good but an earlier one is bad")
            if verdict is Verdict.BAD and any(
                v is Verdict.GOOD and i > position for i, v in inner.items()
            ):
                raise InconsistentVerdict(f"position {position} is bad but a later one is good")
        self.verdicts[position] = verdict
        self.order.append(position)

    @property
    def done(self) -> bool:
        return self.next_probe() is None

    @property
    def skipped(self) -> int:
        return sum(1 for v in self.verdicts.values() if v is Verdict.SKIP)

    def result(self) -> Outcome:
        """What the verdicts prove; only valid once `next_probe()` is None."""
        if not self.done:
            raise RuntimeError("the search is not finished: call next_probe() until it is None")
        good_end, bad_end = self._ends()
        assert good_end is not None and bad_end is not None
        if good_end is not Verdict.GOOD or bad_end is not Verdict.BAD:
            return EndsWrong(good_end, bad_end)
        lo, hi = self.last_good, self.first_bad
        if hi == lo + 1:
            return Found(first_bad=hi, last_good=lo)
        return Ambiguous(candidates=tuple(range(lo + 1, hi + 1)), last_good=lo)


def run(n: int, judge: Callable[[int], Verdict | str]) -> tuple[Outcome, list[int]]:
    """Run a whole search with `judge(position) -> verdict`; returns the outcome and the probes."""
    search = Search(n)
    while (position := search.next_probe()) is not None:
        search.record(position, judge(position))
    return search.result(), list(search.order)
