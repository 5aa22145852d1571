"""The worker's verdict on the venv it runs on: its import phase is the real check. Stdlib only.

Boot trusts a sealed venv on its manifest (worker/manifest.py) without importing it; when the
worker's imports then fail in a way that points at the venv's files, the worker writes
IMPORTS_FAILED into the venv and the next start rebuilds it. A venv that was itself built to
replace one that failed (its marker names `after_import_failure`) is never marked again: the same
failure twice means the lock or the image is at fault, and a rebuild would only loop.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from worker.phases import PhaseError
from worker.sweep import MARKER
from worker.volfs import VolumeFs

IMPORTS_FAILED = ".worker-imports-failed.json"
# Raised by imports of a venv whose files are missing or damaged; other exceptions are bugs.
VENV_FAULTS: tuple[type[BaseException], ...] = (ImportError, OSError, SyntaxError)
REBUILD = "rebuild the venv from worker/requirements/f5tts.lock"


def _rebuilt(venv: Path, fs: VolumeFs) -> bool | None:
    """Whether the venv was built to replace one whose imports failed; None: cannot tell (the
    marker cannot be read)."""
    try:
        marker = json.loads(fs.read_text(venv / MARKER))
    except (OSError, ValueError):
        return None
    return isinstance(marker, dict) and bool(marker.get("after_import_failure"))


def rebuilt_after_failure(venv: Path, fs: VolumeFs) -> bool:
    """Whether the venv was built to replace one whose imports failed (unreadable: False)."""
    return bool(_rebuilt(venv, fs))


def mark_import_failed(venv: Path, cause: str, fs: VolumeFs | None = None) -> bool:
    """Mark `venv` for a rebuild; False when it must not be (already a rebuild, a marker that
    cannot be read, so it may be one, or the mark cannot be written: then the next start still
    finds the venv as it is)."""
    fs = fs or VolumeFs(venv.parent)
    if _rebuilt(venv, fs) is not False:
        return False
    try:
        fs.write_text(venv / IMPORTS_FAILED, json.dumps({"cause": cause[:2000]}))
    except OSError:
        return False
    return True


def failure_cause(venv: Path, fs: VolumeFs) -> str | None:
    """The cause the worker wrote when its imports failed on `venv` (None: not marked).
    Raises OSError (other than not found) when the volume cannot be read."""
    try:
        text = fs.read_text(venv / IMPORTS_FAILED)
    except FileNotFoundError:
        return None
    try:
        return str(json.loads(text).get("cause", ""))[:500] or "unknown cause"
    except (ValueError, AttributeError):
        return "unreadable mark"


def imports_error(exc: BaseException, venv: str | None) -> PhaseError:
    """The imports phase's failure for `exc`, after marking the venv when that may help."""
    cause = f"{type(exc).__name__}: {exc}"[:500]
    if not venv:
        return PhaseError("imports", cause, f"the worker's environment is incomplete: {REBUILD}")
    path = Path(venv)
    if mark_import_failed(path, cause):
        baked = os.environ.get("WORKER_BAKED_VENV", "").strip()
        remedy = (
            "the venv in the image is damaged and is now marked: the next start of this "
            "container uses a venv on the volume (restart the worker); rebuild the image"
            if baked and Path(baked) == path
            else "the venv on the volume is damaged and is now marked: the next start rebuilds "
            "it (restart the worker)"
        )
        return PhaseError("imports", cause, remedy, venv=venv)
    if not rebuilt_after_failure(path, VolumeFs(path.parent)):
        return PhaseError(
            "imports",
            cause,
            "the venv on the volume could not be marked for a rebuild (its files cannot be read "
            f"or written): check the volume, or delete {venv} so that the next start rebuilds it",
            venv=venv,
        )
    return PhaseError(
        "imports",
        cause,
        "this venv was already rebuilt after its imports failed, and they fail again: the lock "
        "installs but does not import on this image. Fix the lock (WORKER_LOCK or "
        f"worker/requirements/f5tts.lock) or the image; to try one more build, delete {venv}",
        venv=venv,
        rebuilt_after_import_failure=True,
    )
