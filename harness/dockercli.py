"""Find a docker CLI that builds with BuildKit (needed for `--secret`), and the engine client.

The newest docker CLI (23+) hands BuildKit builds to the buildx plugin and refuses them when the
plugin is missing; CLIs before 23 carry BuildKit built in. So "auto" picks the first `docker` on
PATH (then /usr/bin/docker) that either has buildx or is older than 23.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from harness.engines import DOCKER_HINT, LOCAL, Engine
from harness.errors import HarnessError

__all__ = ["DOCKER_HINT", "buildkit_cli", "engine"]


def _candidates() -> list[str]:
    seen: list[str] = []
    for folder in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/local/bin"]:
        path = Path(folder) / "docker"
        if path.is_file() and os.access(path, os.X_OK):
            real = str(path.resolve())
            if real not in seen:
                seen.append(real)
    return seen


def _client_major(cli: str) -> int | None:
    proc = subprocess.run(
        [cli, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True
    )
    head = proc.stdout.strip().split(".")[0]
    return int(head) if head.isdigit() else None


def _has_buildx(cli: str) -> bool:
    proc = subprocess.run([cli, "buildx", "version"], capture_output=True, text=True)
    return proc.returncode == 0


@functools.cache
def buildkit_cli(preference: str = "auto") -> str:
    """The docker CLI to run `DOCKER_BUILDKIT=1 docker build` with."""
    if preference != "auto":
        found = shutil.which(preference)
        if not found:
            raise HarnessError(
                f"docker CLI {preference!r} not found", "docker", "fix build.docker in harness.toml"
            )
        return found
    for cli in _candidates():
        major = _client_major(cli)
        if _has_buildx(cli) or (major is not None and major < 23):
            return cli
    raise HarnessError(
        "no docker CLI with BuildKit found (a CLI >= 23 needs the buildx plugin)",
        "docker",
        "install docker-buildx, or set build.docker in harness.toml to a CLI older than 23",
    )


def engine(target: Engine = LOCAL):
    """A pinged docker-py client for `target` (the local engine by default), or
    HarnessError(kind="docker")."""
    return target.client()
