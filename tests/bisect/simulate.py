"""Pure simulations of a latency probe: log-normal samples, today's rule and the SPRT rule.

Used by tests/bisect/test_classify.py; no Docker, no clock. Run alone for the table in
docs/bisect.md:

    PYTHONPATH=. .venv/bin/python -m tests.bisect.simulate [--trials 400]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from harness.classify import bound, compare_ends, evidence, verdict, weighed
from harness.latency_bisect import (
    END_BATCHES,
    MIN_SAMPLES,
    REFERENCE_WINDOW,
    TOP_UP_EVERY,
    VISIT_SAMPLES,
    visit_budget,
)
from harness.noisysearch import NoisySearch
from harness.search import Search, Verdict
from harness.stats import compare_samples
from harness.timing import decide, median, next_batch

BASE_S = 0.2
BURST_REQUESTS, BURST_FACTOR = 8, 2.0


@dataclass(frozen=True)
class Rate:
    """Outcome shares of a rule for one true level, and its mean candidate samples."""

    wrong: float
    undecided: float
    mean_samples: float


def draw(rng: np.random.Generator, level: float, sigma: float, n: int) -> list[float]:
    return list(BASE_S * level * np.exp(sigma * rng.standard_normal(n)))


draw_at = draw


def today(rng: np.random.Generator, level: float, sigma: float) -> tuple[Verdict, int]:
    """Today's rule (harness.timing): vs the good end only, 6 then doubling up to 24 a side."""
    first, bound = 6, 24
    ref: list[float] = []
    cand: list[float] = []
    while True:
        step = next_batch(len(cand), first, bound)
        ref += draw(rng, 1.0, sigma, step)
        cand += draw(rng, level, sigma, step)
        cmp = compare_samples(ref, cand, threshold=0.2, n_boot=400)
        got = decide(cmp, median(ref))
        if got is not None:
            return got, len(cand)
        if len(cand) >= bound:
            return Verdict.SKIP, len(cand)


