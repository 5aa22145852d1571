"""The latency bisect on noisy machines: warm references, sequential samples, a posterior.

Both ends run in containers for the whole bisect (started once, warmed up once); so do the last
few candidates visited (harness.warm_candidates), for a revisit. The ends' samples
are pooled; every candidate sample is followed by one sample of an end (good and bad in turn),
so the references are topped up interleaved with each candidate and share its drift (one end
sample per TOP_UP_EVERY candidate samples). A
candidate is sampled until its evidence (harness.classify.evidence: an SPRT between "like the
good end" and "like the bad end", the ends' gap from all their samples and their common level
from the recent ones) passes Wald's bound or the visit's budget (`visit_budget`: VISIT_SAMPLES,
at most `max_samples`, times the visit's number at that commit) is spent;
harness.noisysearch turns the evidence of every visited commit into a posterior over the first
bad commit and says where to sample next. A commit is named only when its posterior reaches
`confidence`; otherwise the result is "not found" with the most likely commit and its
probability. Before any candidate the ends themselves are compared (harness.classify
.compare_ends): a bad end that is not slower is "no regression".
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from harness.classify import bound, compare_ends, evidence, levels, verdict, weighed
from harness.container import RunningWorker
from harness.errors import HarnessError
from harness.images import ImageInfo
from harness.judge import Judge
from harness.judgement import Judgement, Options
from harness.noisysearch import NoisySearch
from harness.progress import Progress, quiet
from harness.search import Verdict
from harness.timing import median
from harness.verdicts import VerdictCache
from harness.warm_candidates import WarmCandidates

MIN_SAMPLES = 3  # candidate samples before the first SPRT look
TOP_UP_EVERY = 1  # one sample of an end (good and bad in turn) per this many candidate samples
# A candidate is compared with the most recent samples of each end only: other load on the
# machine drifts (the zoo saw the good end go from 236 to 297 ms within one bisect), and
# all-time pools would call a good commit measured in a slow spell "like bad".
REFERENCE_WINDOW = 24
# A first visit's sample budget (at most --max-samples); a revisit gets this times its number.
# From the simulation (tests/bisect/simulate.py, docs/bisect.md): at sigma 0.35 +30 %, 16
# instead of 24 took a fifth fewer samples for the same right / wrong / not-found counts.
VISIT_SAMPLES = 16
END_BATCHES = 16  # the ends are compared after each batch of `samples`, at most this many


def visit_budget(max_samples: int, visit: int, first: int = VISIT_SAMPLES) -> int:
    """Candidate samples allowed on the `visit`-th visit to a commit."""
    return min(max_samples, first) * visit


class _Stop(Exception):
    """The bisect cannot go on (an end stopped answering); carries the status and message."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class LatencyOutcome:
    """What the latency bisect found (positions index `commits`)."""

    status: str  # found | not_found | no_regression | good_end_bad | undecided
    message: str
    probes: list[Judgement]
    bound: int
    first_bad: int | None = None
    best: int | None = None
    probability: float | None = None
    search: dict[str, Any] = field(default_factory=dict)


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f} ms"


class _Session:
    """The two warm ends and the samples taken so far."""

    def __init__(self, judge: Judge, good: RunningWorker, bad: RunningWorker) -> None:
        self.judge = judge
        self.ends = {"good": good, "bad": bad}
        self.pools: dict[str, list[float]] = {"good": [], "bad": []}
        self.turn = 0
        self.requests = 0

    def payload(self) -> dict[str, Any]:
        payloads = self.judge.payloads()
        return payloads[self.requests % len(payloads)]

    def time(self, worker: RunningWorker, who: str) -> float:
        sample = worker.request(self.payload())
        self.requests += 1
        if not sample.ok:
            raise _Stop("undecided", f"latency: {who} request failed ({sample.status})")
        return sample.seconds

    def recent(self, end: str) -> list[float]:
        """The end's most recent REFERENCE_WINDOW samples (what a candidate is compared with)."""
        return self.pools[end][-REFERENCE_WINDOW:]

    def top_up(self) -> None:
        """One more sample of an end, good and bad in turn."""
        end = "good" if self.turn % 2 == 0 else "bad"
        self.turn += 1
        self.pools[end].append(self.time(self.ends[end], f"the {end} end's"))

    def sample_ends(self, per_side: int) -> None:
        for _ in range(per_side):
            self.top_up()
            self.top_up()


