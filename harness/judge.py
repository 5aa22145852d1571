"""One verdict for one commit and one check, measured with real images and real containers.

`Judge.judge(check, sha, reference)` is the one public way in; each check has a method that
returns a typed `Finding`. What each check calls bad (a commit that cannot be judged is SKIP):
- build:   the image does not build.
- startup: the worker is not ready, twice: a never-ready start is retried once in a fresh
           container (exit code and phase recorded, and the first attempt's under `retried`).
           Unbuildable: SKIP.
- size:    the image is larger than the reference's by more than `size_threshold`, or over the
           hard limit (limits.image_hard_bytes). Unbuildable: SKIP.
- latency: warm /runsync latency is worse than the reference's by more than `threshold`, from
           interleaved samples of both workers running side by side (more samples while the
           comparison is unknown, up to a bound; still unknown: SKIP). Unbuildable or never
           ready: SKIP.
- cold:    the first request after ready (fresh container; lazy loading shows here) is worse
           than the reference's by more than `threshold`, over several fresh container pairs.
The reference judged against itself (the good end) must build, start and answer: GOOD, else SKIP.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from harness.cause import telling_line
from harness.config import Config
from harness.container import RunningWorker, start_worker
from harness.customcheck import run_check_cmd
from harness.engines import LOCAL, Engine
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.images import ImageInfo, build_image
from harness.judgement import ALL_CHECKS, Finding, Judgement, Options
from harness.measure import payloads_for
from harness.progress import Progress, quiet
from harness.search import Verdict
from harness.stats import Comparison, compare_samples
from harness.timing import decide, latency_figures, median, next_batch, timed_finding

# check -> method(sha, reference, n): n overrides the samples (latency) or pairs (cold)
CheckMethod = Callable[[str, str, int | None], Finding]


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB"


def _who(worker: RunningWorker, ref: RunningWorker) -> str:
    return "reference" if worker is ref else "candidate"


class Judge:
    """Judges commits for each check on one engine; images and workers come from the harness
    (real Docker). One Judge, one engine: its images are built on (or moved to) that engine."""

    def __init__(
        self,
        repo: Repo,
        config: Config,
        reference: str,
        options: Options,
        *,
        progress: Progress = quiet,
        engine: Engine = LOCAL,
    ) -> None:
        self.repo = repo
        self.engine = engine
        self.config = config
        self.reference = reference
        self.options = options
        self.progress = progress
        self._images: dict[str, ImageInfo | HarnessError] = {}  # build errors memoised too
        self.built: set[str] = set()  # shas whose image this run built (not reused)
        self._payloads: list[dict[str, Any]] | None = None
        self._checks: dict[str, CheckMethod] = {
            "build": self._build,
            "startup": self._startup,
            "size": self._size,
            "latency": self._latency,
            "cold": self._cold,
            "cmd": self._cmd,
        }
        assert tuple(self._checks) == ALL_CHECKS

    def judge(
        self, check: str, sha: str, reference: str | None = None, *, n: int | None = None
    ) -> Judgement:
        """Measure `sha` for `check` against `reference` (default: the good end).

        `n` overrides the first and the most samples (latency) or container pairs (cold): the
        confirmation of a culprit uses it.
        """
        method = self._checks.get(check)
        if method is None:
            raise HarnessError(
                f"unknown check {check!r}", "config", f"use one of {', '.join(ALL_CHECKS)}"
            )
        reference = reference or self.reference
        t0 = time.monotonic()
        found = method(sha, reference, n)
        seconds = time.monotonic() - t0
        return Judgement(check, sha, reference, found.verdict, found.reason, found.figures, seconds)

    # -- shared pieces ------------------------------------------------------------------------
    def image(self, sha: str) -> ImageInfo | HarnessError:
        """ImageInfo for `sha`, or the build HarnessError (memoised: each commit builds once)."""
        if sha not in self._images:
            try:
                info = build_image(self.repo, sha, self.config, engine=self.engine)
                if info.built:
                    self.built.add(sha)
                self._images[sha] = info
            except HarnessError as exc:
                if exc.kind != "build":
                    raise
                self._images[sha] = exc
        return self._images[sha]

    def warnings(self) -> list[str]:
        """What the stand-in bases of the images built so far lack (each said once)."""
        found = (i.warnings for i in self._images.values() if not isinstance(i, HarnessError))
        return list(dict.fromkeys(w for ws in found for w in ws))

    def payloads(self) -> list[dict[str, Any]]:
        if self._payloads is None:
            self._payloads = payloads_for(self.repo, self.reference, self.config)
        return self._payloads

    @contextlib.contextmanager
    def pair(
        self, ref_tag: str, tag: str, label: str
    ) -> Iterator[tuple[RunningWorker, RunningWorker]]:
        """Reference and candidate started at once, then each waited for: one start-up a pair."""
        stamp = uuid.uuid4().hex[:6]
        timeout = self.config.run.ready_timeout_s
        with (
            start_worker(
                ref_tag,
                self.config,
                name=f"bisect-ref-{label}-{stamp}",
                wait=False,
                engine=self.engine,
            ) as r,
            start_worker(
                tag,
                self.config,
                name=f"bisect-cand-{label}-{stamp}",
                wait=False,
                engine=self.engine,
            ) as c,
        ):
            r.wait_ready(timeout)
            c.wait_ready(timeout)
            yield r, c

    @staticmethod
    def _not_ready(ref: RunningWorker, cand: RunningWorker) -> Finding | None:
        if not ref.ready:
            return Finding(Verdict.SKIP, f"reference not ready (exit {ref.exit_code})")
        if not cand.ready:
            return Finding(Verdict.SKIP, f"not ready (exit {cand.exit_code}, phase {cand.phase})")
        return None

    # -- one method per check -----------------------------------------------------------------
    def _build(self, sha: str, reference: str, n: int | None) -> Finding:
        info = self.image(sha)
        if isinstance(info, HarnessError):
            figures = {"log_tail": info.log_tail[-800:], "cause": telling_line(info.log_tail)}
            return Finding(Verdict.BAD, f"does not build: {info.message}", figures)
        return Finding(Verdict.GOOD, "builds", {"size_bytes": info.size_bytes, "image": info.tag})

    def _startup(self, sha: str, reference: str, n: int | None) -> Finding:
        info = self.image(sha)
        if isinstance(info, HarnessError):
            return Finding(Verdict.SKIP, "does not build, so start-up cannot be judged")
        with start_worker(
            info.tag, self.config, name=f"bisect-start-{sha[:12]}", engine=self.engine
        ) as worker:
            figures: dict[str, Any] = {
                "ready": bool(worker.ready),
                "ready_s": worker.ready_s,
                "exit_code": worker.exit_code,
                "phase": worker.phase,
                "retried": worker.retried,
            }
            note = worker.retry_note()
            if worker.ready:
                return Finding(Verdict.GOOD, f"ready in {worker.ready_s:.2f} s{note}", figures)
            figures["log_tail"] = (worker.log_tail or "")[-800:]
            figures["cause"] = telling_line(worker.log_tail or "")
        why = f"not ready: exit code {worker.exit_code}, phase {worker.phase}{note}"
        if figures["cause"]:
            why += f": {figures['cause']}"
        return Finding(Verdict.BAD, why, figures)

    def _cmd(self, sha: str, reference: str, n: int | None) -> Finding:
        command = self.options.check_cmd
        if not command:
            raise HarnessError("--check cmd needs a command", "config", "pass --check-cmd 'CMD'")
        info = self.image(sha)
        if isinstance(info, HarnessError):
            return Finding(Verdict.SKIP, "does not build, so the command cannot run")
        return run_check_cmd(
            info.tag, self.config, command, self.options.check_cmd_timeout_s, engine=self.engine
        )

    def _size(self, sha: str, reference: str, n: int | None) -> Finding:
        info = self.image(sha)
        if isinstance(info, HarnessError):
            return Finding(Verdict.SKIP, "does not build, so its size cannot be judged")
        hard = self.config.limits.image_hard_bytes
        figures: dict[str, Any] = {"size_bytes": info.size_bytes, "hard_limit_bytes": hard}
        if info.size_bytes > hard:
            why = f"{_mb(info.size_bytes)} is over the hard limit {_mb(hard)}"
            return Finding(Verdict.BAD, why, figures)
        if sha == reference:
            return Finding(Verdict.GOOD, f"{_mb(info.size_bytes)} (reference)", figures)
        ref = self.image(reference)
        if isinstance(ref, HarnessError):
            return Finding(Verdict.SKIP, "the reference does not build", figures)
        ratio = info.size_bytes / max(ref.size_bytes, 1)
        figures.update(reference_bytes=ref.size_bytes, ratio=round(ratio, 4))
        text = f"{_mb(info.size_bytes)} vs {_mb(ref.size_bytes)} ({ratio - 1:+.1%})"
        bad = ratio > 1 + self.options.size_threshold
        return Finding(Verdict.BAD if bad else Verdict.GOOD, text, figures)

    def _latency(self, sha: str, reference: str, n: int | None) -> Finding:
        return self._timed(sha, reference, cold=False, n=n)

    def _cold(self, sha: str, reference: str, n: int | None) -> Finding:
        return self._timed(sha, reference, cold=True, n=n)

    def _timed(self, sha: str, reference: str, *, cold: bool, n: int | None) -> Finding:
        what = "first-request" if cold else "warm"
        info = self.image(sha)
        if isinstance(info, HarnessError):
            return Finding(Verdict.SKIP, f"does not build, so {what} latency cannot be judged")
        if sha == reference:
            return self._reference_alone(info, what)
        ref = self.image(reference)
        if isinstance(ref, HarnessError):
            return Finding(Verdict.SKIP, "the reference does not build")
        if cold:
            return self._cold_pairs(ref.tag, info.tag, sha, n)
        return self._warm_pair(ref.tag, info.tag, sha, n)

    def _reference_alone(self, info: ImageInfo, what: str) -> Finding:
        """The good end is judged on its own: it must start and answer."""
        name = f"bisect-refcheck-{info.tag[-12:]}"
        with start_worker(info.tag, self.config, name=name, engine=self.engine) as w:
            if not w.ready:
                why = f"not ready (exit {w.exit_code}, phase {w.phase}){w.retry_note()}"
                return Finding(Verdict.SKIP, why)
            sample = w.request(self.payloads()[0])
            if not sample.ok:
                return Finding(Verdict.SKIP, f"request failed ({sample.status})")
            return Finding(
                Verdict.GOOD,
                f"reference: ready, a request answers ({what} latency is judged against it)",
                {"first_s": sample.seconds},
            )

    def _warm_pair(self, ref_tag: str, tag: str, sha: str, n: int | None) -> Finding:
        opts = self.options
        first = n or opts.samples
        bound = max(n or opts.max_samples, first)
        payloads = self.payloads()
        ref_s: list[float] = []
        cand_s: list[float] = []
        cmp: Comparison | None = None
        with self.pair(ref_tag, tag, sha[:12]) as (ref, cand):
            if (not_ready := self._not_ready(ref, cand)) is not None:
                return not_ready
            # One warm-up request each (lazy loads happen here); not part of the samples.
            for w in (ref, cand):
                if not w.request(payloads[0]).ok:
                    return Finding(Verdict.SKIP, f"{_who(w, ref)} warm-up request failed")
            while True:
                step = next_batch(len(cand_s), first, bound)
                failed = _interleave(ref, cand, payloads, step, ref_s, cand_s)
                if failed:
                    return Finding(Verdict.SKIP, failed, latency_figures(ref_s, cand_s, cmp))
                cmp = compare_samples(ref_s, cand_s, threshold=opts.threshold)
                if decide(cmp, median(ref_s)) is not None or len(cand_s) >= bound:
                    break
        return timed_finding(cmp, latency_figures(ref_s, cand_s, cmp), "warm")

    def _cold_pairs(self, ref_tag: str, tag: str, sha: str, n: int | None) -> Finding:
        opts = self.options
        first = n or opts.cold_rounds
        bound = max(n or opts.max_cold_rounds, first)
        payload = self.payloads()[0]
        ref_s: list[float] = []
        cand_s: list[float] = []
        cmp: Comparison | None = None
        for round_no in range(bound):
            with self.pair(ref_tag, tag, f"{sha[:12]}-c{round_no}") as (ref, cand):
                if (not_ready := self._not_ready(ref, cand)) is not None:
                    return not_ready
                order = (ref, cand) if round_no % 2 == 0 else (cand, ref)
                for w in order:
                    sample = w.request(payload)
                    if not sample.ok:
                        why = f"{_who(w, ref)} first request failed ({sample.status})"
                        return Finding(Verdict.SKIP, why)
                    (ref_s if w is ref else cand_s).append(sample.seconds)
            if round_no + 1 >= first:
                cmp = compare_samples(ref_s, cand_s, threshold=opts.threshold)
                if decide(cmp, median(ref_s), opts.cold_floor_s) is not None:
                    break
        figures = latency_figures(ref_s, cand_s, cmp)
        return timed_finding(cmp, figures, "first-request", opts.cold_floor_s)


def _interleave(
    ref: RunningWorker,
    cand: RunningWorker,
    payloads: list[dict[str, Any]],
    count: int,
    ref_s: list[float],
    cand_s: list[float],
) -> str:
    """Time `count` requests on each worker, alternating who goes first; '' or what failed."""
    for k in range(count):
        payload = payloads[(len(cand_s) + k) % len(payloads)]
        order = (ref, cand) if (len(ref_s) + len(cand_s)) % 4 == 0 else (cand, ref)
        for w in order:
            sample = w.request(payload)
            if not sample.ok:
                return f"{_who(w, ref)} request failed ({sample.status})"
            (ref_s if w is ref else cand_s).append(sample.seconds)
    return ""
