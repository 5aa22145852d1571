"""Synthetic runpod workers in temporary git repositories, for harness tests (real Docker).

A "runpod base" image (local Python base + a venv with runpod==1.12.0) is built once per machine
and reused; each synthetic worker repo builds FROM it in seconds. The worker's behaviour is set by
knobs in `knobs.json` (read by the fixed handler.py at start-up) and, for image-level knobs, by the
Dockerfile text, so each commit can change exactly one thing:

    repo = make_worker_repo(tmp_path)            # first commit: a healthy worker
    slow = repo.commit("slow requests", request_delay_s=0.2)
    cfg = harness_config(repo)                   # Config (and repo.config_path, a harness.toml)

Knobs (defaults in DEFAULT_KNOBS): import_error, startup_sleep_s, request_delay_s, lazy_load_s,
fail_requests, exit_code, alloc_mb; extra_mb (ballast file in the image), broken_dockerfile,
from_image.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import Config, load_config
from harness.dockercli import buildkit_cli

LOCAL_PYTHON = os.environ.get("HARNESS_TEST_PYTHON_IMAGE", "local/python:3.11-slim-bookworm")
RUNPOD_BASE = "harness-test/runpod-base:1.12.0"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

DEFAULT_KNOBS: dict[str, Any] = {
    "import_error": False,  # start-up fails in the "imports" phase (exit 14), like a bad venv
    "startup_sleep_s": 0.0,  # sleep before serving (slow start)
    "request_delay_s": 0.02,  # per-request work
    "lazy_load_s": 0.0,  # extra sleep on the first request only (lazy model load)
    "fail_requests": False,  # the handler returns {"error": ...}: the job is FAILED
    "exit_code": 0,  # != 0: exit with it before serving, after a fail phase line ("serve")
    "alloc_mb": 0,  # each request allocates (and writes) this many MiB, held until exit
}
IMAGE_KNOBS = {"extra_mb": 0, "broken_dockerfile": False, "from_image": RUNPOD_BASE}

HANDLER_PY = '''\
"""Synthetic runpod worker for harness tests; behaviour comes from knobs.json."""
import json, os, sys, time

T0 = time.monotonic()
KNOBS = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "knobs.json")))


def phase(name, status, **fields):
    line = {"phase": name, "status": status, "elapsed_ms": round((time.monotonic() - T0) * 1000)}
    line.update(fields)
    print(json.dumps(line), flush=True)


if KNOBS["import_error"]:
    phase("imports", "fail", exit_code=14, cause="No module named 'not_installed'",
          remedy="rebuild the venv", details={})
    sys.exit(14)
import runpod  # noqa: E402

phase("imports", "ok")
time.sleep(KNOBS["startup_sleep_s"])
if KNOBS["exit_code"]:
    phase("serve", "fail", exit_code=KNOBS["exit_code"], cause="told to exit",
          remedy="", details={})
    sys.exit(KNOBS["exit_code"])
STATE = {"loaded": False}


def handler(job):
    t = time.monotonic()
    load_s = 0.0
    if not STATE["loaded"]:
        time.sleep(KNOBS["lazy_load_s"])
        load_s = time.monotonic() - t
        STATE["loaded"] = True
    if KNOBS["fail_requests"]:
        return {"error": "synthetic failure (fail_requests knob)"}
    if KNOBS["alloc_mb"]:  # written, so every page is really resident, not a zero mapping
        STATE["held"] = b"x" * (KNOBS["alloc_mb"] << 20)
    time.sleep(KNOBS["request_delay_s"])
    text = str(job["input"].get("text", ""))
    return {"echo": text[::-1], "timings": {"load_s": round(load_s, 4),
            "total_s": round(time.monotonic() - t, 4)}}


phase("ready", "ok")
runpod.serverless.start({"handler": handler})
'''


def dockerfile_text(extra_mb: int, broken_dockerfile: bool, from_image: str) -> str:
    """The worker's Dockerfile for the image-level knobs."""
    lines = [f"FROM {from_image}", "WORKDIR /app"]
    if extra_mb:
        lines.append(f"RUN head -c {int(extra_mb)}M /dev/urandom > /app/ballast.bin")
    if broken_dockerfile:
        lines.append("RUN echo 'synthetic broken build' >&2 && false")
    lines += [
        "COPY handler.py knobs.json test_input.json /app/",
        'ENTRYPOINT ["/opt/venv/bin/python", "-u", "/app/handler.py"]',
    ]
    return "\n".join(lines) + "\n"


