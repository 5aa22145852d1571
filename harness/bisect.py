"""Bisect a first-parent range for the commit that broke build, start-up, size or latency.

`harness.search` decides which commit to probe; this module judges commits (build images, start
workers, time requests through the harness) and keeps the verdicts in a cache so an interrupted
bisect resumes without measuring again. Nothing here touches the user's worktree, index, HEAD or
a `git bisect` in progress: commits are read through `harness.gitrepo.Repo` (git archive exports).

What each check calls bad (a commit that cannot be judged is SKIP):
- build:   the image does not build.
- startup: the worker is not ready (exit code and phase recorded). Unbuildable: SKIP.
- size:    the image is larger than the good end's by more than `size_threshold`, or over the
           hard limit (limits.image_hard_bytes). Unbuildable: SKIP.
- latency: warm /runsync latency is worse than the good end's by more than `threshold`, from
           interleaved samples of both workers running side by side (more samples while the
           comparison is unknown, up to a bound; still unknown: SKIP). Unbuildable or never
           ready: SKIP. The culprit is confirmed against its parent with more samples.
- cold:    the first request after ready (fresh container; lazy loading shows here) is worse
           than the good end's by more than `threshold`, over several fresh container pairs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.config import Config
from harness.errors import HarnessError
from harness.gitrepo import CommitInfo, Repo
from harness.images import build_image
from harness.measure import payloads_for
from harness.probe import start_worker
from harness.search import Ambiguous, EndsWrong, Found, Search, Verdict, probe_bound
from harness.stats import compare

CHECKS: tuple[str, ...] = ("build", "startup", "size", "latency", "cold")
NOISY = {"latency", "cold"}  # checks whose culprit is confirmed against its parent

# `harness bisect` exit codes (0: culprit found). Harness failures keep HarnessError's codes.
EXIT_FOUND = 0
EXIT_NO_REGRESSION = 20  # the bad end is good for every check asked
EXIT_UNDECIDED = 21  # only skipped commits between, an end that cannot be judged, unconfirmed
EXIT_GOOD_END_BAD = 22  # the good end is not good

# `harness check` exit codes, as `git bisect run` reads them.
CHECK_EXIT = {Verdict.GOOD: 0, Verdict.BAD: 1, Verdict.SKIP: 125}
CHECK_HARNESS_FAILURE = 128  # + the HarnessError's own code; git aborts the bisect on >= 128


@dataclass(frozen=True)
class Options:
    threshold: float = 0.20  # latency/cold: worse by more than this fraction is bad
    size_threshold: float = 0.10  # size: larger than the good end by more than this is bad
    samples: int = 6  # latency: first batch of interleaved samples per side
    max_samples: int = 24  # latency: at most this many per side before giving up (SKIP)
    confirm_samples: int = 30  # latency: per side when confirming the culprit against its parent
    cold_rounds: int = 4  # cold: fresh container pairs first
    max_cold_rounds: int = 6  # cold: at most this many pairs (also when confirming)
    # cold: a first request slower by less than this is not a regression (container start-up
    # jitter is tens of ms; a lazy model load costs seconds)
    cold_floor_s: float = 0.25
    force: bool = False  # ignore cached verdicts (images are still reused)

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 10:
            raise ValueError(f"--threshold {self.threshold}: expected a fraction above 0, e.g. 0.2")
        if not 0 < self.size_threshold < 10:
            raise ValueError(
                f"--size-threshold {self.size_threshold}: expected a fraction above 0, e.g. 0.1"
            )
        if not 2 <= self.samples <= self.max_samples:
            raise ValueError(f"samples {self.samples} must be >= 2 and <= max {self.max_samples}")
        if not 2 <= self.cold_rounds <= self.max_cold_rounds:
            raise ValueError(f"cold rounds {self.cold_rounds} must be >= 2 and <= max")

    def params(self, check: str) -> dict[str, Any]:
        """The options that change what a verdict of `check` means (part of its cache key)."""
        if check == "size":
            return {"size_threshold": self.size_threshold}
        if check == "latency":
            return {"threshold": self.threshold, "samples": [self.samples, self.max_samples]}
        if check == "cold":
            return {
                "threshold": self.threshold,
                "rounds": [self.cold_rounds, self.max_cold_rounds],
                "floor_s": self.cold_floor_s,
            }
        return {}


@dataclass
class Probe:
    """One judged commit for one check, with the figures behind the verdict."""

    check: str
    sha: str
    reference: str  # the commit it was compared with (the good end; the parent when confirming)
    verdict: Verdict
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False
    position: int = -1  # index in the range (0 = good end); -1 outside it

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Probe:
        return cls(**{**data, "verdict": Verdict(data["verdict"])})


class VerdictCache:
    """Verdicts on disk, one JSON file per (sha, check, reference, options, config)."""

    def __init__(self, folder: Path, config_fingerprint: str) -> None:
        self.folder = Path(folder)
        self.fingerprint = config_fingerprint

    def _path(self, check: str, sha: str, reference: str, params: dict[str, Any]) -> Path:
        key = json.dumps([check, sha, reference, params, self.fingerprint], sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        return self.folder / check / f"{sha[:12]}-{digest}.json"

    def get(self, check: str, sha: str, reference: str, params: dict[str, Any]) -> Probe | None:
        path = self._path(check, sha, reference, params)
        try:
            return Probe.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            return None  # absent or unreadable: measure again

    def put(self, probe: Probe, params: dict[str, Any]) -> None:
        path = self._path(probe.check, probe.sha, probe.reference, params)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(probe.to_json(), indent=1, default=str))
        tmp.replace(path)  # atomic: an interrupt never leaves half a verdict


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class Judge:
    """Judges commits for each check; images and workers come from the harness (real Docker)."""

    def __init__(
        self,
        repo: Repo,
        config: Config,
        reference: str,
        options: Options,
        *,
        progress: Progress = _quiet,
    ) -> None:
        self.repo = repo
        self.config = config
        self.reference = reference
        self.options = options
        self.progress = progress
        self._images: dict[str, Any] = {}  # sha -> ImageInfo | HarnessError (kind build)
        self.built: set[str] = set()  # shas whose image this run built (not reused)
        self._payload_cache: list[dict[str, Any]] | None = None

    # -- shared pieces ------------------------------------------------------------------------
    def image(self, sha: str):
        """ImageInfo for `sha`, or the build HarnessError (memoised: each commit builds once)."""
        if sha not in self._images:
            try:
                info = build_image(self.repo, sha, self.config)
                if info.built:
                    self.built.add(sha)
                self._images[sha] = info
            except HarnessError as exc:
                if exc.kind != "build":
                    raise
                self._images[sha] = exc
        return self._images[sha]

    def payloads(self) -> list[dict[str, Any]]:
        if self._payload_cache is None:
            self._payload_cache = payloads_for(self.repo, self.reference, self.config)
        return self._payload_cache

    @contextlib.contextmanager
    def _workers(self, ref_tag: str, tag: str, label: str) -> Iterator[tuple[Any, Any]]:

        stamp = uuid.uuid4().hex[:6]
        timeout = self.config.run.ready_timeout_s
        # Both containers start at once, then each is waited for: a pair costs one start-up.
        with (
            start_worker(
                ref_tag, self.config, name=f"bisect-ref-{label}-{stamp}", wait=False
            ) as ref,
            start_worker(tag, self.config, name=f"bisect-cand-{label}-{stamp}", wait=False) as cand,
        ):
            ref.wait_ready(timeout)
            cand.wait_ready(timeout)
            yield ref, cand

    def judge(self, check: str, sha: str, reference: str | None = None) -> Probe:
        """Measure `sha` for `check` against `reference` (default: the good end)."""
        reference = reference or self.reference
        t0 = time.monotonic()
        verdict, reason, figures = getattr(self, f"_judge_{check}")(sha, reference)
        return Probe(check, sha, reference, verdict, reason, figures, time.monotonic() - t0)

    # -- one method per check -----------------------------------------------------------------
    def _judge_build(self, sha: str, reference: str):
        info = self.image(sha)
        if isinstance(info, HarnessError):
            return (
                Verdict.BAD,
                f"does not build: {info.message}",
                {"log_tail": info.log_tail[-800:]},
            )
        return Verdict.GOOD, "builds", {"size_bytes": info.size_bytes, "image": info.tag}

    def _judge_startup(self, sha: str, reference: str):
        info = self.image(sha)
        if isinstance(info, HarnessError):
            return Verdict.SKIP, "does not build, so start-up cannot be judged", {}

        with start_worker(info.tag, self.config, name=f"bisect-start-{sha[:12]}") as worker:
            figures = {
                "ready": bool(worker.ready),
                "ready_s": worker.ready_s,
                "exit_code": worker.exit_code,
                "phase": worker.phase,
            }
            if worker.ready:
                return Verdict.GOOD, f"ready in {worker.ready_s:.2f} s", figures
            figures["log_tail"] = (worker.log_tail or "")[-800:]
        return (
            Verdict.BAD,
            f"not ready: exit code {worker.exit_code}, phase {worker.phase}",
            figures,
        )

    def _judge_size(self, sha: str, reference: str):
        info = self.image(sha)
        if isinstance(info, HarnessError):
            return Verdict.SKIP, "does not build, so its size cannot be judged", {}
        hard = self.config.limits.image_hard_bytes
        figures: dict[str, Any] = {"size_bytes": info.size_bytes, "hard_limit_bytes": hard}
        if info.size_bytes > hard:
            return (
                Verdict.BAD,
                f"{_mb(info.size_bytes)} is over the hard limit {_mb(hard)}",
                figures,
            )
        if sha == reference:
            return Verdict.GOOD, f"{_mb(info.size_bytes)} (reference)", figures
        ref = self.image(reference)
        if isinstance(ref, HarnessError):
            return Verdict.SKIP, "the reference does not build", figures
        ratio = info.size_bytes / max(ref.size_bytes, 1)
        figures.update(reference_bytes=ref.size_bytes, ratio=round(ratio, 4))
        text = f"{_mb(info.size_bytes)} vs {_mb(ref.size_bytes)} ({ratio - 1:+.1%})"
        if ratio > 1 + self.options.size_threshold:
            return Verdict.BAD, text, figures
        return Verdict.GOOD, text, figures

    def _judge_latency(self, sha: str, reference: str, samples: int | None = None):
        return self._timed(sha, reference, cold=False, samples=samples)

    def _judge_cold(self, sha: str, reference: str, rounds: int | None = None):
        return self._timed(sha, reference, cold=True, samples=rounds)

    def _timed(self, sha: str, reference: str, *, cold: bool, samples: int | None = None):
        what = "first-request" if cold else "warm"
        info = self.image(sha)
        if isinstance(info, HarnessError):
            return Verdict.SKIP, f"does not build, so {what} latency cannot be judged", {}
        if sha == reference:
            return self._reference_alone(info, what)
        ref = self.image(reference)
        if isinstance(ref, HarnessError):
            return Verdict.SKIP, "the reference does not build", {}
        if cold:
            return self._cold_pairs(ref.tag, info.tag, sha, samples)
        return self._warm_pair(ref.tag, info.tag, sha, samples)

    def _reference_alone(self, info: Any, what: str):
        """The good end is judged on its own: it must start and answer."""

        with start_worker(info.tag, self.config, name=f"bisect-refcheck-{info.tag[-12:]}") as w:
            if not w.ready:
                return Verdict.SKIP, f"not ready (exit {w.exit_code}, phase {w.phase})", {}
            sample = w.request(self.payloads()[0])
            if not sample.ok:
                return Verdict.SKIP, f"request failed ({sample.status})", {}
            return (
                Verdict.GOOD,
                f"reference: ready, a request answers ({what} latency is judged against it)",
                {"first_s": sample.seconds},
            )

    def _warm_pair(self, ref_tag: str, tag: str, sha: str, samples: int | None):

        opts = self.options
        first = samples or opts.samples
        bound = max(samples or opts.max_samples, first)
        payloads = self.payloads()
        ref_s: list[float] = []
        cand_s: list[float] = []
        with self._workers(ref_tag, tag, sha[:12]) as (ref, cand):
            if not ref.ready:
                return Verdict.SKIP, f"reference not ready (exit {ref.exit_code})", {}
            if not cand.ready:
                return Verdict.SKIP, f"not ready (exit {cand.exit_code}, phase {cand.phase})", {}
            # One warm-up request each (lazy loads happen here); not part of the samples.
            for w in (ref, cand):
                if not w.request(payloads[0]).ok:
                    who = "reference" if w is ref else "candidate"
                    return Verdict.SKIP, f"{who} warm-up request failed", {}
            step = first
            cmp = None
            while True:
                failed = _interleave(ref, cand, payloads, step, ref_s, cand_s)
                if failed:
                    return Verdict.SKIP, failed, _latency_figures(ref_s, cand_s, cmp)
                cmp = compare(ref_s, cand_s, threshold=opts.threshold)
                if decide(cmp, _median(ref_s)) is not None or len(cand_s) >= bound:
                    break
                step = min(len(cand_s), bound - len(cand_s))  # double the samples each round
        return _timed_verdict(cmp, _latency_figures(ref_s, cand_s, cmp), "warm")

    def _cold_pairs(self, ref_tag: str, tag: str, sha: str, rounds: int | None):

        opts = self.options
        first = rounds or opts.cold_rounds
        bound = max(rounds or opts.max_cold_rounds, first)
        payload = self.payloads()[0]
        ref_s: list[float] = []
        cand_s: list[float] = []
        cmp = None
        for round_no in range(bound):
            with self._workers(ref_tag, tag, f"{sha[:12]}-c{round_no}") as (ref, cand):
                if not ref.ready:
                    return Verdict.SKIP, f"reference not ready (exit {ref.exit_code})", {}
                if not cand.ready:
                    return (
                        Verdict.SKIP,
                        f"not ready (exit {cand.exit_code}, phase {cand.phase})",
                        {},
                    )
                order = (ref, cand) if round_no % 2 == 0 else (cand, ref)
                for w in order:
                    sample = w.request(payload)
                    if not sample.ok:
                        who = "reference" if w is ref else "candidate"
                        return Verdict.SKIP, f"{who} first request failed ({sample.status})", {}
                    (ref_s if w is ref else cand_s).append(sample.seconds)
            if round_no + 1 >= first:
                cmp = compare(ref_s, cand_s, threshold=opts.threshold)
                if decide(cmp, _median(ref_s), opts.cold_floor_s) is not None:
                    break
        figures = _latency_figures(ref_s, cand_s, cmp)
        return _timed_verdict(cmp, figures, "first-request", opts.cold_floor_s)


def _interleave(ref: Any, cand: Any, payloads: list, count: int, ref_s: list, cand_s: list) -> str:
    """Time `count` requests on each worker, alternating who goes first; '' or what failed."""
    for k in range(count):
        payload = payloads[(len(cand_s) + k) % len(payloads)]
        order = (ref, cand) if (len(ref_s) + len(cand_s)) % 4 == 0 else (cand, ref)
        for w in order:
            sample = w.request(payload)
            if not sample.ok:
                who = "reference" if w is ref else "candidate"
                return f"{who} request failed ({sample.status})"
            (ref_s if w is ref else cand_s).append(sample.seconds)
    return ""


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _latency_figures(ref_s: list[float], cand_s: list[float], cmp: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "samples": len(cand_s),
        "median_s": _median(cand_s),
        "reference_median_s": _median(ref_s),
        "candidate_s": [round(x, 5) for x in cand_s],
        "reference_s": [round(x, 5) for x in ref_s],
    }
    if cmp is not None:
        figures.update(
            comparison=cmp.verdict,
            ratio=cmp.ratio,
            p_value=cmp.p_value,
            ci_low=cmp.ci_low,
            ci_high=cmp.ci_high,
        )
    return figures


def decide(cmp: Any, reference_median_s: float | None, floor_s: float = 0.0) -> Verdict | None:
    """Pure: a timing comparison -> GOOD/BAD, or None while more samples could still decide.

    BAD: significantly worse by more than the threshold AND slower by at least `floor_s`.
    GOOD: the same or better; significantly worse but by less than the floor; or (with a floor)
    even the CI's worst case is slower by less than the floor.
    """
    if cmp is None or cmp.ratio is None or reference_median_s is None:
        return None
    slower_by = (cmp.ratio - 1) * reference_median_s
    if cmp.verdict == "worse":
        return Verdict.BAD if slower_by >= floor_s else Verdict.GOOD
    if cmp.verdict in ("same", "better"):
        return Verdict.GOOD
    if floor_s > 0 and cmp.ci_high is not None and (cmp.ci_high - 1) * reference_median_s < floor_s:
        return Verdict.GOOD
    return None


def _timed_verdict(cmp: Any, figures: dict[str, Any], what: str, floor_s: float = 0.0):
    if cmp is None or cmp.ratio is None:
        return Verdict.SKIP, f"no usable {what} samples", figures
    text = (
        f"{what} median {figures['median_s'] * 1000:.0f} ms vs "
        f"{figures['reference_median_s'] * 1000:.0f} ms (x{cmp.ratio:.2f}, p={cmp.p_value:.3g}, "
        f"n={figures['samples']})"
    )
    verdict = decide(cmp, figures["reference_median_s"], floor_s)
    if verdict is None:
        return Verdict.SKIP, f"undecided after the sample bound: {text}", figures
    if verdict is Verdict.GOOD and cmp.verdict == "worse":
        text += f", below the {floor_s * 1000:.0f} ms floor"
    return verdict, text, figures


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB"


# -- the bisect run -----------------------------------------------------------------------------
@dataclass
class CheckResult:
    """What one check's search found."""

    check: str
    status: str  # found | ambiguous | no_regression | good_end_bad | undecided | unconfirmed
    message: str
    probes: list[Probe]
    bound: int
    first_bad: str | None = None
    last_good: str | None = None
    candidates: list[str] = field(default_factory=list)
    confirmation: Probe | None = None


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
    judge: Judge, cache: VerdictCache, check: str, sha: str, reference: str, options: Options
) -> Probe:
    params = options.params(check)
    if not options.force:
        hit = cache.get(check, sha, reference, params)
        if hit is not None:
            hit.cached = True
            return hit
    probe = judge.judge(check, sha, reference)
    cache.put(probe, params)
    return probe


