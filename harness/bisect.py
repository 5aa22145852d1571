"""Bisect a first-parent range for the commit that broke build, start-up, size or latency.

The driver: `harness.search` decides which commit to judge next, `harness.judge` judges it (real
images, real containers), `harness.verdicts` keeps each verdict so an interrupted bisect resumes
without measuring again. A timed culprit (latency, cold) is confirmed against its parent before
it is named. Nothing here touches the user's worktree, index, HEAD or a `git bisect` in
progress: commits are read through `harness.gitrepo.Repo` (git archive exports).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from harness.config import Config
from harness.engines import Engine
from harness.errors import HarnessError
from harness.gitrepo import CommitInfo, Repo
from harness.judge import Judge
from harness.judgement import ALL_CHECKS, CHECKS, CMD, COMPARED, TIMED, Judgement, Options
from harness.latency_bisect import LatencyOutcome, bisect_latency
from harness.parallel_bisect import Rounds, search_in_rounds
from harness.probepool import ProbePool
from harness.progress import Progress, quiet
from harness.search import Ambiguous, EndsWrong, Found, Search, Verdict, probe_bound
from harness.verdicts import VerdictCache

# `harness bisect` exit codes (0: culprit found). Harness failures keep HarnessError's codes.
EXIT_FOUND = 0
EXIT_NO_REGRESSION = 20  # the bad end is good for every check asked
EXIT_UNDECIDED = 21  # only skipped commits between, an end that cannot be judged, unconfirmed
EXIT_GOOD_END_BAD = 22  # the good end is not good

# `harness check` exit codes, as `git bisect run` reads them.
CHECK_EXIT = {Verdict.GOOD: 0, Verdict.BAD: 1, Verdict.SKIP: 125}
CHECK_HARNESS_FAILURE = 128  # + the HarnessError's own code; git aborts the bisect on >= 128


@dataclass
class CheckResult:
    """What one check's search found."""

    check: str
    # found | ambiguous | no_regression | good_end_bad | undecided | unconfirmed | not_found
    status: str
    message: str
    probes: list[Judgement]  # the search's steps, in the order they were judged
    bound: int
    first_bad: str | None = None
    last_good: str | None = None
    candidates: list[str] = field(default_factory=list)
    confirmation: Judgement | None = None
    search: dict[str, Any] | None = None  # latency: posterior, visit path, both ends' figures
    rounds: int = 0  # rounds of probes at once (one engine: one probe a round)
    round_bound: int = 0  # harness.ksection.round_bound for the engines it started with


@dataclass
class BisectRun:
    repo: str
    good: CommitInfo
    bad: CommitInfo
    commits: list[str]  # the range with both ends: [good, ..., bad]
    checks: list[CheckResult]
    options: Options
    wall_s: float = 0.0
    built: list[str] = field(default_factory=list)
    info: dict[str, CommitInfo] = field(default_factory=dict)  # culprits and their parents
    files: dict[str, list[str]] = field(default_factory=dict)  # culprit -> files changed
    warnings: list[str] = field(default_factory=list)  # stand-in bases: what they lack
    # engines used, the timed one, the dropped ones and the probes lost with them
    engines: dict[str, Any] = field(default_factory=dict)

    @property
    def culprits(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "found"]

    @property
    def verdict(self) -> str:
        statuses = {c.status for c in self.checks}
        if self.culprits:
            return "found"
        if statuses == {"no_regression"}:
            return "no_regression"
        if "good_end_bad" in statuses:
            return "good_end_bad"
        return "undecided"

    @property
    def exit_code(self) -> int:
        return {
            "found": EXIT_FOUND,
            "no_regression": EXIT_NO_REGRESSION,
            "good_end_bad": EXIT_GOOD_END_BAD,
        }.get(self.verdict, EXIT_UNDECIDED)

    @property
    def measured(self) -> list[str]:
        """Commits measured in this run (not answered from the verdict cache)."""
        seen: dict[str, None] = {}
        for c in self.checks:
            for p in [*c.probes, *([c.confirmation] if c.confirmation else [])]:
                if not p.cached:
                    seen[p.sha] = None
        return list(seen)

    @property
    def last_good(self) -> str | None:
        """The newest commit before every culprit (good for all checks that found one)."""
        found = [c for c in self.culprits if c.last_good]
        if not found:
            return None
        return min((c.last_good for c in found), key=self.commits.index)


def _cached_or_judge(
    judge: Judge, cache: VerdictCache, check: str, sha: str, reference: str
) -> Judgement:
    options = judge.options
    params = options.params(check)
    if not options.force:
        hit = cache.get(check, sha, reference, params)
        if hit is not None:
            return hit
    judgement = judge.judge(check, sha, reference)
    cache.put(judgement, params)
    return judgement


