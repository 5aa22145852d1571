"""Pure: the memory a container's processes use, page cache left out.

cgroup v1 `memory.stat` has `total_rss` (this cgroup and its children; anonymous memory and swap
cache, transparent huge pages included, so `rss_huge` is not added again) and `rss`; cgroup v2 has
`anon`. The high-water marks (`memory.max_usage_in_bytes`, `memory.peak`) count page cache too: a
container that pip-installs 7.7 GB reads as 13 GB there while its processes hold about 1 GB.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROCESS_KEYS = ("total_rss", "rss", "anon")  # first present wins


def parse_memory_stat(text: str) -> dict[str, int]:
    """`key value` lines of a memory.stat file; anything else is skipped."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isascii() and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def process_bytes(stat: Mapping[str, Any]) -> tuple[int, str] | None:
    """(bytes, key) of the processes' memory in a memory.stat mapping, or None."""
    for key in PROCESS_KEYS:
        value = stat.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value, key
    return None


def docker_stats_bytes(stats: Mapping[str, Any]) -> tuple[int, str] | None:
    """The same figure from one `container.stats(stream=False)` answer, or None."""
    stat = (stats.get("memory_stats") or {}).get("stats")
    found = process_bytes(stat) if isinstance(stat, Mapping) else None
    if found is None:
        return None
    return found[0], f"docker stats memory_stats.stats.{found[1]}"


def memory_stat_path(container_id: str, root: Path = CGROUP_ROOT) -> tuple[Path, str] | None:
    """(memory.stat path, "cgroup v1" | "cgroup v2") of a Docker container on this host."""
    for path, version in (
        (root / "memory" / "docker" / container_id / "memory.stat", "cgroup v1"),
        (root / "system.slice" / f"docker-{container_id}.scope" / "memory.stat", "cgroup v2"),
        (root / "docker" / container_id / "memory.stat", "cgroup v2"),
    ):
        if path.is_file():
            return path, version
    return None
