"""The real build tools of the venv store: python -m venv, uv or pip, the import check, freeze.

Standard library only. `PipTools` is what boot hands to `venvs.Store` (the model test hands it a
simulated one instead).
"""

from __future__ import annotations

import collections
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from worker import pipfail, uvrun
from worker.buildlock import BuildLock, Heartbeat
from worker.installwatch import INTERVAL_S, Ticker
from worker.phases import PhaseError, emit
from worker.sweep import MARKER
from worker.venvs import InstallFailed, Verdict

IMPORT_CHECK_S = 300.0
_CHECK_CODE = "import importlib,sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
_BROKEN_LAUNCH = (2, 8, 13)  # ENOENT, ENOEXEC, EACCES: the venv's python cannot run at all


def import_check(
    python: Path,
    modules: Sequence[str],
    timeout: float = IMPORT_CHECK_S,
    write_bytecode: bool = False,
) -> Verdict:
    """ok when every module imports in the venv; broken when one fails; unknown when the check
    could not finish (a timeout on a slow volume says nothing about the venv).

    `write_bytecode` (a venv not sealed yet): the modules it imports leave their .pyc files, so
    the worker, which runs with PYTHONDONTWRITEBYTECODE, does not compile them again at every
    start (uv, unlike pip, compiles nothing at install)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if write_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        res = subprocess.run(
            [str(python), "-c", _CHECK_CODE, *modules],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            env=env,
        )
    except subprocess.TimeoutExpired:
        return Verdict("unknown", f"import check timed out after {timeout:.0f} s")
    except OSError as exc:
        kind = "broken" if exc.errno in _BROKEN_LAUNCH else "unknown"
        return Verdict(kind, f"import check could not run: {exc}")
    if res.returncode < 0:  # killed (OOM, a signal): says nothing about the venv
        return Verdict("unknown", f"import check killed by signal {-res.returncode}")
    if res.returncode != 0:
        tail = "\n".join(res.stderr.strip().splitlines()[-5:])
        return Verdict("broken", f"import check failed: {tail}")
    return Verdict("ok")


def stream_pip(
    cmd: list[str],
    total: int,
    tail: collections.deque[str],
    tmpdir: Path,
    env: Mapping[str, str] | None = None,
    prefix: str = "pip",
    interval_s: float = INTERVAL_S,
    watch: Mapping[str, Path] | None = None,
) -> int:
    """Run pip (or uv), echo its output to stderr, emit a progress line every `interval_s` (also
    while it prints nothing: a `Ticker` thread, with the bytes on disk of `watch`); its exit code.

    pip keeps every downloaded wheel (~4 GB for the real lock) in TMPDIR until it installs; that
    goes on the volume (inside the build dir), so the disk phase's check covers it and a small
    container disk does not fill up."""
    tmpdir.mkdir(exist_ok=True)
    env = {**(os.environ if env is None else env), "TMPDIR": str(tmpdir)}
    seen = {"installer": prefix, "collected": 0, "total": total, "last": ""}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env
    )
    try:
        assert proc.stdout is not None
        with Ticker("installing", interval_s=interval_s, watch=watch, fields=lambda: dict(seen)):
            for line in proc.stdout:
                tail.append(line.rstrip())
                sys.stderr.write(f"{prefix}| {line}")
                if line.startswith(("Collecting ", "Processing ")):  # index / --find-links
                    seen["collected"] = int(seen["collected"]) + 1
                seen["last"] = line.strip()[:120]
            return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@dataclass
class PipTools:
    lock: Path
    modules: Sequence[str]
    environ: Mapping[str, str]
    installer: str = "pip"  # auto: uv when it can be installed, else pip; uv; pip
    uv_cache: Path | None = None  # uv's cache (on the volume, so wheels are shared across locks)
    progress_s: float = INTERVAL_S  # seconds between the install's progress lines

    def create(self, tmp: Path) -> None:
        res = subprocess.run(
            [sys.executable, "-m", "venv", str(tmp)], capture_output=True, text=True
        )
        if res.returncode != 0:
            raise PhaseError(
                "venv",
                "python -m venv failed",
                "use a base image with the venv module (Debian: python3-venv)",
                stderr=res.stderr.strip().splitlines()[-5:],
            )

    def install(self, tmp: Path) -> Iterator[None]:
        """Install the lock --no-deps (blocking; yields nothing: the heartbeat is a thread).

        uv first when the installer setting allows it; pip when uv cannot be had (`auto`) or
        when uv's install failed (`auto`: pip then says what is wrong, in the words the
        failure classes know)."""
        total = sum(
            1 for ln in self.lock.read_text().splitlines() if ln.strip() and not ln.startswith("#")
        )
        why_not_uv = ""
        if self.installer != "pip":
            installed, why_not_uv = self._install_with_uv(tmp, total)
            if installed:
                return
        extra = {"reason": why_not_uv} if why_not_uv else {}
        emit("venv", "progress", step="install", installer="pip", packages=total, **extra)
        tail: collections.deque[str] = collections.deque(maxlen=15)
        cmd = [str(tmp / "bin" / "python"), "-m", "pip", "install", "--no-deps"]
        cmd += ["--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
        rc = stream_pip(
            [*cmd, "-r", str(self.lock)],
            total,
            tail,
            tmp / ".pip-tmp",
            interval_s=self.progress_s,
            watch={"venv_bytes": tmp},
        )
        shutil.rmtree(tmp / ".pip-tmp", ignore_errors=True)
        if rc != 0:
            free = shutil.disk_usage(tmp.parent).free
            failure = pipfail.classify("\n".join(tail), free)
            index = pipfail.index_url(self.environ)
            no_index = self.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on")
            reach = None
            if pipfail.is_vague(failure) and not no_index:
                reach = pipfail.index_problem(index)
            if reach:  # pip says "no versions" without a connection error when retries are off
                failure = pipfail.classify(reach)
            raise InstallFailed(
                failure,
                pip_exit=rc,
                index=index,
                index_check=reach,
                free_bytes=free,
                pip_tail=list(tail),
            )
        yield from ()

    def _install_with_uv(self, tmp: Path, total: int) -> tuple[bool, str]:
        """(True, "") when uv installed the lock; (False, why) to go on with pip (`auto`)."""
        python = tmp / "bin" / "python"
        uv, why = uvrun.bootstrap(python, progress_s=self.progress_s)
        if uv is None:
            if self.installer == "uv":
                raise PhaseError("venv", why, "set WORKER_INSTALLER=pip or make uv installable")
            return False, why
        cache = self.uv_cache or tmp.parent / ".uv-cache"
        emit("venv", "progress", step="install", installer="uv", packages=total, cache=str(cache))
        tail: collections.deque[str] = collections.deque(maxlen=15)
        cmd = uvrun.install_command(uv, python, self.lock, self.environ)
        env = uvrun.uv_env(self.environ, cache)
        watch = {"venv_bytes": tmp, "cache_bytes": cache}
        rc = stream_pip(
            cmd, total, tail, tmp / ".pip-tmp", env=env, prefix="uv",
            interval_s=self.progress_s, watch=watch,
        )  # fmt: skip
        shutil.rmtree(tmp / ".pip-tmp", ignore_errors=True)
        if rc == 0:
            return True, ""
        free = shutil.disk_usage(tmp.parent).free
        if self.installer == "uv" or free < pipfail.DISK_FULL_BYTES:
            failure = pipfail.classify("\n".join(tail), free)
            raise InstallFailed(failure, uv_exit=rc, free_bytes=free, uv_tail=list(tail))
        return False, f"uv failed (exit {rc}): {tail[-1] if tail else ''}"[:300]

    def import_check(self, venv: Path) -> Verdict:
        """A sealed venv is only read; one being built keeps the bytecode its check compiles."""
        unsealed = not (venv / MARKER).exists()
        return import_check(venv / "bin" / "python", self.modules, write_bytecode=unsealed)

    def freeze_digest(self, venv: Path) -> str:
        freeze = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
        ).stdout
        return hashlib.sha256(freeze.encode()).hexdigest()

    def heartbeat(self, lock: BuildLock) -> Heartbeat:
        return Heartbeat(lock)
