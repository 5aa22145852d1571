"""Process memory without page cache: memory.stat parsing and source picking (no Docker)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from harness.memsampler import ProcessMemoryPeak
from harness.memstat import docker_stats_bytes, memory_stat_path, parse_memory_stat, process_bytes

V1_STAT = """cache 13300000000
rss 1200000000
rss_huge 2097152
mapped_file 0
total_cache 13300000000
total_rss 1250000000
total_rss_huge 2097152
"""
V2_STAT = """anon 1190000000
file 12100000000
kernel 40000000
anon_thp 0
"""


def test_parse_memory_stat_v1_and_v2() -> None:
    v1 = parse_memory_stat(V1_STAT)
    assert v1["total_rss"] == 1_250_000_000 and v1["cache"] == 13_300_000_000
    assert parse_memory_stat(V2_STAT) == {
        "anon": 1_190_000_000,
        "file": 12_100_000_000,
        "kernel": 40_000_000,
        "anon_thp": 0,
    }


def test_process_bytes_prefers_the_hierarchical_rss_then_rss_then_anon() -> None:
    # total_rss counts child cgroups too and (like rss) already includes huge pages
    assert process_bytes(parse_memory_stat(V1_STAT)) == (1_250_000_000, "total_rss")
    assert process_bytes({"rss": 5, "rss_huge": 2, "cache": 9}) == (5, "rss")
    assert process_bytes(parse_memory_stat(V2_STAT)) == (1_190_000_000, "anon")
    assert process_bytes({"file": 7, "cache": 9}) is None  # page cache only: nothing to say


def test_docker_stats_bytes() -> None:
    v1 = {"memory_stats": {"usage": 9, "max_usage": 20, "stats": {"total_rss": 4, "rss": 3}}}
    v2 = {"memory_stats": {"usage": 9, "stats": {"anon": 6, "file": 3}}}
    assert docker_stats_bytes(v1) == (4, "docker stats memory_stats.stats.total_rss")
    assert docker_stats_bytes(v2) == (6, "docker stats memory_stats.stats.anon")
    assert docker_stats_bytes({}) is None
    assert docker_stats_bytes({"memory_stats": {"stats": None}}) is None


def test_memory_stat_path_finds_the_layout(tmp_path: Path) -> None:
    cid = "ab" * 32
    assert memory_stat_path(cid, tmp_path) is None
    v1 = tmp_path / "memory" / "docker" / cid / "memory.stat"
    v1.parent.mkdir(parents=True)
    v1.write_text(V1_STAT)
    assert memory_stat_path(cid, tmp_path) == (v1, "cgroup v1")
    v2root = tmp_path / "v2"
    for scope in (v2root / "system.slice" / f"docker-{cid}.scope", v2root / "docker" / cid):
        scope.mkdir(parents=True)
        (scope / "memory.stat").write_text(V2_STAT)
        assert memory_stat_path(cid, v2root) == (scope / "memory.stat", "cgroup v2")
        (scope / "memory.stat").unlink()


@given(st.text())
def test_parse_never_raises_and_keeps_only_integers(text: str) -> None:
    parsed = parse_memory_stat(text)
    assert all(isinstance(v, int) and v >= 0 for v in parsed.values())


class _Container:
    """What the sampler needs of a docker container object: its id (the cgroup folder)."""

    id = "cd" * 32


def test_sampler_keeps_the_peak_and_names_the_source(tmp_path: Path) -> None:
    stat = tmp_path / "memory" / "docker" / _Container.id / "memory.stat"
    stat.parent.mkdir(parents=True)
    sampler = ProcessMemoryPeak(_Container(), interval_s=0.5, root=tmp_path)
    for rss in (100, 300, 200):
        stat.write_text(f"cache 999999\ntotal_rss {rss}\n")
        sampler.sample()
    assert sampler.peak == 300
    assert sampler.source == "cgroup v1 memory.stat total_rss, peak of samples every 0.5 s"
    stat.unlink()  # the container is gone: the peak stays
    sampler.sample()
    assert sampler.peak == 300