def _confirm(judge: Judge, cache: VerdictCache, check: str, culprit: str, parent: str) -> Probe:
    """Compare the culprit with its parent directly, with more samples than a search probe."""
    opts = judge.options
    n = opts.confirm_samples if check == "latency" else opts.max_cold_rounds
    params = {**opts.params(check), "confirm": True, "n": n}
    if not opts.force:
        hit = cache.get(f"{check}-confirm", culprit, parent, params)
        if hit is not None:
            hit.cached = True
            return hit
    t0 = time.monotonic()
    if check == "latency":
        verdict, reason, figures = judge._judge_latency(culprit, parent, n)
    else:
        verdict, reason, figures = judge._judge_cold(culprit, parent, n)
    probe = Probe(f"{check}-confirm", culprit, parent, verdict, reason, figures)
    probe.seconds = time.monotonic() - t0
    cache.put(probe, params)
    return probe


def _summarise(check: str, search: Search, commits: list[str], probes: list[Probe]) -> CheckResult:
    outcome = search.result()
    bound = probe_bound(len(commits), search.skipped)
    if isinstance(outcome, EndsWrong):
        status = (
            "no_regression"
            if outcome.no_regression
            else ("good_end_bad" if outcome.good_end is not Verdict.GOOD else "undecided")
        )
        message = (
            f"{check}: no regression in the range (the bad end is good)"
            if outcome.no_regression
            else f"{check}: {outcome.describe()}"
        )
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


