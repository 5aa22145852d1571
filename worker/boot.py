"""Boot program: the image's entry point. Standard library only (it runs on the bare image Python).

Phases (one JSON line each, see worker.phases): env -> volume -> disk -> venv, then
os.execv of the venv's Python with `-m worker ARGS...`, so the process that loads the model warm
is the process that serves. Every failure ends with one line naming phase, cause and remedy, and
the phase's exit code.

The venv lives on the volume at <volume>/venvs/<key>, key = sha256(lock bytes + Python
implementation/version + interpreter path)[:16]. Correctness does not rest on the build lock:
a venv is built in <volume>/venvs/.tmp-<key>-<random>, its marker file is written last, and it is
renamed into place (rename onto a non-empty directory fails, so two builders cannot mix). The lock
(an atomically created directory with an owner file whose mtime is a heartbeat) only keeps two
containers from doing the same multi-minute install; flock is not used because network volumes
make it unreliable and a SIGKILLed holder must be detectable.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from worker.phases import PhaseError, emit, fail
from worker.settings import SettingError, Settings

APP_DIR = Path(__file__).resolve().parent.parent
BUNDLED_LOCK = Path(__file__).resolve().parent / "requirements" / "f5tts.lock"
DEFAULT_PROBE = ("torch", "f5_tts", "runpod")
MARKER = ".worker-venv.json"
KEY_RE = re.compile(r"^[0-9a-f]{16}$")
PROBE_RE = re.compile(r"^#\s*probe:\s*(.+)$", re.MULTILINE)
MIN_PYTHON = (3, 10)


# ---------------------------------------------------------------- pure parts


def venv_key(lock_bytes: bytes, implementation: str, version: str, executable: str) -> str:
    """The venv's name: it changes when the lock or the interpreter that runs it changes."""
    h = hashlib.sha256()
    for part in (lock_bytes, implementation.encode(), version.encode(), executable.encode()):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:16]


def probe_modules(lock_text: str) -> tuple[str, ...]:
    """Modules the import probe imports: a `# probe: a, b` line in the lock, else the default."""
    match = PROBE_RE.search(lock_text)
    if not match:
        return DEFAULT_PROBE
    names = tuple(n for n in re.split(r"[\s,]+", match.group(1).strip()) if n)
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", n)]
    if bad or not names:
        raise ValueError(f"lock's '# probe:' line names no valid modules: {match.group(1)!r}")
    return names


def is_stale(heartbeat_mtime: float, volume_now: float, stale_s: float) -> bool:
    """A build lock is stale when its heartbeat is older than stale_s, both times by the volume's
    clock (so clock skew between containers does not matter)."""
    return volume_now - heartbeat_mtime > stale_s


def marker_problem(marker: Any, key: str, lock_sha256: str) -> str | None:
    """Why a parsed marker does not vouch for venv `key` built from this lock (None: it does)."""
    if not isinstance(marker, dict):
        return "marker is not a JSON object"
    if marker.get("key") != key:
        return f"marker key {marker.get('key')!r} != {key!r}"
    if marker.get("lock_sha256") != lock_sha256:
        return "marker was written for a different lock"
    if not isinstance(marker.get("freeze_sha256"), str) or not marker.get("freeze_sha256"):
        return "marker has no pip freeze digest"
    return None


def venvs_to_prune(last_used: dict[str, float], keep: int, in_use: str) -> list[str]:
    """Venv keys to remove so at most `keep` remain, oldest last use first, never `in_use`."""
    others = sorted((t, k) for k, t in last_used.items() if k != in_use)
    excess = len(last_used) - max(keep, 1)
    return [k for _, k in others[: max(excess, 0)]]