def ensure_runpod_base(tag: str = RUNPOD_BASE) -> str:
    """Build the runpod base image once per machine (reused when present); returns its tag."""
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0:
        return tag
    dockerfile = (
        f"FROM {LOCAL_PYTHON}\n"
        "RUN python3 -m venv /opt/venv\n"
        "RUN --mount=type=secret,id=ca,target=/run/secrets/ca PIP_CERT=/run/secrets/ca "
        "/opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check runpod==1.12.0\n"
    )
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "Dockerfile").write_text(dockerfile)
        proc = subprocess.run(
            [buildkit_cli(), "build", "--secret", f"id=ca,src={CA_BUNDLE}", "-t", tag, ctx],
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"building {tag} failed:\n{proc.stderr[-3000:]}")
    return tag


@dataclass
class WorkerRepo:
    """A temp git repo holding one synthetic worker; `commit` changes knobs and commits."""

    path: Path
    knobs: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_KNOBS))
    image_knobs: dict[str, Any] = field(default_factory=lambda: dict(IMAGE_KNOBS))
    config_path: Path | None = None

    def git(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Synthetic",
            "GIT_AUTHOR_EMAIL": "synthetic@example.invalid",
            "GIT_COMMITTER_NAME": "Synthetic",
            "GIT_COMMITTER_EMAIL": "synthetic@example.invalid",
        }
        proc = subprocess.run(
            ["git", "-C", str(self.path), *args], capture_output=True, text=True, env=env
        )
        if proc.returncode != 0:
            raise RuntimeError(f"git {args}: {proc.stderr}")
        return proc.stdout.strip()

    def write(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "handler.py").write_text(HANDLER_PY)
        (self.path / "knobs.json").write_text(json.dumps(self.knobs, indent=1, sort_keys=True))
        (self.path / "test_input.json").write_text(json.dumps({"input": {"text": "hello"}}))
        (self.path / "Dockerfile").write_text(dockerfile_text(**self.image_knobs))

    def commit(self, message: str, **changes: Any) -> str:
        """Apply knob changes (unknown names are an error), commit everything, return the sha."""
        for name, value in changes.items():
            if name in self.knobs:
                self.knobs[name] = value
            elif name in self.image_knobs:
                self.image_knobs[name] = value
            elif name == "files":  # arbitrary extra files: {"path": "text"}
                for rel, text in value.items():
                    (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
                    (self.path / rel).write_text(text)
            else:
                raise ValueError(f"unknown synthetic knob {name!r}")
        self.write()
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    @property
    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def make_worker_repo(tmp_path: Path, name: str = "synthworker", **knobs: Any) -> WorkerRepo:
    """A new repo at tmp_path/name with one commit of a healthy worker (plus `knobs`)."""
    ensure_runpod_base()
    repo = WorkerRepo(Path(tmp_path) / name)
    repo.path.mkdir(parents=True)
    repo.git("init", "-q", "-b", "main")
    repo.commit("healthy worker", **knobs)
    return repo


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    raise TypeError(f"cannot write {value!r} as TOML")


def harness_config(
    repo: WorkerRepo, *, results_dir: Path | None = None, **sections: dict[str, Any]
) -> Config:
    """Write a harness.toml for `repo` beside it (repo.config_path) and return it loaded.

    Keyword sections override/extend the test defaults, e.g. limits={"image_hard_bytes": 1000}.
    Results go to results_dir (default: <repo>/../results), baselines to <repo>/../baselines.
    """
    data: dict[str, dict[str, Any]] = {
        "build": {"tag_prefix": "harness-test"},
        "run": {"ready_timeout_s": 60, "request_timeout_s": 30},
        "measure": {
            "samples": 5,
            "compressed_size": False,
            "results_dir": results_dir or repo.path.parent / "results",
            "baselines_dir": repo.path.parent / "baselines",
        },
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    text = "".join(
        f"[{name}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items())
        for name, values in data.items()
    )
    path = repo.path.parent / f"{repo.path.name}.harness.toml"
    path.write_text(text)
    repo.config_path = path
    return load_config(path)


def remove_images(prefix: str = "harness-test/") -> None:
    """Remove every image tagged under `prefix` except the runpod base (tests clean up)."""
    out = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True
    ).stdout.split()
    tags = [t for t in out if t.startswith(prefix) and not t.startswith(RUNPOD_BASE.split(":")[0])]
    if tags:
        subprocess.run(["docker", "rmi", "-f", *tags], capture_output=True)