def run_bisect(
    repo: Repo,
    good: str,
    bad: str,
    config: Config,
    *,
    checks: tuple[str, ...] = CHECKS,
    options: Options | None = None,
    progress: Progress = _quiet,
) -> BisectRun:
    """Bisect good..bad on the first-parent line for each check, sharing images and verdicts.

    The searches advance in rounds (one probe per unfinished check per round), so `--check all`
    is one pass over the range and a commit's image is built once for every check that needs it.
    """
    options = options or Options()
    unknown = [c for c in checks if c not in CHECKS]
    if unknown or not checks:
        raise HarnessError(
            f"unknown check(s) {unknown or checks}", "config", f"use one of {', '.join(CHECKS)}"
        )
    t0 = time.monotonic()
    good_info, bad_info = repo.resolve(good), repo.resolve(bad)
    if good_info.sha == bad_info.sha:
        raise HarnessError("good and bad are the same commit", "bad_revision", "pass two commits")
    commits = [good_info.sha, *repo.first_parent_range(good_info.sha, bad_info.sha)]
    judge = Judge(repo, config, good_info.sha, options, progress=progress)
    cache = VerdictCache(
        config.path(config.measure.results_dir) / "bisect-cache", config.fingerprint()
    )
    searches = {c: Search(len(commits)) for c in checks}
    probes: dict[str, list[Probe]] = {c: [] for c in checks}
    progress(
        f"bisect {good_info.short}..{bad_info.short}: {len(commits)} commits on the first-parent "
        f"line, checks: {', '.join(checks)}"
    )
    while True:
        pending = [(c, s.next_probe()) for c, s in searches.items()]
        pending = [(c, i) for c, i in pending if i is not None]
        if not pending:
            break
        for check, position in pending:
            sha = commits[position]
            probe = _cached_or_judge(judge, cache, check, sha, good_info.sha, options)
            probe.position = position
            probes[check].append(probe)
            searches[check].record(position, probe.verdict)
            n = len(probes[check])
            bound = probe_bound(len(commits), searches[check].skipped)
            note = " (cached)" if probe.cached else f" ({probe.seconds:.1f} s)"
            progress(
                f"[{check}] probe {n}/<={bound} #{position} {sha[:12]}: {probe.verdict}"
                f" - {probe.reason}{note}"
            )
    results = [_summarise(c, searches[c], commits, probes[c]) for c in checks]
    for result in results:
        if result.status == "found" and result.check in NOISY:
            assert result.first_bad and result.last_good
            progress(f"[{result.check}] confirming {result.first_bad[:12]} against its parent")
            result.confirmation = _confirm(
                judge, cache, result.check, result.first_bad, result.last_good
            )
            if result.confirmation.verdict is not Verdict.BAD:
                result.status = "unconfirmed"
                result.message = (
                    f"{result.check}: {result.first_bad[:12]} looked bad in the search, but "
                    f"against its parent it is {result.confirmation.verdict}: "
                    f"{result.confirmation.reason}"
                )
            progress(f"[{result.check}] confirmation: {result.confirmation.reason}")
    run = BisectRun(
        repo=str(repo.path),
        good=good_info,
        bad=bad_info,
        commits=commits,
        checks=results,
        options=options,
        built=sorted(judge.built),
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
) -> Probe:
    """One verdict for `rev` (what `harness check` prints; `git bisect run` reads its exit code).

    size, latency and cold compare with `good`; build and startup need no reference.
    """
    options = options or Options()
    if check not in CHECKS:
        raise HarnessError(f"unknown check {check!r}", "config", f"use one of {', '.join(CHECKS)}")
    sha = repo.resolve(rev).sha
    if check in ("size", "latency", "cold") and good is None:
        raise HarnessError(
            f"--check {check} compares with a reference", "config", "pass --good REV"
        )
    reference = repo.resolve(good).sha if good else sha
    judge = Judge(repo, config, reference, options)
    cache = VerdictCache(
        config.path(config.measure.results_dir) / "bisect-cache", config.fingerprint()
    )
    return _cached_or_judge(judge, cache, check, sha, reference, options)


def bisect_for_gate(
    repo_path: Path | str,
    baseline_sha: str,
    config: Config,
    *,
    head: str = "HEAD",
    checks: tuple[str, ...] = ("startup", "size", "latency"),
    threshold: float = 0.20,
) -> str:
    """For the perf gate: bisect baseline..HEAD, write the reports, return a short summary."""
    from harness.bisect_report import summary_line, write_reports

    repo = Repo(repo_path)
    try:
        run = run_bisect(
            repo, baseline_sha, head, config, checks=checks, options=Options(threshold=threshold)
        )
    except HarnessError as exc:
        return f"bisect {baseline_sha[:12]}..{head} could not run: {exc.one_line()}"
    paths = write_reports(run, config.path(config.measure.results_dir))
    return f"{summary_line(run)} (report: {paths['md']})"
