"""Boot program: the image's entry point. Standard library only (it runs on the bare image Python).

Phases (one JSON line each, see worker.phases): env -> volume -> disk -> venv, then os.execve of
the venv's Python with `-m worker ARGS...`, so the process that loads the model warm is the process
that serves. Every failure ends with one line naming phase, cause and remedy, and the phase's exit
code. The venv store and its protocol live in venvs.py (with buildlock.py, leases.py, volfs.py);
pip, the import check and their meaning in piprun.py and pipfail.py. This module wires them to
the real world: settings, the volume checks, sleeping, the lease keeper and the exec. An image
with a venv sealed into it (Dockerfile.baked, WORKER_BAKED_VENV; baked.py) skips the store.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import platform
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Generator, Iterable, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

from worker import baked
from worker.leases import REFRESH_S, Leases
from worker.phases import PhaseError, emit, fail
from worker.piprun import PipTools
from worker.settings import SettingError, Settings
from worker.venvs import Ready, Store, import_check_modules
from worker.volfs import VolumeFs, is_enospc

APP_DIR = Path(__file__).resolve().parent.parent
BUNDLED_LOCK = Path(__file__).resolve().parent / "requirements" / "f5tts.lock"
MIN_PYTHON = (3, 10)
WRITE_CHECK = ".write-check-"
# Names of write-check files of killed starts (this one's and the old `.write-probe-` name):
# removed once older than this many seconds.
WRITE_CHECK_LEFTOVER_S = 600
T = TypeVar("T")


class Terminated(Exception):
    """SIGTERM arrived (docker stop / scale-down) while the boot program was working."""


def _on_sigterm(signum: int, frame: object) -> NoReturn:
    raise Terminated()


# ---------------------------------------------------------------- env


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
        import_check_modules(lock_bytes.decode("utf-8", "replace"))
    except ValueError as exc:
        raise PhaseError("env", str(exc), "fix the lock's '# import-check:' line") from None
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


# ---------------------------------------------------------------- volume and disk


def write_check(directory: Path) -> None:
    """Write, fsync and remove a file with a name of its own (raises OSError when it cannot).

    The name carries host, pid and a random part: pid is 1 in every container, so a start killed
    between create and delete must not leave a name that a later start collides with. Leftovers
    of killed starts are removed once they are old."""
    path = directory / f"{WRITE_CHECK}{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"check\n" * 128)
        os.fsync(fd)
        now = os.fstat(fd).st_mtime
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            if entry.name.startswith((WRITE_CHECK, ".write-probe-")):
                with contextlib.suppress(OSError):
                    if now - entry.stat().st_mtime > WRITE_CHECK_LEFTOVER_S:
                        os.unlink(entry.path)


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
        write_check(path)
    except OSError as exc:
        if is_enospc(exc):
            raise PhaseError(
                "disk",
                f"volume {path} is full: cannot write even a small check file",
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


# ---------------------------------------------------------------- venv


def drive(steps: Generator[float, None, T]) -> T:
    """Run a protocol generator, sleeping the seconds it yields."""
    while True:
        try:
            delay = next(steps)
        except StopIteration as stop:
            return stop.value
        if delay > 0:
            time.sleep(delay)


def phase_venv(settings: Settings, volume: Path, lock: Path, lock_bytes: bytes) -> Ready:
    """Find or build the venv for this lock (the disk phase runs inside, after the first look)."""
    key = baked.key_here(lock_bytes)
    modules = import_check_modules(lock_bytes.decode("utf-8", "replace"))
    venvs = volume / "venvs"
    fs = VolumeFs(volume)
    store = Store(
        venvs=venvs,
        key=key,
        lock_sha=hashlib.sha256(lock_bytes).hexdigest(),
        fs=fs,
        tools=PipTools(
            lock,
            modules,
            os.environ,
            installer=settings.installer,
            uv_cache=volume / "cache" / "uv",
        ),
        stale_s=settings.lock_stale_s,
        keep=settings.venv_keep,
        leases=Leases(venvs, fs),
        marker_extra={
            "lock": str(lock),
            "python": platform.python_version(),
            "executable": os.path.realpath(sys.executable),
        },
    )
    try:
        return drive(store.ensure(lambda build: phase_disk(volume, settings.install_bytes, build)))
    except OSError as exc:  # the store maps what it expects; this is the volume failing
        if is_enospc(exc):
            raise PhaseError(
                "disk",
                f"volume is full ({exc.strerror})",
                "free space on the volume (remove old venvs under <volume>/venvs) or use a "
                "bigger one",
            ) from None
        raise PhaseError(
            "venv", f"volume error: {exc}", "check the volume is mounted and healthy"
        ) from None


def baked_venv(settings: Settings, volume: Path, lock: Path, lock_bytes: bytes) -> Path | None:
    """The venv sealed into the image (WORKER_BAKED_VENV) when it is set, made for this lock and
    interpreter, and whole: then the disk and venv lines say so and nothing is installed. None
    (after a warn line naming why, when one was set) sends boot to the volume's venv store."""
    if not settings.baked_venv:
        return None
    path = Path(settings.baked_venv)
    t0 = time.monotonic()
    verdict = baked.check(path, lock, lock_bytes)
    check_ms = round((time.monotonic() - t0) * 1000)
    if verdict.kind != "ok":
        emit(
            "venv",
            "warn",
            message=f"baked venv {path} not used ({verdict.kind}: {verdict.why}); using the "
            "venv store on the volume instead",
        )
        return None
    phase_disk(volume, settings.install_bytes, build=False)
    key = baked.key_here(lock_bytes)
    emit("venv", "ok", path=str(path), key=key, reused=True, baked=True, check_ms=check_ms)
    return path


def keep_lease(lease: Path, venvs: Path) -> None:
    """Fork a small process that keeps the venv's lease fresh while this process lives. After the
    exec this process is the worker (same PID), so the lease lasts as long as the worker."""
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        emit("venv", "warn", message=f"no lease keeper ({exc}); the lease lapses in time")
        return
    if pid:
        return
    try:  # the child: no output, no pipes held open, no boot signal handler
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, 1 << 16)
        leases = Leases(venvs, VolumeFs(venvs))
        last = time.monotonic()
        while os.getppid() == parent:
            time.sleep(1.0)
            if time.monotonic() - last >= REFRESH_S:
                with contextlib.suppress(OSError):
                    leases.refresh(lease)
                last = time.monotonic()
        with contextlib.suppress(OSError):
            leases.drop(lease)
    finally:
        os._exit(0)


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
        in_image = baked_venv(settings, volume, lock, lock_bytes)
        if in_image is not None:  # nothing on the volume to lease: the image is this container's
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            exec_worker(in_image, volume, settings.entry_module, args)
        ready = phase_venv(settings, volume, lock, lock_bytes)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        keep_lease(ready.lease, ready.path.parent)
        exec_worker(ready.path, volume, settings.entry_module, args)
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
