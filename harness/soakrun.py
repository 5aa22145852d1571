"""`harness measure --soak N`: the soak mix (harness/soak.py) against one commit's worker image.

Builds (or reuses) the image, starts one container as `measure` does, sends the N requests of
the seeded mix and, after each, reads the container's process memory (cgroup `memory.stat`,
page cache left out, as harness/memstat.py reads it; Docker's stats API where the cgroup is not
visible). CUDA memory is not read here (scripts/soak.py reads it with nvidia-smi for a local
worker). The record and the chart go to `<results_dir>/soak/`.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.config import Config
from harness.container import RunningWorker, start_worker
from harness.engines import LOCAL, Engine
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.measure import build_into, new_result
from harness.memstat import CGROUP_ROOT, parse_memory_stat
from harness.progress import Progress, quiet
from harness.soak import SoakSample, record, run_soak, soak_mix, write_chart, write_record

FLAC_REFERENCE = "worker/voices/default.flac"  # the reference worker's bundled voice


def container_memory(worker: RunningWorker) -> tuple[int | None, None]:
    """The container's process memory now (bytes), CUDA not read."""
    sampler = worker.process_memory
    found = sampler.read() if sampler is not None else None
    return (found[0] if found else None), None


def process_cpu_seconds(pid: int, proc: Path = Path("/proc")) -> float | None:
    """A local process's CPU time so far, all threads (utime + stime of /proc/PID/stat)."""
    try:
        fields = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def container_cpu_seconds(container_id: str, root: Path = CGROUP_ROOT) -> float | None:
    """CPU time of every process in the container so far, from its cgroup (None if not visible)."""
    v1 = root / "cpuacct" / "docker" / container_id / "cpuacct.usage"
    with contextlib.suppress(OSError, ValueError):
        return int(v1.read_text()) / 1e9
    for folder in (
        root / "system.slice" / f"docker-{container_id}.scope",
        root / "docker" / container_id,
    ):
        with contextlib.suppress(OSError, ValueError):
            stat = parse_memory_stat((folder / "cpu.stat").read_text())  # same `key value` lines
            if "usage_usec" in stat:
                return stat["usage_usec"] / 1e6
    return None


def soak_commit(
    repo: Repo,
    rev: str,
    config: Config,
    n: int,
    seed: int = 0,
    progress: Progress = quiet,
    *,
    engine: Engine = LOCAL,
) -> tuple[list[SoakSample], dict[str, Any], Path]:
    """(samples, record, where the record was written) for `n` requests of the mix at `rev`."""
    commit = repo.resolve(rev)
    result = new_result(repo, commit, config, engine=engine)
    tag = build_into(result, repo, config, None, progress, engine=engine)
    progress(f"starting {tag} for a soak of {n} requests")
    with start_worker(tag, config, progress=progress, engine=engine) as worker:
        if not worker.ready:
            raise HarnessError(
                f"{tag} never got ready (phase {worker.phase}, exit code {worker.exit_code})",
                "never_ready",
                "run `harness measure` on this commit to see the start-up failure",
            )
        ready_rss, _ = container_memory(worker)
        mix = soak_mix(n, seed, flac=repo.read_file(commit.sha, FLAC_REFERENCE))

        def send(body: dict[str, Any]) -> tuple[bool, float, dict[str, Any] | None]:
            sample = worker.request(body)
            return sample.ok, sample.seconds, sample.output_timings

        cid = worker.container.id
        samples = run_soak(
            send,
            lambda: container_memory(worker),
            mix,
            progress,
            cpu=lambda: container_cpu_seconds(cid),
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "label": commit.short,
        "target": f"container {tag}",
        "command": f"harness measure {rev} --soak {n}",
        "commit": commit.sha,
        "measured_at": stamp,
        "requests": n,
        "seed": seed,
        "memory": "container processes (cgroup memory.stat, no page cache)",
        "ready_rss_mb": round(ready_rss / 2**20, 1) if ready_rss else None,
    }
    rec = record(samples, meta)
    out = config.path(config.measure.results_dir) / "soak"
    path = write_record(out / f"soak-{commit.short}-{stamp}.json", rec)
    write_chart(samples, path.with_suffix(".png"), f"soak {commit.short}: {n} requests")
    return samples, rec, path