@contextlib.contextmanager
def _warm_ends(judge: Judge, good_tag: str, bad_tag: str):
    with judge.pair(good_tag, bad_tag, "ends") as (g, b):  # ref: the good end; cand: the bad
        if not g.ready:
            raise _Stop("good_end_bad", f"latency: the good end is not ready (exit {g.exit_code})")
        if not b.ready:
            raise _Stop("undecided", f"latency: the bad end is not ready (exit {b.exit_code})")
        session = _Session(judge, g, b)
        for end, w in session.ends.items():
            if not w.request(session.payload()).ok:  # warm-up, not a sample
                status = "good_end_bad" if end == "good" else "undecided"
                raise _Stop(status, f"latency: the {end} end's warm-up request failed")
        yield session


def _end_judgement(
    name: str,
    sha: str,
    reference: str,
    position: int,
    pool: list[float],
    other: list[float],
    cached: bool,
) -> Judgement:
    figures = {
        "samples": len(pool),
        "median_s": median(pool),
        "reference_median_s": median(other) if name == "bad" else median(pool),
        "candidate_s": [round(x, 5) for x in pool],
        "end": name,
    }
    why = f"{name} end (reference, kept warm): median {_ms(median(pool))}, n={len(pool)}"
    v = Verdict.GOOD if name == "good" else Verdict.BAD
    return Judgement("latency", sha, reference, v, why, figures, 0.0, cached, position)


def cache_params(opts: Options, bad: str, what: str) -> dict[str, Any]:
    """Cache key options of a latency-bisect record ("ends" or "visit-N")."""
    return {
        "bad_end": bad,
        "threshold": opts.threshold,
        "samples": [opts.samples, opts.max_samples],
        "error_rate": opts.error_rate,
        "record": what,
    }


