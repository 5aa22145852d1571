"""The regression zoo: a synthetic runpod worker history with one known culprit per kind.

Built on tests/synthetic.py (real runpod local API in real Docker images). The first-parent line
(position 0 = the healthy first commit) holds, in order:

    size      +200 MB ballast in the image
    cold      lazy loading: the first request sleeps `lazy_s`
    broken    a Dockerfile that does not build (fixed by the next commit)
    latency   a side branch doubles the per-request delay; its merge into main is the culprit
              (the side branch also breaks and repairs start-up, which first-parent bisect must
              never report)
    startup   an import error: start-up exits 14 in the "imports" phase (never fixed)

with filler commits (a notes file changes) spread between them. `Zoo.culprits` maps each check
to its true first bad commit on the first-parent line; `Zoo.positions` to its index.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from tests.synthetic import WorkerRepo, make_worker_repo


@dataclass
class Zoo:
    repo: WorkerRepo
    line: list[str]  # the first-parent line, oldest first, both ends included
    culprits: dict[str, str]  # check -> sha of the first bad commit
    side: list[str] = field(default_factory=list)  # commits on the merged branch only

    @property
    def good(self) -> str:
        return self.line[0]

    @property
    def bad(self) -> str:
        return self.line[-1]

    @property
    def before_startup(self) -> str:
        """The last commit before the import error: every worker there starts."""
        return self.line[self.line.index(self.culprits["startup"]) - 1]

    def position(self, check: str) -> int:
        return self.line.index(self.culprits[check])


def _fill(repo: WorkerRepo, count: int, tag: str) -> list[str]:
    return [
        repo.commit(f"docs: note {tag}.{i}", files={"notes/changelog.txt": f"{tag}.{i}\n"})
        for i in range(count)
    ]


def make_zoo(
    tmp_path: Path,
    *,
    commits: int = 32,
    delay_s: float = 0.05,
    lazy_s: float = 1.0,
    extra_mb: int = 200,
    name: str = "zoo",
) -> Zoo:
    """A zoo whose first-parent line has `commits` commits (at least 12).

    Images are tagged harness-test/<name>:<sha12>; remove them with
    `tests.synthetic.remove_images(f"harness-test/{name}")`.
    """
    if commits < 12:
        raise ValueError(f"a zoo needs at least 12 first-parent commits, got {commits}")
    fixed = 8  # first, size, lazy, broken, fix, merge, import error, last filler
    spare = commits - fixed
    gaps = [spare // 6] * 6
    for i in range(spare % 6):
        gaps[i] += 1
    repo = make_worker_repo(tmp_path, name=name, request_delay_s=delay_s)
    line = [repo.head]
    culprits: dict[str, str] = {}

    line += _fill(repo, gaps[0], "a")
    culprits["size"] = repo.commit("feat: bundle extra assets in the image", extra_mb=extra_mb)
    line.append(culprits["size"])
    line += _fill(repo, gaps[1], "b")
    culprits["cold"] = repo.commit("perf: load the model on first request", lazy_load_s=lazy_s)
    line.append(culprits["cold"])
    line += _fill(repo, gaps[2], "c")
    culprits["build"] = repo.commit("build: try a new step", broken_dockerfile=True)
    line.append(culprits["build"])
    line.append(repo.commit("build: revert the broken step", broken_dockerfile=False))
    line += _fill(repo, gaps[3], "d")

    # Side branch: start-up broken then repaired, then the latency doubling; merged with --no-ff.
    fork_knobs = copy.deepcopy((repo.knobs, repo.image_knobs))
    repo.git("checkout", "-q", "-b", "side")
    side = [
        repo.commit("side: import the new backend", import_error=True),
        repo.commit("side: fix the import", import_error=False),
        repo.commit("side: heavier post-processing", request_delay_s=delay_s * 2),
    ]
    side_knobs = copy.deepcopy((repo.knobs, repo.image_knobs))
    repo.git("checkout", "-q", "main")
    repo.knobs, repo.image_knobs = copy.deepcopy(fork_knobs)
    line += _fill(repo, gaps[4] // 2, "e")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'side'", "side")
    repo.knobs, repo.image_knobs = side_knobs
    culprits["latency"] = repo.head
    line.append(culprits["latency"])
    line += _fill(repo, gaps[4] - gaps[4] // 2, "f")

    culprits["startup"] = repo.commit("refactor: move imports", import_error=True)
    line.append(culprits["startup"])
    line += _fill(repo, gaps[5] + 1, "g")
    assert len(line) == commits, (len(line), commits)
    return Zoo(repo, line, culprits, side)
