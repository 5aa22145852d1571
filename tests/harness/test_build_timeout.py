"""build.timeout_s holds when the build prints nothing (a silent hang is killed, with its children).

The stand-in for a hung `docker build` is a script that prints nothing and sleeps (in the unit
test a shell with a background child holding the pipe; in the Docker test a fake docker CLI
named by `build.docker`), so nothing on the machine is built for minutes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from harness.config import load_config
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.images import _run_build, build_image
from tests.gitutil import commit_files


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def _dies(pid: int, within_s: float = 15.0) -> bool:
    """SIGKILL is delivered when the process is next scheduled, which on a loaded machine can
    be a while after kill() returns: wait (bounded) for it to be gone."""
    give_up = time.monotonic() + within_s
    while _alive(pid):
        if time.monotonic() > give_up:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.timeout(40)
def test_silent_build_is_killed_at_the_deadline_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pidfile}; sleep 300"
    lines: list[str] = []
    code, log = _run_build(["sh", "-c", script], 1.0, lines.append)
    assert code != 0
    assert "build.timeout_s" in log[-1]
    assert _dies(int(pidfile.read_text())), "the build's child outlived the deadline"


@pytest.mark.docker
@pytest.mark.timeout(60)
def test_build_image_times_out_on_a_silent_docker(tmp_path: Path) -> None:
    """build_image with build.docker = a CLI that hangs silently: a build error, within the
    timeout (before the fix it waited for the script's 300 s)."""
    repo = tmp_path / "w"
    commit_files(repo, {"Dockerfile": "FROM scratch\nCOPY Dockerfile /\n"})
    fake = tmp_path / "docker-hangs"
    fake.write_text("#!/bin/sh\nsleep 300\n")
    fake.chmod(0o755)
    cfg_path = tmp_path / "h.toml"
    cfg_path.write_text(f'[build]\ndocker = "{fake}"\ntimeout_s = 2\ntag_prefix = "harness-test"\n')
    with pytest.raises(HarnessError) as info:
        build_image(Repo(repo), "HEAD", load_config(cfg_path))
    assert info.value.kind == "build"
    assert "build.timeout_s" in info.value.log_tail