class _Builds:
    """Every image the bisect needs, built on one background thread: while a visit samples, the
    images of the probes that can come next (`NoisySearch.after`) are built ahead, so the next
    visit does not wait for its build (as Pinpoint builds midpoints ahead)."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bisect-build")
        self.futures: dict[str, Future[ImageInfo | HarnessError]] = {}

    def ahead(self, sha: str) -> None:
        if sha not in self.futures:
            self.futures[sha] = self.pool.submit(self.judge.image, sha)

    def image(self, sha: str) -> ImageInfo | HarnessError:
        self.ahead(sha)
        return self.futures[sha].result()

    def close(self) -> None:
        """Drop what has not started; wait for a build under way (it owns the judge's memo)."""
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Lazy:
    """The warm ends, started at the first step the cache cannot answer (a resume that the
    cache answers in full starts no container and builds no image)."""

    def __init__(
        self, judge: Judge, builds: _Builds, commits: list[str], stack: contextlib.ExitStack
    ) -> None:
        self.judge, self.builds, self.commits, self.stack = judge, builds, commits, stack
        self.session: _Session | None = None
        self.seed: dict[str, list[float]] = {"good": [], "bad": []}

    def get(self) -> _Session:
        if self.session is None:
            good, bad = (self.builds.image(c) for c in (self.commits[0], self.commits[-1]))
            if isinstance(good, HarnessError):
                raise _Stop("good_end_bad", "latency: the good end does not build")
            if isinstance(bad, HarnessError):
                raise _Stop("undecided", "latency: the bad end does not build")
            self.session = self.stack.enter_context(_warm_ends(self.judge, good.tag, bad.tag))
            for end, pool in self.seed.items():  # samples of a resumed run's ends count too
                self.session.pools[end][:0] = pool
        return self.session

    def pools(self) -> dict[str, list[float]]:
        return self.session.pools if self.session else self.seed


def bisect_latency(
    judge: Judge,
    commits: list[str],
    progress: Progress = quiet,
    cache: VerdictCache | None = None,
) -> LatencyOutcome:
    """Bisect `commits` (good end first, bad end last) for a warm-latency regression.

    With `cache`, the ends' comparison and every visit are stored as they are made and read
    back (unless `force`): an interrupted bisect resumes where it stopped.
    """
    opts = judge.options
    n = len(commits)
    # A visit counts for at most half the SPRT bound: no single visit names a culprit.
    search = NoisySearch(n, cap=bound(opts.error_rate) / 2, confidence=opts.confidence)
    limit = search.max_visits + 2
    store = cache if cache is not None and not opts.force else None
    probes: list[Judgement] = []
    cand: dict[int, list[float]] = {}
    try:
        with contextlib.ExitStack() as stack:
            builds = _Builds(judge)
            stack.callback(builds.close)
            warm = WarmCandidates(judge, opts.warm_candidates)
            stack.callback(warm.close)
            lazy = _Lazy(judge, builds, commits, stack)
            ends = _ends(judge, lazy, commits, store, cache, progress)
            if ends["status"] != "regression":
                status = "no_regression" if ends["status"] == "no_regression" else "undecided"
                return LatencyOutcome(status, ends["message"], probes, limit, search={"ends": ends})
            while (i := search.next_probe()) is not None:
                visit = search.visits.get(i, 0) + 1
                key = cache_params(opts, commits[-1], f"visit-{visit}")
                hit = store.get("latency", commits[i], commits[0], key) if store else None
                if hit is not None:
                    probes.append(_replay(hit, search, i, opts.error_rate))
                    continue
                session = lazy.get()
                builds.ahead(commits[i])
                for llr in (search.cap, -search.cap):  # what either verdict would visit next
                    if (j := search.after(i, llr)) is not None:
                        builds.ahead(commits[j])
                probe = _visit(judge, builds, warm, session, search, commits, i, cand, progress)
                if cache is not None:
                    cache.put(probe, key)
                probes.append(probe)
            pools = lazy.pools()
            cached = lazy.session is None  # nothing measured: all from the cache
    except _Stop as stop:
        return LatencyOutcome(stop.status, stop.message, probes, limit, search=_report(search))
    probes[:0] = [
        _end_judgement("good", commits[0], commits[0], 0, pools["good"], pools["bad"], cached),
        _end_judgement("bad", commits[-1], commits[0], n - 1, pools["bad"], pools["good"], cached),
    ]
    culprit, best, p = search.result()
    info = _report(search)
    info["ends"] = {
        **ends,
        "good": {"samples": len(pools["good"]), "median_s": median(pools["good"])},
        "bad": {"samples": len(pools["bad"]), "median_s": median(pools["bad"])},
    }
    if len(pools["good"]) >= 2 and len(pools["bad"]) >= 2:
        info["ends"]["spread_log"] = round(levels(pools["good"], pools["bad"]).spread, 4)
    info["containers"] = {"started": warm.started, "reused": warm.reused}
    info["samples_total"] = len(pools["good"]) + len(pools["bad"]) + sum(map(len, cand.values()))
    if culprit is not None:
        message = (
            f"latency: first bad commit {commits[culprit][:12]} (P = {p:.3f} >= {opts.confidence})"
        )
        return LatencyOutcome("found", message, probes, limit, culprit, best, p, info)
    message = (
        f"latency: not found at confidence {opts.confidence}: the most likely first bad commit "
        f"is {commits[best][:12]} with P = {p:.3f} after {search.total_visits} visits"
    )
    return LatencyOutcome("not_found", message, probes, limit, None, best, p, info)


def _ends(
    judge: Judge,
    lazy: _Lazy,
    commits: list[str],
    store: VerdictCache | None,
    cache: VerdictCache | None,
    progress: Progress,
) -> dict[str, Any]:
    """The ends' comparison: from the cache (its pools seed the session), else measured."""
    opts = judge.options
    key = cache_params(opts, commits[-1], "ends")
    hit = store.get("latency", commits[-1], commits[0], key) if store else None
    if hit is not None:
        lazy.seed = {k: list(v) for k, v in hit.figures["pools"].items()}
        progress(f"[latency] {hit.reason} (cached)")
        return dict(hit.figures["ends"])
    session = lazy.get()
    ends = _compare_ends(session, opts.samples, opts.threshold, progress)
    if cache is not None:
        v = {"regression": Verdict.BAD, "no_regression": Verdict.GOOD}.get(ends["status"])
        figures = {"ends": ends, "pools": {k: list(p) for k, p in session.pools.items()}}
        record = Judgement(
            "latency", commits[-1], commits[0], v or Verdict.SKIP, ends["message"], figures
        )
        cache.put(record, key)
    return ends


def _replay(hit: Judgement, search: NoisySearch, i: int, error: float) -> Judgement:
    """A visit answered from the cache: its evidence goes to the search as when measured."""
    if hit.verdict is Verdict.SKIP and "llr" not in hit.figures:
        search.exclude(i)
    else:
        search.record(i, weighed(float(hit.figures["llr"]), error))
    hit.position = i
    return hit


def _compare_ends(
    session: _Session, batch: int, threshold: float, progress: Progress
) -> dict[str, Any]:
    for _ in range(END_BATCHES):
        session.sample_ends(batch)
        ends = compare_ends(session.pools["good"], session.pools["bad"], threshold)
        if ends.status != "unknown":
            break
    n = len(session.pools["good"])
    text = (
        f"bad end x{ends.ratio:.2f} the good end (bounds {ends.low:.2f}..{ends.high:.2f}, "
        f"n={n} a side)"
    )
    message = {
        "regression": f"latency: {text}: bisecting",
        "no_regression": f"latency: no regression in the range: {text}",
        "unknown": f"latency: the ends do not differ clearly: {text}",
    }[ends.status]
    progress(f"[latency] {message}")
    return {
        "status": ends.status,
        "ratio": round(ends.ratio, 4),
        "low": round(ends.low, 4),
        "high": round(ends.high, 4),
        "message": message,
    }


def _visit(
    judge: Judge,
    builds: _Builds,
    warm: WarmCandidates,
    session: _Session,
    search: NoisySearch,
    commits: list[str],
    i: int,
    cand: dict[int, list[float]],
    progress: Progress,
) -> Judgement:
    """Sample commit `i` (in its container: kept from its last visit, else fresh) until its
    evidence passes the bound or the visit's budget is spent; record the evidence; the visit
    as a Judgement."""
    opts = judge.options
    t0 = time.monotonic()
    sha = commits[i]
    visit = search.visits.get(i, 0) + 1
    target = bound(opts.error_rate)
    samples: list[float] = []  # this visit's own: the SPRT runs on each visit's samples alone
    every = cand.setdefault(i, [])
    info = builds.image(sha)
    built = started = time.monotonic()
    timing: dict[str, Any] = {"image_s": round(built - t0, 3)}
    skip_why = ""
    llr = 0.0
    if isinstance(info, HarnessError):
        skip_why = "does not build, so its latency cannot be judged"
    else:
        name = f"bisect-cand-{sha[:12]}-v{visit}"
        with warm.visit(sha, info.tag, name) as (w, reused):
            if not w.ready:
                skip_why = f"not ready (exit {w.exit_code}, phase {w.phase})"
            elif not reused and not w.request(session.payload()).ok:
                skip_why = "warm-up request failed"
            started = time.monotonic()
            timing.update(reused=reused, start_s=round(started - built, 3))
            if not skip_why:
                # The budget grows with each visit: a commit is revisited only while the
                # evidence there is close or contradicted.
                for _ in range(visit_budget(opts.max_samples, visit)):
                    sample = w.request(session.payload())
                    session.requests += 1
                    if not sample.ok:
                        skip_why = f"request failed ({sample.status})"
                        break
                    samples.append(sample.seconds)
                    every.append(sample.seconds)
                    if len(samples) % TOP_UP_EVERY == 0:
                        session.top_up()
                    if len(samples) >= MIN_SAMPLES:
                        pools = session.pools
                        llr = evidence(pools["good"], pools["bad"], samples, REFERENCE_WINDOW)
                        if abs(llr) >= target:
                            break
            if skip_why:
                warm.drop(sha)
    timing["sampling_s"] = round(time.monotonic() - started, 3)
    if skip_why:
        search.exclude(i)
        best, p = search.best()
        reason = f"{skip_why} (P(#{best}) = {p:.3f})"
        progress(f"[latency] visit {search.total_visits} #{i} {sha[:12]}: skip - {reason}")
        figures = {
            "samples": len(samples),
            "median_s": median(samples),
            "visit": visit,
            "timing": timing,
        }
        return Judgement(
            "latency",
            sha,
            commits[0],
            Verdict.SKIP,
            reason,
            figures,
            time.monotonic() - t0,
            False,
            i,
        )
    search.record(i, weighed(llr, opts.error_rate))
    best, p = search.best()
    got = verdict(llr, opts.error_rate)
    word = {Verdict.BAD: "like the bad end", Verdict.GOOD: "like the good end"}.get(
        got, "undecided"
    )
    good_m, bad_m = median(session.recent("good")), median(session.recent("bad"))
    reason = (
        f"{word}: median {_ms(median(samples))} (good end {_ms(good_m)}, bad end {_ms(bad_m)}), "
        f"LLR {llr:+.2f} (bound {target:.2f}), n={len(samples)}; P(#{best}) = {p:.3f}"
    )
    progress(f"[latency] visit {search.total_visits} #{i} {sha[:12]}: {reason}")
    figures: dict[str, Any] = {
        "samples": len(samples),
        "median_s": median(samples),
        "reference_median_s": good_m,
        "bad_median_s": bad_m,
        "candidate_s": [round(x, 5) for x in samples],
        "llr": round(llr, 4),
        "visit": visit,
        "best": best,
        "probability": round(p, 4),
        "timing": timing,
    }
    return Judgement(
        "latency",
        sha,
        commits[0],
        got or Verdict.SKIP,
        reason,
        figures,
        time.monotonic() - t0,
        False,
        i,
    )


def _report(search: NoisySearch) -> dict[str, Any]:
    best, p = search.best()
    return {
        "confidence": search.confidence,
        "max_visits": search.max_visits,
        "visits": search.total_visits,
        "best": best,
        "probability": round(p, 4),
        "posterior": [round(x, 4) for x in search.posterior()],
        "path": [
            {
                "position": s.position,
                "llr": round(s.llr, 4),
                "best": s.best,
                "p": round(s.probability, 4),
            }
            for s in search.path
        ],
    }
