"""Integration: the harness measures this repo's own F5-TTS worker (tiny model, CPU).

The commit measured is a snapshot of the current working tree (tracked + untracked, not ignored)
committed into a temp git repo, so the test checks the worker as it is now, not only HEAD. The
first run on a machine installs the ~8 GB stack into the shared volume (minutes); later runs
reuse it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.config import load_config
from harness.gitrepo import Repo
from harness.measure import measure_commit
from harness.results import ResultStore

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]


def snapshot(dest: Path) -> Path:
    """Commit the current worktree's files (what git would add) into a new repo at `dest`."""
    files = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "-co", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    dest.mkdir(parents=True)
    for raw in filter(None, files):
        rel = raw.decode()
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x.invalid",
        "PATH": "/usr/bin:/bin",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", "-C", str(dest), *args], check=True, env=env, capture_output=True)
    return dest


@pytest.mark.skipif(not (ROOT / "Dockerfile").exists(), reason="the worker's Dockerfile is absent")
def test_reference_worker_measures_clean(tmp_path: Path) -> None:
    cfg = load_config(ROOT / "harness.toml")
    cfg.measure.samples = 3
    cfg.measure.compressed_size = False
    repo = Repo(snapshot(tmp_path / "f5tts-worker"))
    store = ResultStore(tmp_path / "results", "test")
    try:
        result = measure_commit(repo, "HEAD", cfg, store=store)
    finally:
        subprocess.run(
            [
                "docker",
                "rmi",
                "-f",
                f"{cfg.build.tag_prefix}/f5tts-worker:{repo.resolve('HEAD').short}",
            ],
            capture_output=True,
        )
    assert result.startup.ok, result.startup
    assert result.startup.phase == "ready"
    assert {"env", "volume", "venv", "ready"} <= {p["phase"] for p in result.startup.phases}
    assert result.image.size_bytes < cfg.limits.image_hard_bytes
    assert result.latency.ok and len(result.latency.samples_s) == 3
    assert result.memory.peak_bytes and result.memory.peak_bytes > 100_000_000
