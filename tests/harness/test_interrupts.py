"""Stopping a command removes its containers: SIGTERM to a real `harness measure` mid start-up."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from harness.gitrepo import Repo
from harness.images import build_image
from tests.synthetic import harness_config, make_worker_repo, remove_images

pytestmark = [pytest.mark.docker, pytest.mark.timeout(400)]
ROOT = Path(__file__).resolve().parents[2]


def containers_of(tag: str) -> list[str]:
    """Ids of every container (running or not) made from image `tag`."""
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"ancestor={tag}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


@pytest.mark.parametrize("command", ["measure", "compare"])
def test_sigterm_mid_startup_leaves_no_container(tmp_path: Path, command: str) -> None:
    name = f"sigterm-{uuid.uuid4().hex[:8]}"
    repo = make_worker_repo(tmp_path, name=name, startup_sleep_s=300, files={"n.txt": name})
    cfg = harness_config(repo, run={"ready_timeout_s": 600})
    tag = build_image(Repo(repo.path), repo.head, cfg).tag
    args = {"measure": ["measure", "HEAD"], "compare": ["compare", "HEAD", "HEAD"]}[command]
    cmd = [sys.executable, "-m", "harness.cli", *args]
    cmd += ["--repo", str(repo.path), "--config", str(repo.config_path)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while not containers_of(tag):  # the worker sleeps 300 s before serving: never ready
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        time.sleep(1.0)  # inside wait_ready, past `docker run`
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 143, err.decode()  # 128 + SIGTERM, after the cleanup
        left = containers_of(tag)
        assert left == [], f"containers left after SIGTERM: {left}\n{err.decode()[-2000:]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if ids := containers_of(tag):
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
        remove_images(f"harness-test/{name}:")
