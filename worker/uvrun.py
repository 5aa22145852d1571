"""Installing the lock with uv instead of pip: same lock, same `--no-deps`, same index settings.

Standard library only. uv downloads in parallel and keeps its cache on the volume, so the first
install takes about a minute instead of three (pip) and a new lock re-links the wheels it shares
with the old one in seconds. uv itself is pip-installed into the new venv first (one ~20 MB
wheel, through the same PIP_* settings); when that cannot be done, the caller falls back to pip.

pip's settings are translated, not copied: uv reads its own variables (UV_*) and not pip.conf.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

from worker.installwatch import INTERVAL_S, Ticker

UV_VERSION = "0.13.9"
TRUE = {"1", "true", "yes", "on"}


def _words(value: str | None) -> list[str]:
    """pip reads list-valued variables (PIP_FIND_LINKS, PIP_EXTRA_INDEX_URL) as space-separated."""
    return shlex.split(value) if value else []


def index_args(environ: Mapping[str, str]) -> list[str]:
    """Pure: pip's index settings from the environment -> uv's command-line flags."""
    args: list[str] = []
    if environ.get("PIP_INDEX_URL"):
        args += ["--index-url", environ["PIP_INDEX_URL"]]
    for url in _words(environ.get("PIP_EXTRA_INDEX_URL")):
        args += ["--extra-index-url", url]
    for place in _words(environ.get("PIP_FIND_LINKS")):
        args += ["--find-links", place]
    if environ.get("PIP_NO_INDEX", "").lower() in TRUE:
        args.append("--no-index")
    return args


def uv_env(environ: Mapping[str, str], cache: Path) -> dict[str, str]:
    """Pure: the environment uv runs in (cache on the volume; pip's CA bundle when one is set)."""
    env = dict(environ)
    env["UV_CACHE_DIR"] = str(cache)
    env["UV_NO_PROGRESS"] = "1"  # progress bars are noise in a log
    env["UV_PYTHON_DOWNLOADS"] = "never"  # the venv's interpreter is the one to use
    if "SSL_CERT_FILE" not in env and env.get("PIP_CERT"):
        env["SSL_CERT_FILE"] = env["PIP_CERT"]
    return env


def install_command(uv: Path, python: Path, lock: Path, environ: Mapping[str, str]) -> list[str]:
    """Pure: the uv command that installs `lock` into the venv of `python`, as pip would."""
    cmd = [str(uv), "pip", "install", "--python", str(python), "--no-deps"]
    return [*cmd, *index_args(environ), "-r", str(lock)]


def bootstrap(
    python: Path, timeout_s: float = 180.0, progress_s: float = INTERVAL_S
) -> tuple[Path | None, str]:
    """pip-install uv into the venv of `python`; (its uv binary, "") or (None, why not).

    Up to `timeout_s` with no output of its own: progress lines every `progress_s` meanwhile."""
    cmd = [str(python), "-m", "pip", "install", "--no-deps", "--disable-pip-version-check"]
    cmd += ["--no-input", "--retries", "1", "--timeout", "30", f"uv=={UV_VERSION}"]
    fields = {"installer": "pip", "package": f"uv=={UV_VERSION}"}
    try:
        with Ticker("installing-uv", interval_s=progress_s, fields=lambda: fields):
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"installing uv failed: {exc}"
    uv = python.parent / "uv"
    if res.returncode != 0 or not uv.exists():
        tail = " | ".join((res.stderr or res.stdout).strip().splitlines()[-2:])
        return None, f"installing uv failed (pip exit {res.returncode}): {tail[:300]}"
    return uv, ""