def _confirm(judge: Judge, cache: VerdictCache, check: str, culprit: str, parent: str) -> Judgement:
    """Compare the culprit with its parent directly, with more samples than a search step."""
    opts = judge.options
    name, params = f"{check}-confirm", opts.confirm_params(check)
    if not opts.force:
        hit = cache.get(name, culprit, parent, params)
        if hit is not None:
            return hit
    measured = judge.judge(check, culprit, parent, n=opts.confirm_count(check))
    judgement = dataclasses.replace(measured, check=name)
    cache.put(judgement, params)
    return judgement


def _summarise(
    check: str, search: Search, commits: list[str], probes: list[Judgement]
) -> CheckResult:
    outcome = search.result()
    bound = probe_bound(len(commits), search.skipped)
    if isinstance(outcome, EndsWrong):
        if outcome.no_regression:
            status = "no_regression"
            message = f"{check}: no regression in the range (the bad end is good)"
        else:
            status = "good_end_bad" if outcome.good_end is not Verdict.GOOD else "undecided"
            message = f"{check}: {outcome.describe()}"
        return CheckResult(check, status, message, probes, bound)
    if isinstance(outcome, Found):
        sha, last_good = commits[outcome.first_bad], commits[outcome.last_good]
        return CheckResult(
            check,
            "found",
            f"{check}: first bad commit {sha[:12]}",
            probes,
            bound,
            first_bad=sha,
            last_good=last_good,
            candidates=[sha],
        )
    assert isinstance(outcome, Ambiguous)
    cands = [commits[i] for i in outcome.candidates]
    return CheckResult(
        check,
        "ambiguous",
        f"{check}: the first bad commit is one of {len(cands)} (all but the last could not be "
        f"judged): {', '.join(c[:12] for c in cands)}",
        probes,
        bound,
        last_good=commits[outcome.last_good],
        candidates=cands,
    )


def _summarise_rounds(check: str, rounds: Rounds, commits: list[str]) -> CheckResult:
    """`_summarise` of a k-section, with its rounds and the bounds for the k it started with."""
    result = _summarise(check, rounds.searches[check].search, commits, rounds.probes[check])
    result.bound, result.round_bound = rounds.bounds(check, len(commits))
    result.rounds = rounds.searches[check].rounds
    return result


def _pool_report(pool: ProbePool, rounds: Rounds) -> dict[str, Any]:
    return {
        "used": pool.names,
        "timed": pool.timed.engine.name,
        "width": rounds.width,
        "dropped": dict(pool.dropped),
        "lost": [lost.to_json() for lost in pool.lost],
    }


def _confirm_culprits(
    results: list[CheckResult], judge: Judge, cache: VerdictCache, progress: Progress
) -> None:
    """A timed culprit must also be worse than its parent directly; else it is `unconfirmed`."""
    for result in results:
        if result.status != "found" or result.check not in TIMED or result.search is not None:
            continue
        assert result.first_bad and result.last_good
        progress(f"[{result.check}] confirming {result.first_bad[:12]} against its parent")
        confirmation = _confirm(judge, cache, result.check, result.first_bad, result.last_good)
        result.confirmation = confirmation
        if confirmation.verdict is not Verdict.BAD:
            result.status = "unconfirmed"
            result.message = (
                f"{result.check}: {result.first_bad[:12]} looked bad in the search, but "
                f"against its parent it is {confirmation.verdict}: {confirmation.reason}"
            )
        progress(f"[{result.check}] confirmation: {confirmation.reason}")


def _latency(
    judge: Judge, commits: list[str], cache: VerdictCache, progress: Progress
) -> CheckResult:
    """The latency check's own search; a culprit comes with its posterior as the confirmation."""
    out: LatencyOutcome = bisect_latency(judge, commits, progress, cache)
    result = CheckResult("latency", out.status, out.message, out.probes, out.bound)
    result.search = {**out.search, "status": out.status}
    if out.first_bad is None:
        return result
    i = out.first_bad
    result.first_bad, result.last_good = commits[i], commits[i - 1]
    result.candidates = [commits[i]]
    at = {p.position: p for p in out.probes}
    culprit, parent = at.get(i), at.get(i - 1)
    figures = {
        "median_s": culprit.figures.get("median_s") if culprit else None,
        "reference_median_s": parent.figures.get("median_s") if parent else None,
        "samples": culprit.figures.get("samples") if culprit else None,
        "probability": out.probability,
    }
    why = (
        f"posterior P(first bad = #{i}) = {out.probability:.3f} >= {judge.options.confidence}, "
        f"from every visited commit against both warm ends"
    )
    cached = all(p.cached for p in out.probes)  # a resume that measured nothing
    result.confirmation = Judgement(
        "latency-confirm", commits[i], commits[i - 1], Verdict.BAD, why, figures, 0.0, cached, i
    )
    return result


