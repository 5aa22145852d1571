"""Build the worker image and run real containers from it (docker CLI), reading phase lines."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.dockercli import buildkit_cli
from tests.netutil import free_port
from worker import boot
from worker.phases import parse_line
from worker.sweep import KEY_RE, MARKER

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = os.environ.get("BASE_IMAGE", "local/python:3.11-slim-bookworm")
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
# Shared per machine (not removed by tests): wheels of the lock, downloaded once.
WHEELHOUSE = Path(os.environ.get("F5TTS_WHEELHOUSE", "/var/cache/f5tts-wheels"))
PIP_CACHE = Path(os.environ.get("F5TTS_PIP_CACHE", "/var/cache/f5tts-pip"))
# key=value, unique per test process: clean-up removes only this run's containers.
LABEL = f"f5tts-container-test={uuid.uuid4().hex[:12]}"
OFFLINE = ("-e", "HF_HUB_OFFLINE=1", "-e", "WANDB_MODE=disabled")
OFFLINE += ("-e", "PYANNOTE_METRICS_ENABLED=0")


def docker_available() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def build_image(tag: str) -> None:
    cmd = [buildkit_cli(), "build", "-q", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", tag]
    if os.path.exists(HOST_CA):
        cmd += ["--secret", f"id=ca,src={HOST_CA}"]
    res = subprocess.run(
        [*cmd, str(REPO)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr


@dataclass
class Container:
    """One `docker run -d`; logs read with `docker logs`."""

    name: str
    port: int | None = None
    records: list[dict[str, Any]] = field(default_factory=list)

    def logs(self) -> tuple[str, str]:
        res = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True)
        return res.stdout, res.stderr

    def read(self) -> list[dict[str, Any]]:
        out, _ = self.logs()
        self.records = [r for r in map(parse_line, out.splitlines()) if r]
        return self.records

    def state(self) -> dict[str, Any]:
        cmd = ["docker", "inspect", "-f", "{{json .State}}", self.name]
        res = subprocess.run(cmd, capture_output=True, text=True)
        return json.loads(res.stdout) if res.returncode == 0 else {}

    def wait_for(self, predicate, timeout: float) -> dict[str, Any] | None:
        """First record matching predicate; None when the container exits or time runs out."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for r in self.read():
                if predicate(r):
                    return r
            if not self.state().get("Running", False):
                for r in self.read():
                    if predicate(r):
                        return r
                return None
            time.sleep(0.5)
        return None

    def wait_exit(self, timeout: float) -> int:
        res = subprocess.run(
            ["timeout", str(int(timeout)), "docker", "wait", self.name],
            capture_output=True,
            text=True,
        )
        assert res.returncode == 0, f"{self.name} did not exit in {timeout}s: {self.tail()}"
        return int(res.stdout.strip())

    def last(self) -> dict[str, Any]:
        out, err = self.logs()
        lines = [ln for ln in out.splitlines() if ln.strip()]
        assert lines, f"no stdout; stderr: {err[-2000:]}"
        rec = parse_line(lines[-1])
        assert rec is not None, f"last line is not a phase line: {lines[-1]!r}\n{err[-2000:]}"
        return rec

    def tail(self, n: int = 3000) -> str:
        out, err = self.logs()
        return f"--- stdout\n{out[-n:]}\n--- stderr\n{err[-n:]}"

    def kill(self) -> None:
        subprocess.run(["docker", "kill", self.name], capture_output=True)

    def pause(self) -> None:
        """Freeze every process of the container (cgroup freezer), like a SIGSTOP."""
        res = subprocess.run(["docker", "pause", self.name], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr

    def unpause(self) -> None:
        res = subprocess.run(["docker", "unpause", self.name], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr

    def remove(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True)

    def wait_http(self, timeout: float = 120) -> None:
        """The ready line comes just before runpod starts its server: wait for /openapi.json."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/openapi.json", timeout=5
                ) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            assert self.state().get("Running"), self.tail()
            time.sleep(0.5)
        raise AssertionError(f"no HTTP answer in {timeout}s\n{self.tail()}")

    def post(self, path: str, body: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
        assert self.port is not None
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())


def run(
    image: str,
    *,
    volume: Path | None = None,
    mounts: Sequence[str] = (),
    env: dict[str, str] | None = None,
    network: str | None = "none",
    serve: bool = False,
    args: Sequence[str] = (),
    wheelhouse: bool = False,
    hostname: str | None = None,
    tmpfs: str | None = None,
) -> Container:
    """Start a detached container (labelled for clean-up). serve=True publishes the runpod local
    API on 127.0.0.1 only (the worker binds 0.0.0.0 inside)."""
    name = f"f5c-{uuid.uuid4().hex[:10]}"
    cmd = ["docker", "run", "-d", "--name", name, "--label", LABEL, *OFFLINE]
    if volume is not None:
        cmd += ["-v", f"{volume}:/runpod-volume"]
    for m in mounts:
        cmd += ["--mount", m]
    if tmpfs:  # --tmpfs takes raw mount options (nr_inodes=...), --mount does not
        cmd += ["--tmpfs", tmpfs]
    if hostname:
        cmd += ["--hostname", hostname]
    if wheelhouse:
        cmd += ["-v", f"{WHEELHOUSE}:/wheels:ro", "-e", "PIP_NO_INDEX=1"]
        cmd += ["-e", "PIP_FIND_LINKS=/wheels"]
    for k, v in (env or {}).items():
        cmd += ["-e", f"{k}={v}"]
    port = None
    if serve:
        port = free_port()
        cmd += ["-p", f"127.0.0.1:{port}:8000"]
        args = ["--rp_serve_api", "--rp_api_host", "0.0.0.0", "--rp_api_port", "8000", *args]
    elif network:
        cmd += ["--network", network]
    res = subprocess.run([*cmd, image, *args], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return Container(name, port)


def remove_all() -> None:
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={LABEL}"], capture_output=True, text=True
    ).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


def lock_sha() -> str:
    return hashlib.sha256(boot.BUNDLED_LOCK.read_bytes()).hexdigest()


def ensure_wheelhouse(image: str) -> None:
    """Download the lock's wheels once per machine into WHEELHOUSE (network, through the CA)."""
    done = WHEELHOUSE / f".complete-{lock_sha()[:16]}"
    if done.exists():
        return
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    cmd = ["docker", "run", "--rm", "--label", LABEL, "--entrypoint", "bash"]
    cmd += ["-v", f"{WHEELHOUSE}:/wheels"]
    if os.path.exists(HOST_CA):
        cmd += ["-v", f"{HOST_CA}:/etc/worker-ca.crt:ro", "-e", "PIP_CERT=/etc/worker-ca.crt"]
    script = (
        "python3 -m venv /tmp/v && /tmp/v/bin/python -m pip download --no-deps --progress-bar off"
        " -r /app/worker/requirements/f5tts.lock -d /wheels"
    )
    res = subprocess.run([*cmd, image, "-c", script], capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    done.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))


def volume_problems(volume: Path, allow_leftovers: bool = False) -> list[str]:
    """What on the volume a later start could wrongly trust (or, unless allowed, has left over)."""
    venvs = volume / "venvs"
    problems = []
    if not venvs.exists():
        return problems
    for p in venvs.iterdir():
        if p.name == ".leases":
            continue  # who runs on which venv: kept on purpose
        if KEY_RE.match(p.name):
            try:
                marker = json.loads((p / MARKER).read_text())
            except (OSError, ValueError) as exc:
                problems.append(f"{p.name}: venv dir without a valid marker ({exc})")
                continue
            if marker.get("key") != p.name:
                problems.append(f"{p.name}: marker key {marker.get('key')}")
        elif not allow_leftovers:
            problems.append(f"leftover {p.name}")
    return problems


def rm_root_owned(path: Path) -> None:
    """Files made in containers are root-owned; the tests run as root here."""
    shutil.rmtree(path, ignore_errors=True)


def harness_volume() -> Path:
    """The host folder the reference harness.toml mounts as the network volume."""
    from harness.config import load_config

    cfg = load_config(REPO / "harness.toml")
    return next(cfg.path(m.source) for m in cfg.run.mounts if m.target == "/runpod-volume")


def share_venvs(volume: Path, dest: Path) -> list[str]:
    """Hard-link the complete venvs of `volume` into `dest`'s venvs/ where `dest` lacks them.

    CI time, not correctness: the chain above pays for one real install; the reference-worker
    harness tests and the perf gate mount `dest` and would otherwise install the same lock again.
    Inside containers both volumes are /runpod-volume, so the venv's paths stay the same.
    """
    shared = []
    for venv in sorted((volume / "venvs").glob("*")):
        target = dest / "venvs" / venv.name
        if not KEY_RE.match(venv.name) or target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".tmp-{venv.name}-shared"
        subprocess.run(["cp", "-al", str(venv), str(staging)], check=True)
        staging.rename(target)
        shared.append(venv.name)
    return shared
