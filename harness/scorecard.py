"""Pure: two Result records -> a scorecard: one row per metric with a verdict, anything worse?

Rules (README): image size is exact (compared by ratio against size_threshold, and against the
hard limit / target); start-up ok is exact; start-up time is one sample per side, so it needs both
a relative and an absolute margin; warm latency is compared statistically
(stats.compare_samples) only when both sides were measured on this machine and on the same
Docker engine (records before engines: the local engine) -- otherwise it is reported as
"unknown", saying which engines differ.
A crossed hard limit is "worse" whatever the baseline says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.config import Config
from harness.results import Result
from harness.stats import Comparison, compare_exact, compare_samples


@dataclass
class Row:
    metric: str
    baseline: str
    candidate: str
    verdict: str  # better | same | worse | unknown | info | ok
    detail: str = ""


@dataclass
class Scorecard:
    """Candidate vs baseline, one row per metric (what `harness compare` prints)."""

    baseline: Result
    candidate: Result
    rows: list[Row] = field(default_factory=list)
    latency: Comparison | None = None
    interleaved: bool = False
    same_machine: bool = False
    same_engine: bool = True  # both measured on one Docker engine (timings comparable)

    @property
    def worse(self) -> bool:
        return any(r.verdict == "worse" for r in self.rows)

    def to_dict(self) -> dict:
        return {
            "baseline": self.baseline.commit.sha,
            "candidate": self.candidate.commit.sha,
            "interleaved": self.interleaved,
            "same_machine": self.same_machine,
            "same_engine": self.same_engine,
            "engines": [self.baseline.measured_on.name, self.candidate.measured_on.name],
            "worse": self.worse,
            "rows": [r.__dict__ for r in self.rows],
            # each side's whole record: phase times, the cold start's install, what rows sum up
            "records": {
                "baseline": self.baseline.model_dump(mode="json"),
                "candidate": self.candidate.model_dump(mode="json"),
            },
        }


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    return f"{n:.2f} GB"


def fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f} s"


def _size_rows(base: Result, cand: Result, config: Config) -> list[Row]:
    lim, t = config.limits, config.compare.size_threshold
    b, c = base.image.size_bytes, cand.image.size_bytes
    rows = []
    cmp = compare_exact(b, c, threshold=t)
    detail = f"ratio {cmp.ratio:.3f} (threshold {t:.0%})" if cmp.ratio else cmp.reason
    rows.append(Row("image size", fmt_bytes(b), fmt_bytes(c), cmp.direction, detail))
    if c is not None and c > lim.image_hard_bytes:
        rows.append(
            Row(
                "image size hard limit",
                fmt_bytes(lim.image_hard_bytes),
                fmt_bytes(c),
                "worse",
                "over the hard limit",
            )
        )
    elif c is not None and c > lim.image_target_bytes:
        rows.append(
            Row(
                "image size target",
                fmt_bytes(lim.image_target_bytes),
                fmt_bytes(c),
                "info",
                "over the target (not a failure)",
            )
        )
    bc, cc = base.image.compressed_bytes, cand.image.compressed_bytes
    if bc is not None or cc is not None:
        cmp = compare_exact(bc, cc, threshold=t)
        detail = f"ratio {cmp.ratio:.3f} (threshold {t:.0%})" if cmp.ratio else cmp.reason
        rows.append(Row("image compressed", fmt_bytes(bc), fmt_bytes(cc), cmp.direction, detail))
        rows += _pull_rows(bc, cc)
    return rows


# Bandwidths (bytes/s) the pull-time estimate is given at: a slow and a fast registry link.
PULL_BANDWIDTHS = (100e6, 1e9)


def _pull_rows(base: int | None, cand: int | None) -> list[Row]:
    """Estimated pull times: compressed bytes / bandwidth (what a new machine downloads)."""

    def secs(n: int | None, bandwidth: float) -> float | None:
        return None if n is None else n / bandwidth

    return [
        Row(
            f"pull at {bw / 1e6:g} MB/s (estimate)",
            fmt_s(secs(base, bw)),
            fmt_s(secs(cand, bw)),
            "info",
            "compressed size / bandwidth: the download alone, on a machine with no layer of it "
            "(not the extraction, not layers already there)",
        )
        for bw in PULL_BANDWIDTHS
    ]


def _startup_rows(
    base: Result, cand: Result, config: Config, here: bool, elsewhere: str
) -> list[Row]:
    b, c, lim, cc = base.startup, cand.startup, config.limits, config.compare
    rows = []
    verdict = "same" if b.ok == c.ok else ("worse" if b.ok else "better")

    def state(s):
        return "ok" if s.ok else f"fail {s.phase or '?'} (exit {s.exit_code})"

    rows.append(Row("start-up", state(b), state(c), verdict))
    if b.ready_s is not None and c.ready_s is not None and here:
        slower = c.ready_s > b.ready_s * (1 + cc.startup_threshold) and (
            c.ready_s - b.ready_s > cc.startup_slack_s
        )
        faster = b.ready_s > c.ready_s * (1 + cc.startup_threshold) and (
            b.ready_s - c.ready_s > cc.startup_slack_s
        )
        v = "worse" if slower else "better" if faster else "same"
        if cc.ready_time_counts:
            detail = (
                f"one sample each; needs +{cc.startup_threshold:.0%} and +{cc.startup_slack_s} s"
            )
        else:
            detail = f"one sample each, not gated (would be {v}; compare.ready_time_counts)"
            v = "info"
        rows.append(Row("ready time", fmt_s(b.ready_s), fmt_s(c.ready_s), v, detail))
    elif c.ready_s is not None:
        rows.append(
            Row(
                "ready time",
                fmt_s(b.ready_s),
                fmt_s(c.ready_s),
                "unknown",
                elsewhere,
            )
        )
    cold = cand.cold_start
    if cold is not None and (cold.ok or base.cold_start is not None):
        bc = base.cold_start.ready_s if base.cold_start else None
        hard = lim.cold_ready_hard_s
        crossed = hard is not None and (not cold.ok or (cold.ready_s or 0) > hard)
        limit = f"hard limit {fmt_s(hard)}" if hard is not None else "no limit"
        detail = f"{limit}; install {fmt_s(cold.install_s)}" if cold.ok else str(cold.error)
        verdict = "worse" if crossed else "info"
        rows.append(
            Row("cold start (empty volume)", fmt_s(bc), fmt_s(cold.ready_s), verdict, detail)
        )
    if lim.ready_hard_s is not None and c.ready_s is not None and c.ready_s > lim.ready_hard_s:
        rows.append(Row("ready hard limit", fmt_s(lim.ready_hard_s), fmt_s(c.ready_s), "worse"))
    elif (
        lim.ready_target_s is not None and c.ready_s is not None and c.ready_s > lim.ready_target_s
    ):
        rows.append(
            Row(
                "ready target",
                fmt_s(lim.ready_target_s),
                fmt_s(c.ready_s),
                "info",
                "over the target (not a failure)",
            )
        )
    return rows


def _latency_rows(
    base: Result, cand: Result, config: Config, here: bool, elsewhere: str
) -> tuple[list[Row], Comparison | None]:
    b, c, lim, cc = base.latency, cand.latency, config.limits, config.compare
    rows, stat = [], None
    if here and len(b.samples_s) >= 2 and len(c.samples_s) >= 2:
        stat = compare_samples(b.samples_s, c.samples_s, threshold=cc.threshold, alpha=cc.alpha)
        detail = (
            f"ratio {stat.ratio:.2f}, 95% CI [{stat.ci_low:.2f}, {stat.ci_high:.2f}], "
            f"p={stat.p_value:.3g}, n={stat.n_baseline}/{stat.n_candidate}"
        )
        rows.append(
            Row(
                "warm latency p50", fmt_s(b.warm_p50_s), fmt_s(c.warm_p50_s), stat.direction, detail
            )
        )
    else:
        why = elsewhere if not here else "too few samples"
        rows.append(
            Row("warm latency p50", fmt_s(b.warm_p50_s), fmt_s(c.warm_p50_s), "unknown", why)
        )
    rows.append(Row("first request", fmt_s(b.first_s), fmt_s(c.first_s), "info", "one sample"))
    p50 = c.warm_p50_s
    if lim.warm_latency_hard_s is not None and p50 is not None and p50 > lim.warm_latency_hard_s:
        rows.append(
            Row("warm latency hard limit", fmt_s(lim.warm_latency_hard_s), fmt_s(p50), "worse")
        )
    elif p50 is not None and p50 > lim.warm_latency_target_s:
        rows.append(
            Row(
                "warm latency target",
                fmt_s(lim.warm_latency_target_s),
                fmt_s(p50),
                "info",
                "over the target (not a failure)",
            )
        )
    if c.ok is False and b.ok:
        rows.append(Row("requests", "ok", c.error or "failed", "worse"))
    return rows, stat


def score(base: Result, cand: Result, config: Config, *, interleaved: bool = False) -> Scorecard:
    b_eng, c_eng = base.measured_on, cand.measured_on
    same_machine = base.machine.id == cand.machine.id
    same_engine = b_eng.same_engine(c_eng)
    here = same_machine and same_engine  # timings from two engines are never compared
    elsewhere = "baseline measured on another machine"
    if not same_engine:
        elsewhere = f"measured on different engines ({b_eng.name} vs {c_eng.name})"
    out = Scorecard(base, cand, interleaved=interleaved, same_machine=same_machine)
    out.same_engine = same_engine
    out.rows += _size_rows(base, cand, config)
    out.rows += _startup_rows(base, cand, config, here, elsewhere)
    lat_rows, out.latency = _latency_rows(base, cand, config, here, elsewhere)
    out.rows += lat_rows
    base_mem, cand_mem = base.memory, cand.memory
    out.rows += [
        Row(
            "peak memory incl. page cache",
            fmt_bytes(base_mem.peak_bytes),
            fmt_bytes(cand_mem.peak_bytes),
            "info",
            cand_mem.method,
        ),
        Row(
            "peak process memory (no cache)",
            fmt_bytes(base_mem.peak_rss_bytes),
            fmt_bytes(cand_mem.peak_rss_bytes),
            "info",
            cand_mem.memory_source,
        ),
    ]
    return out