def _needs_command(checks: tuple[str, ...], options: Options) -> None:
    if CMD in checks and not options.check_cmd:
        raise HarnessError("the cmd check needs a command", "config", "pass --check-cmd 'CMD'")


def run_bisect(
    repo: Repo,
    good: str,
    bad: str,
    config: Config,
    *,
    checks: tuple[str, ...] = CHECKS,
    options: Options | None = None,
    progress: Progress = quiet,
) -> BisectRun:
    """Bisect good..bad on the first-parent line for each check, sharing images and verdicts.

    The searches advance in rounds (one step per unfinished check per round), so `--check all`
    is one pass over the range and a commit's image is built once for every check that needs it.
    """
    options = options or Options()
    unknown = [c for c in checks if c not in ALL_CHECKS]
    if unknown or not checks:
        raise HarnessError(
            f"unknown check(s) {unknown or checks}", "config", f"use one of {', '.join(ALL_CHECKS)}"
        )
    _needs_command(checks, options)
    t0 = time.monotonic()
    good_info, bad_info = repo.resolve(good), repo.resolve(bad)
    if good_info.sha == bad_info.sha:
        raise HarnessError("good and bad are the same commit", "bad_revision", "pass two commits")
    commits = [good_info.sha, *repo.first_parent_range(good_info.sha, bad_info.sha)]
    cache = VerdictCache.for_config(config)
    progress(
        f"bisect {good_info.short}..{bad_info.short}: {len(commits)} commits on the first-parent "
        f"line, checks: {', '.join(checks)}"
    )

    # one Judge per engine; exact checks k-sect over the engines (harness.parallel_bisect).
    # Several engines probe from threads: each its own Repo (a git.Repo is not thread-safe).
    def make_judge(engine: Engine) -> Judge:
        mine = repo if len(options.engines) == 1 else Repo(repo.path)
        return Judge(mine, config, good_info.sha, options, progress=progress, engine=engine)

    pool = ProbePool(options.engines, make_judge, progress)
    try:
        # latency has its own search (warm ends, a posterior): harness.latency_bisect
        searched = [c for c in checks if c != "latency"]
        rounds = search_in_rounds(pool, commits, searched, cache, options, good_info.sha, progress)
        judge = pool.timed.judge  # timing verdicts compare samples from one engine only
        noisy = (
            {"latency": _latency(judge, commits, cache, progress)} if "latency" in checks else {}
        )
        results = [noisy.get(c) or _summarise_rounds(c, rounds, commits) for c in checks]
        _confirm_culprits(results, judge, cache, progress)
    finally:
        pool.close()
    run = BisectRun(
        repo=str(repo.path),
        good=good_info,
        bad=bad_info,
        commits=commits,
        checks=results,
        options=options,
        built=sorted({sha for j in pool.judges() for sha in j.built}),
        warnings=list(
            dict.fromkeys([*(w for j in pool.judges() for w in j.warnings()), *pool.warnings])
        ),
        engines=_pool_report(pool, rounds),
    )
    for result in results:
        for sha in (result.first_bad, result.last_good):
            if sha and sha not in run.info:
                run.info[sha] = repo.resolve(sha)
        if result.first_bad and result.first_bad not in run.files:
            run.files[result.first_bad] = repo.changed_files(result.first_bad)
    run.wall_s = time.monotonic() - t0
    return run


def check_commit(
    repo: Repo,
    rev: str,
    check: str,
    config: Config,
    *,
    good: str | None = None,
    options: Options | None = None,
) -> Judgement:
    """One verdict for `rev` (what `harness check` prints; `git bisect run` reads its exit code).

    size, latency and cold compare with `good`; build and startup need no reference.
    """
    options = options or Options()
    if check not in ALL_CHECKS:
        raise HarnessError(
            f"unknown check {check!r}", "config", f"use one of {', '.join(ALL_CHECKS)}"
        )
    _needs_command((check,), options)
    sha = repo.resolve(rev).sha
    if check in COMPARED and good is None:
        raise HarnessError(
            f"--check {check} compares with a reference", "config", "pass --good REV"
        )
    reference = repo.resolve(good).sha if good else sha
    judge = Judge(repo, config, reference, options, engine=options.engines[0])
    return _cached_or_judge(judge, VerdictCache.for_config(config), check, sha, reference)