def classify_pip_failure(output: str) -> tuple[str, str]:
    """(cause, remedy) for a failed `pip install`, read from pip's output."""
    text = output.lower()
    if "no space left on device" in text or "errno 28" in text:
        return (
            "disk full during the install (No space left on device)",
            "give the volume more free space (a full install needs ~8 GB plus pip's temp files) "
            "or remove old venvs under <volume>/venvs",
        )
    if "certificate_verify_failed" in text or "sslerror" in text:
        return (
            "TLS verification of the package index failed",
            "mount the proxy's CA bundle and set PIP_CERT to it "
            "(-v /etc/ssl/certs/ca-certificates.crt:/etc/worker-ca.crt:ro -e PIP_CERT=...)",
        )
    network = (
        "failed to establish a new connection",
        "temporary failure in name resolution",
        "name or service not known",
        "network is unreachable",
        "connection refused",
        "connection reset",
        "proxyerror",
        "read timed out",
        "connecttimeout",
    )
    if any(s in text for s in network):
        return (
            "package index unreachable (network)",
            "give the container network access to the index (PIP_INDEX_URL), or start once "
            "where it has network so the venv is built on the volume",
        )
    if "hashes are required" in text or "do not match the hashes" in text:
        return ("a downloaded package did not match its hash", "regenerate the lock; retry")
    if (
        "resolutionimpossible" in text
        or "could not find a version that satisfies" in text
        or "no matching distribution" in text
    ):
        return (
            "a pinned package could not be found for this Python/platform (resolution error)",
            "regenerate the lock with scripts/lock.sh for this Python version and platform",
        )
    return ("pip install failed", "read pip's last lines in details")


def index_url(env: dict[str, str] | os._Environ[str]) -> str:
    """The index pip uses: PIP_INDEX_URL, else PyPI (pip's own default)."""
    return (env.get("PIP_INDEX_URL") or "https://pypi.org/simple").strip()


def index_problem(url: str, timeout: float = 5.0) -> str | None:
    """Why a TCP connection to the index's host fails (in pip's words), or None when it opens."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None  # file:// or odd: nothing to probe
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return None
    except socket.gaierror as exc:
        return f"{parsed.hostname}: Temporary failure in name resolution ({exc})"
    except ConnectionRefusedError:
        return f"{parsed.hostname}:{port}: Connection refused"
    except OSError as exc:
        return f"{parsed.hostname}:{port}: Failed to establish a new connection: {exc}"


# ---------------------------------------------------------------- file-system helpers


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_tree(path: Path) -> None:
    """Remove a directory: rename it to a trash name first so a half-removed tree never keeps a
    name anyone trusts."""
    if not path.exists():
        return
    trash = path.with_name(f".trash-{path.name}-{secrets.token_hex(4)}")
    try:
        os.rename(path, trash)
    except OSError:
        trash = path
    shutil.rmtree(trash, ignore_errors=True)


def volume_now(directory: Path) -> float:
    """The volume's clock: the mtime of a file just written there."""
    probe = directory / f".clock-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    probe.write_bytes(b"")
    try:
        return probe.stat().st_mtime
    finally:
        probe.unlink(missing_ok=True)


def probe_write(directory: Path) -> None:
    """Write, fsync and remove a file in `directory` (raises OSError when it cannot)."""
    probe = directory / f".write-probe-{socket.gethostname()}-{os.getpid()}"
    fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"probe\n" * 128)
        os.fsync(fd)
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            probe.unlink()


# ---------------------------------------------------------------- build lock


