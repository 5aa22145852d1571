"""Pure: a probabilistic (Bayesian) bisection that tolerates wrong verdicts.

Positions 0..n-1 (0 = good end, n-1 = bad end; both ends are taken as known). The unknown is k,
the first bad position, 1 <= k <= n-1, with a uniform prior. Each judged commit i carries
evidence L_i = log P(its samples | i is bad) / P(its samples | i is good) (harness.classify);
since i is bad exactly when k <= i,

    log posterior(k) = sum of L_i over the judged i >= k   (+ a constant)

Each visit is an independent trial (its own samples, in a fresh container) and counts for at
most +-cap; L_i is the sum over the visits of i. With cap = half the SPRT bound (the driver's
choice), one visit can never name a culprit on its own: a wrong verdict is outvoted by a second
visit or by its neighbours instead of steering the search for good. The next probe is the
interior position whose "k <= i" is closest to an even bet (the posterior median; ties go to
the commit with less evidence): it may be a commit already judged, which is then sampled again
(with a larger budget: the driver's) because the evidence there is still close or
contradicted. The search ends when one position holds at least `confidence` of the posterior
(found), or after `max_visits` visits (not found: the most
likely position and its probability are reported, never named as the culprit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    """One visit: where, the commit's evidence after it, and the posterior's best guess then."""

    position: int
    llr: float  # this visit's evidence (before the cap)
    best: int
    probability: float


@dataclass
class NoisySearch:
    """Use: `while (i := s.next_probe()) is not None: s.record(i, llr_of_all_samples_at_i)`."""

    n: int
    cap: float
    confidence: float = 0.95
    max_visits: int = 0  # 0: 3 * ceil(log2(n - 1)) + 4
    evidence: dict[int, float] = field(default_factory=dict)  # position -> sum of capped LLRs
    visits: dict[int, int] = field(default_factory=dict)
    excluded: set[int] = field(default_factory=set)  # cannot be judged (e.g. does not build)
    path: list[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.n < 2:
            raise ValueError(f"a bisect range needs at least 2 commits: {self.n}")
        if not 0.5 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0.5, 1), got {self.confidence}")
        if not self.cap > 0:
            raise ValueError(f"cap must be > 0, got {self.cap}")
        if self.max_visits <= 0:
            self.max_visits = 3 * math.ceil(math.log2(max(self.n - 1, 2))) + 4

    # -- the posterior ---------------------------------------------------------------------------
    def capped(self, position: int) -> float:
        """The evidence at `position`: its visits' LLRs, each capped at +-cap, summed."""
        return self.evidence.get(position, 0.0)

    def posterior(self) -> list[float]:
        """P(first bad = k) for k = 0..n-1 (0 at k = 0: the good end is good)."""
        logs = [-math.inf] + [0.0] * (self.n - 1)
        running = 0.0
        for k in range(self.n - 1, 0, -1):
            running += self.capped(k) if 0 < k < self.n - 1 else 0.0
            logs[k] = running
        top = max(logs[1:])
        weights = [0.0 if x == -math.inf else math.exp(x - top) for x in logs]
        total = sum(weights)
        return [w / total for w in weights]

    def best(self) -> tuple[int, float]:
        """The most likely first bad position and its probability."""
        post = self.posterior()
        k = max(range(1, self.n), key=lambda i: post[i])
        return k, post[k]

    # -- the protocol ----------------------------------------------------------------------------
    @property
    def total_visits(self) -> int:
        return sum(self.visits.values())

    def next_probe(self) -> int | None:
        """The next interior position to sample, or None when the search is over."""
        _, p = self.best()
        if p >= self.confidence or self.total_visits >= self.max_visits:
            return None
        post = self.posterior()
        choices = [i for i in range(1, self.n - 1) if i not in self.excluded]
        if not choices:
            return None
        cdf, below = [], 0.0
        for k in range(self.n):
            below += post[k]
            cdf.append(below)  # cdf[i] = P(k <= i) = P(commit i is bad)
        return min(choices, key=lambda i: (abs(cdf[i] - 0.5), abs(self.capped(i)), i))

    def record(self, position: int, llr: float) -> None:
        """One visit to `position`: `llr` is the evidence of this visit's samples."""
        if not 0 < position < self.n - 1:
            raise ValueError(f"position {position} is not inside 1..{self.n - 2}")
        if not math.isfinite(llr):
            raise ValueError(f"evidence must be finite, got {llr}")
        self.evidence[position] = self.evidence.get(position, 0.0) + max(
            -self.cap, min(self.cap, llr)
        )
        self.visits[position] = self.visits.get(position, 0) + 1
        best, p = self.best()
        self.path.append(Step(position, llr, best, p))

    def after(self, position: int, llr: float) -> int | None:
        """The probe that would come next if this visit to `position` brought `llr` (the search
        itself is not changed): the driver builds its image while the visit samples."""
        trial = NoisySearch(
            self.n,
            self.cap,
            self.confidence,
            self.max_visits,
            dict(self.evidence),
            dict(self.visits),
            set(self.excluded),
        )
        trial.record(position, llr)
        return trial.next_probe()

    def exclude(self, position: int) -> None:
        """`position` cannot be judged: never probe it (it counts as one visit)."""
        self.excluded.add(position)
        self.visits[position] = self.visits.get(position, 0) + 1
        best, p = self.best()
        self.path.append(Step(position, 0.0, best, p))

    def result(self) -> tuple[int | None, int, float]:
        """(culprit or None when below the confidence, most likely position, its probability)."""
        best, p = self.best()
        return (best if p >= self.confidence else None), best, p
