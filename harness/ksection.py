"""k-section: the bisect search in rounds of up to k probes at once (one probe per engine).

Pure logic, no I/O, on top of `harness.search.Search` (which keeps the verdicts, checks that
they are monotone and says what they prove). Only the choice of positions differs:

- Ends first. With k = 1 the good end, then the bad end (exactly `Search.next_probe`); with
  k >= 2 both ends in the first round, plus k - 2 interior positions that split the range
  (speculative: wasted only when an end turns out wrong). Both ends are always judged, even
  once one is known wrong, so `EndsWrong` says what each end was.
- Then each round takes the u positions not yet judged inside the open interval (last known
  good, first known bad) and proposes the k positions at indices floor(j*u / (k+1)),
  j = 1..k (all of them when u <= k). That splits the u positions into k + 1 groups of at most
  floor(u / (k+1)) each. With k = 1 this is the median `Search.next_probe` takes, so one engine
  probes exactly what the sequential search probes.

The round bound. Let d(u) be the number of base-(k+1) digits of u (d(0) = 0). A round without
a SKIP leaves one group: u' <= floor(u / (k+1)), so d(u') = d(u) - 1 or less. A round with
s >= 1 SKIPs leaves at most s + 1 groups (the skipped probes between the judged ones), so
u' <= (s+1) * floor(u / (k+1)) <= u and d(u') <= d(u): it spends a skip instead of a digit. With
m = n - 2 interior positions, the rounds are therefore at most

    round_bound(n, k, skipped) = ends + skipped + d(m),   ends = 2 for k = 1, else 1,

where `skipped` counts the SKIP verdicts met. For k = 1 that is `search.probe_bound`. For k = 2
and no skips: 1 + d_3(n - 2) <= ceil(log3(n)) + 2 (the goal of issue 15).

Rounds and lost probes. `propose(width)` opens a round. Its positions may come back in any
order; a probe that yields no verdict (its engine died) is simply not recorded and stays in
`owed()`, to be run again on another engine, for as long as it can still matter (an end, or a
position inside the open interval). The next round opens only once nothing is owed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from harness.search import Outcome, Search, Verdict


def split_points(untested: Sequence[int], k: int) -> list[int]:
    """The k positions of `untested` (sorted) that split it into k + 1 near-equal groups."""
    u = len(untested)
    if k <= 0:
        return []
    if u <= k:
        return list(untested)
    return [untested[j * u // (k + 1)] for j in range(1, k + 1)]


def digits(u: int, base: int) -> int:
    """How many digits `u` has in `base` (0 for 0): the rounds that cut u positions to none."""
    count = 0
    while u > 0:
        u //= base
        count += 1
    return count


def round_bound(n: int, k: int, skipped: int) -> int:
    """The most rounds `KSection(n)` needs with k probes a round and `skipped` SKIPs met."""
    if k < 1:
        raise ValueError(f"k must be at least 1: {k}")
    ends = 2 if k == 1 else 1
    return ends + skipped + digits(max(n - 2, 0), k + 1)


class KSection:
    """Rounds of up to k probes over one `Search`.

    Use: `while ps := ks.propose(k): (run ps anywhere, in any order; record each verdict; rerun
    what is still `owed()`)`, then `ks.result()`.
    """

    def __init__(self, n: int) -> None:
        self.search = Search(n)
        self.n = n
        self.rounds = 0
        self.current: list[int] = []  # the open round's positions

    # -- what the verdicts so far ask for ------------------------------------------------------
    def _ends_wrong(self) -> bool:
        good_end = self.search.verdicts.get(0)
        bad_end = self.search.verdicts.get(self.n - 1)
        return good_end not in (None, Verdict.GOOD) or bad_end not in (None, Verdict.BAD)

    def _untested(self) -> list[int]:
        lo, hi = self.search.last_good, self.search.first_bad
        return [i for i in range(lo + 1, hi) if i not in self.search.verdicts]

    def plan(self, k: int) -> list[int]:
        """The positions the next round would probe with k engines ([] once the search is over)."""
        if k < 1:
            raise ValueError(f"a round needs at least one probe: k = {k}")
        ends = [e for e in (0, self.n - 1) if e not in self.search.verdicts]
        take = ends[:k]  # both ends are judged even when one is wrong: EndsWrong names both
        if self._ends_wrong():
            return take
        return take + split_points(self._untested(), k - len(take))

    def matters(self, position: int) -> bool:
        """Whether a verdict at `position` could still change the outcome."""
        if position in self.search.verdicts:
            return False
        if position in (0, self.n - 1):
            return True
        if self._ends_wrong():
            return False
        return self.search.last_good < position < self.search.first_bad

    # -- the protocol ---------------------------------------------------------------------------
    def propose(self, k: int) -> list[int]:
        """Open the next round: up to k positions to probe at once ([]: the search is over)."""
        if self.owed():
            raise RuntimeError(f"the open round still owes verdicts for {self.owed()}")
        self.current = self.plan(k)
        if self.current:
            self.rounds += 1
        return list(self.current)

    def owed(self) -> list[int]:
        """The open round's positions that still need a verdict (lost probes included)."""
        return [p for p in self.current if self.matters(p)]

    def record(self, position: int, verdict: Verdict | str) -> None:
        """A verdict for `position` (from this round or a cache; in any order)."""
        self.search.record(position, verdict)

    @property
    def done(self) -> bool:
        return not self.owed() and self.search.done

    @property
    def skipped(self) -> int:
        return self.search.skipped

    def result(self) -> Outcome:
        """What the verdicts prove (`Search.result`); only valid once `done`."""
        return self.search.result()


def run(
    n: int,
    k: int,
    judge: Callable[[int], Verdict | str],
    order: Callable[[list[int]], list[int]] = list,
) -> tuple[Outcome, list[list[int]]]:
    """A whole k-section with `judge(position)`; `order` permutes each round's arrivals.

    Returns the outcome and the rounds (each round's positions in the order they were judged).
    """
    ks = KSection(n)
    rounds: list[list[int]] = []
    while positions := ks.propose(k):
        arrived = order(positions)
        for position in arrived:
            ks.record(position, judge(position))
        rounds.append(arrived)
    return ks.result(), rounds