@dataclass
class BuildLock:
    """An atomically created lock directory <venvs>/<key>.lock holding owner.json (heartbeat)."""

    path: Path
    stale_s: float
    token: str = ""
    lost: bool = False
    _stop: threading.Event | None = None
    _thread: threading.Thread | None = None

    @property
    def owner_file(self) -> Path:
        return self.path / "owner.json"

    def try_acquire(self) -> bool:
        try:
            os.mkdir(self.path)
        except FileExistsError:
            return False
        self.token = secrets.token_hex(8)
        owner = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": time.time(),
            "token": self.token,
        }
        tmp = self.path / f".owner-{self.token}"
        tmp.write_text(json.dumps(owner))
        os.rename(tmp, self.owner_file)
        self._start_heartbeat()
        return True

    def owner(self) -> dict[str, Any]:
        try:
            return json.loads(self.owner_file.read_text())
        except (OSError, ValueError):
            return {}

    def heartbeat_mtime(self) -> float | None:
        """mtime of the owner file (or the directory, if the owner died before writing it)."""
        for p in (self.owner_file, self.path):
            with contextlib.suppress(FileNotFoundError):
                return p.stat().st_mtime
        return None

    def take_over_if_stale(self, now: float) -> bool:
        """Move a stale lock away (atomic rename); True when this call moved it."""
        beat = self.heartbeat_mtime()
        if beat is None or not is_stale(beat, now, self.stale_s):
            return False
        aside = self.path.with_name(f"{self.path.name}.stale-{secrets.token_hex(4)}")
        try:
            os.rename(self.path, aside)
        except OSError:
            return False  # someone else moved it first
        shutil.rmtree(aside, ignore_errors=True)
        return True

    def _start_heartbeat(self) -> None:
        interval = max(0.5, min(5.0, self.stale_s / 5))
        self._stop = threading.Event()

        def beat() -> None:
            assert self._stop is not None
            while not self._stop.wait(interval):
                if self.owner().get("token") != self.token:
                    self.lost = True
                    return
                with contextlib.suppress(OSError):
                    os.utime(self.owner_file)

        self._thread = threading.Thread(target=beat, name="lock-heartbeat", daemon=True)
        self._thread.start()

    def release(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.token and self.owner().get("token") == self.token:
            _remove_tree(self.path)
        self.token = ""


# ---------------------------------------------------------------- phases


class Terminated(Exception):
    """SIGTERM arrived (docker stop / scale-down) while the boot program was working."""


def _on_sigterm(signum: int, frame: object) -> NoReturn:
    raise Terminated()


def phase_env(env: dict[str, str]) -> tuple[Settings, Path, bytes]:
    """Settings, the lock file and its bytes; the interpreter."""
    if sys.version_info < MIN_PYTHON:
        raise PhaseError(
            "env",
            f"Python {platform.python_version()} is too old",
            f"use a base image with Python >= {'.'.join(map(str, MIN_PYTHON))}",
        )
    try:
        settings = Settings.from_env(env)
    except SettingError as exc:
        raise PhaseError("env", str(exc), "fix that environment variable") from None
    lock = Path(settings.lock) if settings.lock else BUNDLED_LOCK
    try:
        lock_bytes = lock.read_bytes()
    except OSError as exc:
        raise PhaseError(
            "env",
            f"lock file {lock} cannot be read: {exc.strerror}",
            "set WORKER_LOCK to a readable lock file, or unset it to use the bundled one",
        ) from None
    try:
        probe_modules(lock_bytes.decode("utf-8", "replace"))
    except ValueError as exc:
        raise PhaseError("env", str(exc), "fix the lock's '# probe:' line") from None
    emit(
        "env",
        "ok",
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        executable=os.path.realpath(sys.executable),
        platform=platform.platform(),
        machine=platform.machine(),
        cpus=os.cpu_count(),
        host=socket.gethostname(),
        lock=str(lock),
    )
    return settings, lock, lock_bytes


def _check_dir(path: Path) -> None:
    if not path.exists():
        raise PhaseError(
            "volume",
            f"volume {path} does not exist",
            "attach a network volume to the endpoint (mounted at /runpod-volume), or set "
            "WORKER_VOLUME to a writable directory; WORKER_VOLUME_FALLBACK=<dir> runs without one",
        )
    if not path.is_dir():
        raise PhaseError(
            "volume", f"volume {path} is not a directory", "point WORKER_VOLUME at a directory"
        )
    try:
        probe_write(path)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise PhaseError(
                "disk",
                f"volume {path} is full: cannot write even a probe file",
                "free space on the volume or use a bigger one",
                free_bytes=shutil.disk_usage(path).free,
            ) from None
        kind = "read-only" if exc.errno == errno.EROFS else "not writable"
        raise PhaseError(
            "volume",
            f"volume {path} is {kind}: {exc.strerror}",
            "mount the volume read-write (the venv and model cache are written there)",
            errno=errno.errorcode.get(exc.errno or 0, str(exc.errno)),
        ) from None


def phase_volume(settings: Settings) -> Path:
    path = Path(settings.volume)
    try:
        _check_dir(path)
    except PhaseError as err:
        if not settings.volume_fallback or err.phase != "volume":
            raise
        fallback = Path(settings.volume_fallback)
        emit(
            "volume",
            "warn",
            message=f"NO VOLUME: {err.cause}; using WORKER_VOLUME_FALLBACK={fallback}. The venv "
            "and models live in the container and are rebuilt on every cold start.",
        )
        with contextlib.suppress(OSError):
            fallback.mkdir(parents=True, exist_ok=True)
        _check_dir(fallback)
        path = fallback
    usage = shutil.disk_usage(path)
    emit(
        "volume",
        "ok",
        path=str(path),
        mount_point=os.path.ismount(path),
        total_bytes=usage.total,
        free_bytes=usage.free,
    )
    return path


def phase_disk(volume: Path, needed: int, build: bool) -> None:
    free = shutil.disk_usage(volume).free
    if build and free < needed:
        raise PhaseError(
            "disk",
            f"volume has {free / 1e9:.2f} GB free, the venv install needs {needed / 1e9:.2f} GB",
            "use a bigger network volume, remove old venvs under <volume>/venvs, or lower "
            "WORKER_INSTALL_BYTES if you know the install is smaller",
            free_bytes=free,
            needed_bytes=needed,
        )
    emit("disk", "ok", free_bytes=free, needed_bytes=needed if build else 0, install=build)


def _run_probe(python: Path, modules: Sequence[str], timeout: float = 300) -> str | None:
    """None when every module imports in the venv, else why not (last lines of the error)."""
    code = "import importlib,sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    try:
        res = subprocess.run(
            [str(python), "-c", code, *modules],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"import probe could not run: {exc}"
    if res.returncode != 0:
        tail = "\n".join(res.stderr.strip().splitlines()[-5:])
        return f"import probe failed: {tail}"
    return None


def check_venv(path: Path, key: str, lock_sha: str, modules: Sequence[str]) -> str | None:
    """None when the venv at `path` can be used, else what is wrong with it."""
    if not path.is_dir():
        return "absent"
    try:
        marker = json.loads((path / MARKER).read_text())
    except FileNotFoundError:
        return "no marker (install never finished)"
    except (OSError, ValueError) as exc:
        return f"unreadable marker: {exc}"
    problem = marker_problem(marker, key, lock_sha)
    if problem:
        return problem
    if not (path / "bin" / "python").exists():
        return "bin/python missing"
    return _run_probe(path / "bin" / "python", modules)


def _stream_pip(cmd: list[str], total: int, log_tail: collections.deque[str], tmpdir: Path) -> int:
    """Run pip, echo its output to stderr, emit a progress line every ~15 s; its exit code.

    pip keeps every downloaded wheel (~4 GB for the real lock) in TMPDIR until it installs; that
    goes on the volume (inside the build dir), so the disk phase's check covers it and a small
    container disk does not fill up."""
    tmpdir.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env
    )
    seen = 0
    last = time.monotonic()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            log_tail.append(line.rstrip())
            sys.stderr.write("pip| " + line)
            if line.startswith(("Collecting ", "Processing ")):  # index / --find-links
                seen += 1
            if time.monotonic() - last > 15:
                emit("venv", "progress", collected=seen, total=total, last=line.strip()[:120])
                last = time.monotonic()
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def build_venv(
    venvs: Path, key: str, lock: Path, lock_sha: str, modules: Sequence[str], lk: BuildLock
) -> Path:
    """Build the venv in a temp dir, probe it, write the marker last, rename it into place."""
    tmp = venvs / f".tmp-{key}-{secrets.token_hex(4)}"
    final = venvs / key
    try:
        t0 = time.monotonic()
        emit("venv", "progress", step="create", path=str(tmp))
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
        total = sum(
            1 for ln in lock.read_text().splitlines() if ln.strip() and not ln.startswith("#")
        )
        emit("venv", "progress", step="install", packages=total)
        tail: collections.deque[str] = collections.deque(maxlen=15)
        rc = _stream_pip(
            [
                str(tmp / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--disable-pip-version-check",
                "--no-input",
                "--progress-bar",
                "off",
                "-r",
                str(lock),
            ],
            total,
            tail,
            tmp / ".pip-tmp",
        )
        shutil.rmtree(tmp / ".pip-tmp", ignore_errors=True)
        if rc != 0:
            cause, remedy = classify_pip_failure("\n".join(tail))
            index = index_url(os.environ)
            no_index = os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on")
            vague = "resolution" in cause or cause == "pip install failed"
            reach = index_problem(index) if vague and not no_index else None
            if reach:  # pip says "no versions" without a connection error when retries are off
                cause, remedy = classify_pip_failure(reach)
            raise PhaseError(
                "venv",
                cause,
                remedy,
                pip_exit=rc,
                index=index,
                index_check=reach,
                pip_tail=list(tail),
            )
        emit("venv", "progress", step="probe", modules=list(modules))
        problem = _run_probe(tmp / "bin" / "python", modules)
        if problem:
            raise PhaseError(
                "venv", "installed venv fails its import probe", "see details", problem=problem
            )
        freeze = subprocess.run(
            [str(tmp / "bin" / "python"), "-m", "pip", "freeze", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
        ).stdout
        marker = {
            "key": key,
            "lock_sha256": lock_sha,
            "lock": str(lock),
            "python": platform.python_version(),
            "executable": os.path.realpath(sys.executable),
            "created": time.time(),
            "install_s": round(time.monotonic() - t0, 1),
            "freeze_sha256": hashlib.sha256(freeze.encode()).hexdigest(),
            "builder": lk.owner(),
        }
        mtmp = tmp / (MARKER + ".tmp")
        with open(mtmp, "w") as fh:
            json.dump(marker, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(mtmp, tmp / MARKER)
        _fsync_dir(tmp)
        if lk.lost:
            emit("venv", "warn", message="build lock was taken over by another container")
        try:
            os.rename(tmp, final)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and final.is_dir():
                emit("venv", "warn", message="another container installed it first; using that")
                return final
            raise
        _fsync_dir(venvs)
        emit("venv", "progress", step="installed", seconds=marker["install_s"])
        return final
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise PhaseError(
                "venv",
                "disk full during the install (No space left on device)",
                "give the volume more free space or remove old venvs under <volume>/venvs",
            ) from None
        raise PhaseError("venv", f"venv build failed: {exc}", "see details") from None
    finally:
        _remove_tree(tmp)


def _clean_leftovers(venvs: Path, key: str) -> list[str]:
    """Remove temp dirs of killed builds: this key's (we hold its lock), and others' whose lock
    is gone; also trash and stale-lock leftovers."""
    removed = []
    for p in venvs.iterdir():
        n = p.name
        other = n[len(".tmp-") :].split("-")[0] if n.startswith(".tmp-") else None
        if (
            other == key
            or (other is not None and not (venvs / f"{other}.lock").exists())
            or n.startswith(".trash-")
            or ".lock.stale-" in n
        ):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(n)
    return removed


def prune_venvs(venvs: Path, keep: int, in_use: str) -> list[str]:
    last_used: dict[str, float] = {}
    for p in venvs.iterdir():
        if KEY_RE.match(p.name) and p.is_dir():
            try:
                last_used[p.name] = (p / MARKER).stat().st_mtime
            except OSError:
                last_used[p.name] = 0.0
    removed = venvs_to_prune(last_used, keep, in_use)
    for k in removed:
        lk = venvs / f"{k}.lock"
        if not lk.exists():
            _remove_tree(venvs / k)
    return removed


def phase_venv(settings: Settings, volume: Path, lock: Path, lock_bytes: bytes) -> Path:
    """Find or build the venv for this lock; returns its path (disk phase runs inside)."""
    key = venv_key(
        lock_bytes,
        platform.python_implementation(),
        platform.python_version(),
        os.path.realpath(sys.executable),
    )
    lock_sha = hashlib.sha256(lock_bytes).hexdigest()
    modules = probe_modules(lock_bytes.decode("utf-8", "replace"))
    venvs = volume / "venvs"
    venvs.mkdir(exist_ok=True)
    final = venvs / key
    problem = check_venv(final, key, lock_sha, modules)
    phase_disk(volume, settings.install_bytes, build=problem is not None)
    if problem is None:
        return _use(venvs, final, key, settings, reused=True)
    emit("venv", "progress", step="need-build", key=key, reason=problem)
    lk = BuildLock(venvs / f"{key}.lock", settings.lock_stale_s)
    last_note = 0.0
    while not lk.try_acquire():
        if lk.take_over_if_stale(volume_now(venvs)):
            emit("venv", "warn", message="took over a stale build lock", key=key)
            continue
        if time.monotonic() - last_note > 15:
            emit(
                "venv", "wait", message="another container is building this venv", owner=lk.owner()
            )
            last_note = time.monotonic()
        time.sleep(1.0)
        if not (venvs / f"{key}.lock").exists() and final.is_dir():
            break  # the builder finished; check what it made below
    try:
        problem = check_venv(final, key, lock_sha, modules)
        if problem is None:
            return _use(venvs, final, key, settings, reused=True)
        if not lk.token:  # the builder left without a usable venv: build it ourselves
            return phase_venv(settings, volume, lock, lock_bytes)
        if final.exists():
            emit("venv", "warn", message=f"moving aside a broken venv: {problem}", key=key)
            _remove_tree(final)
        removed = _clean_leftovers(venvs, key)
        if removed:
            emit("venv", "progress", step="cleaned", removed=removed)
        built = build_venv(venvs, key, lock, lock_sha, modules, lk)
    finally:
        lk.release()
    return _use(venvs, built, key, settings, reused=False)


def _use(venvs: Path, path: Path, key: str, settings: Settings, reused: bool) -> Path:
    with contextlib.suppress(OSError):
        os.utime(path / MARKER)  # last use, for pruning
    pruned = prune_venvs(venvs, settings.venv_keep, key)
    emit("venv", "ok", path=str(path), key=key, reused=reused, pruned=pruned)
    return path


def exec_worker(venv: Path, volume: Path, module: str, args: Iterable[str]) -> NoReturn:
    """Replace this process with the venv's Python running the worker (same PID)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(APP_DIR), env.get("PYTHONPATH")) if p)
    env["WORKER_VOLUME"] = str(volume)  # the resolved one (fallback included)
    env["WORKER_VENV"] = str(venv)
    python = str(venv / "bin" / "python")
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(APP_DIR)
    os.execve(python, [python, "-m", module, *args], env)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    phase = "env"
    try:
        settings, lock, lock_bytes = phase_env(dict(os.environ))
        phase = "volume"
        volume = phase_volume(settings)
        phase = "venv"
        venv = phase_venv(settings, volume, lock, lock_bytes)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        exec_worker(venv, volume, settings.entry_module, args)
    except PhaseError as err:
        fail(err)
    except Terminated:
        fail(PhaseError(phase, "stopped by SIGTERM during start-up", "none needed; restart"))
    except Exception as exc:  # the last line must still name phase and cause
        fail(
            PhaseError(
                phase,
                f"unexpected {type(exc).__name__}: {exc}",
                "report this with the log; it is a bug in worker/boot.py",
            )
        )


if __name__ == "__main__":
    main()
