"""The bisect's search loop in rounds: each exact check k-sects over the pool's k engines.

Every round, each unfinished check proposes its positions (`harness.ksection`): up to k for the
exact checks (build, startup, size, cmd), where k is the number of live engines, and one for the
timed check cold, pinned to one engine (`harness.probepool`). Cached verdicts answer first; the
rest run on the pool at once. Each verdict, from whichever engine, is recorded, stored in the one
verdict cache (with the engine's name in its figures) and reported as it arrives. With one
engine this is the sequential bisect, probe for probe.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.engines import Engine
from harness.judgement import TIMED, Judgement, Options
from harness.ksection import KSection, round_bound
from harness.probepool import Probe, ProbePool
from harness.progress import Progress
from harness.search import probe_bound
from harness.verdicts import VerdictCache


@dataclass
class Rounds:
    """What the search loop leaves: each check's k-section, its judgements, its k."""

    searches: dict[str, KSection]
    probes: dict[str, list[Judgement]]
    width: dict[str, int]  # check -> k it started with (1 for timed checks)
    rounds: int = 0  # rounds of the loop (each check's own count is searches[c].rounds)

    def bounds(self, check: str, n: int) -> tuple[int, int]:
        """(probe bound, round bound) for `check`; with k = 1 the sequential probe bound."""
        ks, k = self.searches[check], self.width[check]
        rounds = round_bound(n, k, ks.skipped)
        return (probe_bound(n, ks.skipped) if k == 1 else k * rounds), rounds


def search_in_rounds(
    pool: ProbePool,
    commits: list[str],
    checks: list[str],
    cache: VerdictCache,
    options: Options,
    reference: str,
    progress: Progress,
) -> Rounds:
    """Run the k-section of every check in `checks` to its end on `pool`."""
    n = len(commits)
    wide = pool.width
    state = Rounds(
        searches={c: KSection(n) for c in checks},
        probes={c: [] for c in checks},
        width={c: 1 if c in TIMED else wide for c in checks},
    )
    several = len(pool.lanes) > 1

    def deliver(probe: Probe, judgement: Judgement, engine: Engine | None) -> None:
        judgement.position = probe.position
        if engine is not None:
            judgement.figures["engine"] = engine.name
            cache.put(judgement, options.params(probe.check))
        ks = state.searches[probe.check]
        ks.record(probe.position, judgement.verdict)
        state.probes[probe.check].append(judgement)
        count = len(state.probes[probe.check])
        bound, rounds = state.bounds(probe.check, n)
        note = " (cached)" if judgement.cached else f" ({judgement.seconds:.1f} s)"
        if several:
            where = judgement.figures.get("engine", "?")
            note = note[:-1] + f", engine {where})"
            head = f"[{probe.check}] round {ks.rounds}/<={rounds} probe {count}/<={bound}"
        else:
            head = f"[{probe.check}] probe {count}/<={bound}"
        progress(
            f"{head} #{probe.position} {probe.sha[:12]}: {judgement.verdict} - "
            f"{judgement.reason}{note}"
        )

    while True:
        todo: list[Probe] = []
        for check, ks in state.searches.items():
            k = 1 if check in TIMED else max(pool.width, 1)
            for position in ks.propose(k):
                todo.append(Probe(check, position, commits[position], pinned=check in TIMED))
        if not todo:
            return state
        state.rounds += 1
        measure: list[Probe] = []
        for probe in todo:
            hit = None
            if not options.force:
                hit = cache.get(probe.check, probe.sha, reference, options.params(probe.check))
            if hit is not None:
                deliver(probe, hit, None)
            else:
                measure.append(probe)
        pool.run(measure, lambda p: state.searches[p.check].matters(p.position), deliver)