def sprt(
    rng: np.random.Generator,
    level: float,
    sigma: float,
    shift: float,
    *,
    ends: int = 16,
    budget: int = VISIT_SAMPLES,
    error: float = 0.01,
    min_samples: int = MIN_SAMPLES,
) -> tuple[Verdict, int, float]:
    """The new rule: classify between the two ends (pooled, topped up as harness.latency_bisect
    does); stop at Wald's bound or the budget. Returns verdict, samples and the LLR."""
    good = draw(rng, 1.0, sigma, ends)
    bad = draw(rng, 1 + shift, sigma, ends)
    cand: list[float] = []
    llr = 0.0
    for k in range(budget):
        cand += draw(rng, level, sigma, 1)
        if (k + 1) % TOP_UP_EVERY == 0:
            end = (k // TOP_UP_EVERY) % 2
            (good if end == 0 else bad).extend(draw(rng, 1.0 + shift * end, sigma, 1))
        if len(cand) < min_samples:
            continue
        llr = evidence(good, bad, cand, REFERENCE_WINDOW)
        got = verdict(llr, error)
        if got is not None:
            return got, len(cand), llr
    return Verdict.SKIP, len(cand), llr


def rates(rule: str, sigma: float, shift: float, like_bad: bool, trials: int, seed: int) -> Rate:
    """Share of wrong and undecided verdicts over `trials` probes of one true level."""
    rng = np.random.default_rng(seed)
    level = 1 + shift if like_bad else 1.0
    right = Verdict.BAD if like_bad else Verdict.GOOD
    wrong = undecided = total = 0
    for _ in range(trials):
        if rule == "today":
            got, n = today(rng, level, sigma)
        else:
            got, n, _ = sprt(rng, level, sigma, shift)
        total += n
        wrong += got not in (right, Verdict.SKIP)
        undecided += got is Verdict.SKIP
    return Rate(wrong / trials, undecided / trials, total / trials)


@dataclass(frozen=True)
class Bisected:
    """One simulated bisect: the position named (None: not found), visits and samples."""

    named: int | None
    visits: int
    samples: int


def bisect_today(
    rng: np.random.Generator, n: int, culprit: int, sigma: float, shift: float
) -> Bisected:
    """Today's search (harness.search) with today's rule per probe and the parent confirmation
    (30 a side; not worse: unconfirmed, nothing named). The ends are taken as judged."""
    search = Search(n)
    search.record(0, Verdict.GOOD)
    search.record(n - 1, Verdict.BAD)
    samples = 0
    while (i := search.next_probe()) is not None:
        got, k = today(rng, 1 + shift if i >= culprit else 1.0, sigma)
        samples += 2 * k
        search.record(i, got)
    outcome = search.result()
    first_bad = getattr(outcome, "first_bad", None)
    if first_bad is None:
        return Bisected(None, len(search.order) - 2, samples)
    parent = draw(rng, 1 + shift if first_bad - 1 >= culprit else 1.0, sigma, 30)
    child = draw(rng, 1 + shift if first_bad >= culprit else 1.0, sigma, 30)
    confirmed = decide(compare_samples(parent, child, threshold=0.2), median(parent))
    samples += 60
    named = first_bad if confirmed is Verdict.BAD else None
    return Bisected(named, len(search.order) - 2, samples)


def ends_outcome(
    rng: np.random.Generator, sigma: float, shift: float, batch: int = 6, draw=draw
) -> tuple[str, list[float], list[float]]:
    """The ends' comparison as the driver makes it: `batch` a side at a time until it is clear
    (or END_BATCHES); its status and both ends' samples."""
    good: list[float] = []
    bad: list[float] = []
    for _ in range(END_BATCHES):
        good += draw(rng, 1.0, sigma, batch)
        bad += draw(rng, 1 + shift, sigma, batch)
        status = compare_ends(good, bad, 0.2).status
        if status != "unknown":
            break
    return status, good, bad


def bisect_noisy(
    rng: np.random.Generator,
    n: int,
    culprit: int,
    sigma: float,
    shift: float,
    *,
    error: float = 0.01,
    confidence: float = 0.95,
    max_samples: int = 24,
    visit_samples: int = VISIT_SAMPLES,
    batch: int = 6,
    drift: float = 0.0,
    bursts: float = 0.0,
    top_up_every: int = TOP_UP_EVERY,
) -> Bisected:
    """The new latency bisect (harness.latency_bisect) without Docker: warm ends compared first,
    then visits chosen by harness.noisysearch, each an SPRT with the ends topped up as it goes.
    `drift`: the machine slows by this fraction per 100 requests (other load arriving).
    `bursts`: the chance, per request, that a burst of other work starts: for the next
    BURST_REQUESTS requests (candidate's and ends' alike) the machine is BURST_FACTOR slower,
    as the noisy zoo saw on the shared machine (a visit's first requests at 500-600 ms against
    ends at 250-300)."""
    taken = [0]
    burst_left = [0]

    def draw(rng: np.random.Generator, level: float, sigma: float, n: int) -> list[float]:
        out = []
        for _ in range(n):
            taken[0] += 1
            if burst_left[0] == 0 and bursts and rng.random() < bursts:
                burst_left[0] = BURST_REQUESTS
            slow = BURST_FACTOR if burst_left[0] else 1.0
            burst_left[0] = max(burst_left[0] - 1, 0)
            out += draw_at(rng, slow * level * (1 + drift * taken[0] / 100), sigma, 1)
        return out

    status, good, bad = ends_outcome(rng, sigma, shift, batch, draw)
    if status != "regression":
        return Bisected(None, 0, len(good) + len(bad))
    search = NoisySearch(n, cap=bound(error) / 2, confidence=confidence)
    samples = len(good) + len(bad)
    turn = 0
    while (i := search.next_probe()) is not None:
        level = 1 + shift if i >= culprit else 1.0
        cand: list[float] = []
        llr = 0.0
        for _ in range(visit_budget(max_samples, search.visits.get(i, 0) + 1, visit_samples)):
            cand += draw(rng, level, sigma, 1)
            samples += 1
            if len(cand) % top_up_every == 0:
                if turn % 2 == 0:
                    good += draw(rng, 1.0, sigma, 1)
                else:
                    bad += draw(rng, 1 + shift, sigma, 1)
                turn += 1
                samples += 1
            if len(cand) >= MIN_SAMPLES:
                llr = evidence(good, bad, cand, REFERENCE_WINDOW)
                if abs(llr) >= bound(error):
                    break
        search.record(i, weighed(llr, error))
    named, _, _ = search.result()
    return Bisected(named, search.total_visits, samples)


# A cost model for wall time, from the noisy zoo's runs on this 2-core machine (docs/bisect.md):
# a visit (build, container start, warm-up) about 3 s, a sample about 0.27 s at sigma 0.35.
VISIT_S, SAMPLE_S = 3.0, 0.27


def bisect_rates(
    rule: str,
    sigma: float,
    shift: float,
    runs: int,
    seed: int,
    n: int = 32,
    drift: float = 0.0,
    visit_samples: int = VISIT_SAMPLES,
    bursts: float = 0.0,
    top_up_every: int = TOP_UP_EVERY,
) -> dict[str, float]:
    """right / wrong / not found counts, mean visits and samples, and the median modelled wall
    time (VISIT_S a visit + SAMPLE_S a sample) over `runs` histories."""
    rng = np.random.default_rng(seed)
    out = {"right": 0, "wrong": 0, "not_found": 0, "visits": 0.0, "samples": 0.0}
    walls = []
    for _ in range(runs):
        culprit = int(rng.integers(1, n))
        got = (
            bisect_noisy(
                rng,
                n,
                culprit,
                sigma,
                shift,
                drift=drift,
                visit_samples=visit_samples,
                bursts=bursts,
                top_up_every=top_up_every,
            )
            if rule == "noisy"
            else bisect_today(rng, n, culprit, sigma, shift)
        )
        key = "not_found" if got.named is None else ("right" if got.named == culprit else "wrong")
        out[key] += 1
        out["visits"] += got.visits / runs
        out["samples"] += got.samples / runs
        walls.append(got.visits * VISIT_S + got.samples * SAMPLE_S)
    out["model_wall_s"] = float(np.median(walls))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=400)
    ap.add_argument("--bisects", type=int, default=40)
    ap.add_argument("--sigma", type=float, nargs="*", default=[0.15, 0.35, 0.5])
    ap.add_argument("--shift", type=float, nargs="*", default=[0.2, 0.3, 0.5])
    ap.add_argument("--drift", type=float, default=0.0, help="slower by this per 100 requests")
    ap.add_argument("--bursts", type=float, default=0.0, help="burst chance per request")
    ap.add_argument(
        "--visit-samples", type=int, default=VISIT_SAMPLES, help="a first visit's sample budget"
    )
    ap.add_argument(
        "--top-up-every", type=int, default=TOP_UP_EVERY, help="candidate samples per end sample"
    )
    ap.add_argument("--bisects-only", action="store_true", help="skip the one-probe table")
    ap.add_argument("--rules", nargs="*", choices=("today", "noisy"), default=["today", "noisy"])
    args = ap.parse_args()
    print(
        "| sigma | shift | rule | right | wrong | not found | mean visits | mean samples | "
        "median model wall s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for sigma in args.sigma:
        for shift in args.shift:
            for rule in args.rules:
                b = bisect_rates(
                    rule,
                    sigma,
                    shift,
                    args.bisects,
                    seed=11,
                    drift=args.drift,
                    visit_samples=args.visit_samples,
                    bursts=args.bursts,
                    top_up_every=args.top_up_every,
                )
                print(
                    f"| {sigma} | +{shift:.0%} | {rule} | {b['right']} | {b['wrong']} | "
                    f"{b['not_found']} | {b['visits']:.1f} | {b['samples']:.0f} | "
                    f"{b['model_wall_s']:.0f} |",
                    flush=True,
                )
    if args.bisects_only:
        return
    print()
    print("| sigma | shift | truth | rule | wrong | undecided | mean samples |")
    print("|---|---|---|---|---|---|---|")
    for sigma in args.sigma:
        for shift in args.shift:
            for like_bad in (False, True):
                for rule in ("today", "sprt"):
                    r = rates(rule, sigma, shift, like_bad, args.trials, seed=7)
                    truth = f"x{1 + shift:.1f}" if like_bad else "x1.0"
                    print(
                        f"| {sigma} | +{shift:.0%} | {truth} | {rule} | {r.wrong:.1%} | "
                        f"{r.undecided:.1%} | {r.mean_samples:.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
