"""Candidate containers of a latency bisect kept running between visits.

A noisy bisect revisits commits, mostly the two it visited last: in the noisy zoo's 20 runs at
sigma 0.35 +30 % (docs/bisect.md), 79 of 212 visits went to one of the two commits visited just
before. A fresh container of the zoo's small worker costs about 2.9 s on this 2-core machine
(2.5 s to ready, a warm-up request, 0.16 s to remove), so those visits reuse the container of
the commit's last visit instead. That is evidence of the same kind the ends give: each end
gives all its samples from one container.

At most `keep` candidate containers run besides the two ends; the least recently visited is
removed first. `keep` 0 is the old way: a fresh container every visit, removed after it. A
container that is not ready, stops, or fails a request is never kept.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator

from harness.container import RunningWorker, start_worker
from harness.judge import Judge


def _running(worker: RunningWorker) -> bool:
    """Whether the container still runs (a reused worker may have died since its last visit)."""
    try:
        worker.container.reload()
    except Exception:  # gone, or the engine does not answer: not reusable
        return False
    return worker.container.status == "running"


class WarmCandidates:
    """The bisect's candidate containers, by commit; see the module docstring."""

    def __init__(self, judge: Judge, keep: int) -> None:
        if keep < 0:
            raise ValueError(f"keep {keep}: expected 0 or more")
        self.judge, self.keep = judge, keep
        self._kept: OrderedDict[str, tuple[contextlib.ExitStack, RunningWorker]] = OrderedDict()
        self.started = 0
        self.reused = 0

    @contextlib.contextmanager
    def visit(self, sha: str, tag: str, name: str) -> Iterator[tuple[RunningWorker, bool]]:
        """A ready-or-not worker of `tag` for one visit to `sha`, and whether it was reused.

        After the visit the worker is kept for the next one unless `drop(sha)` was called, it
        is not ready, or the visit raised."""
        kept = self._take(sha)
        reused = kept is not None
        if kept is None:
            stack = contextlib.ExitStack()
            worker = stack.enter_context(
                start_worker(tag, self.judge.config, name=name, engine=self.judge.engine)
            )
            self.started += 1
        else:
            stack, worker = kept
            self.reused += 1
        self._kept[sha] = (stack, worker)
        try:
            yield worker, reused
        except BaseException:
            self.drop(sha)
            raise
        if not worker.ready or self.keep == 0:
            self.drop(sha)
        while len(self._kept) > self.keep:
            self._close(next(iter(self._kept)))

    def _take(self, sha: str) -> tuple[contextlib.ExitStack, RunningWorker] | None:
        """`sha`'s kept container when it still runs (a dead one is removed)."""
        kept = self._kept.pop(sha, None)
        if kept is not None and not _running(kept[1]):
            kept[0].close()
            return None
        return kept

    def drop(self, sha: str) -> None:
        """Remove `sha`'s container now (a failed request: never reuse it)."""
        if sha in self._kept:
            self._close(sha)

    def _close(self, sha: str) -> None:
        stack, _ = self._kept.pop(sha)
        stack.close()

    def close(self) -> None:
        """Remove every kept container."""
        while self._kept:
            self._close(next(iter(self._kept)))
