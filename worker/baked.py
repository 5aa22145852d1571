"""A venv baked into the image (Dockerfile.baked): sealed at build, trusted at boot. Stdlib only.

Dockerfile.baked installs the lock into a venv in a layer that depends on the lock alone, then,
once the worker's code is in, runs `python3 -m worker.baked VENV LOCK`: the import check, then the
manifest and the marker a venv on the volume gets when it is sealed (venvs.py), under the key of
this lock and this interpreter. The image sets WORKER_BAKED_VENV=VENV; boot checks that venv as it
checks a reused one on the volume (marker + manifest, no import) and runs on it: no install, no
build lock, no lease, no prune. A baked venv made for another lock (WORKER_LOCK set) or one that
does not check out is named in a warn line, and boot goes on to the volume's venv store.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from worker import manifest
from worker.phases import PhaseError, emit, fail
from worker.piprun import PipTools, import_check
from worker.sweep import MARKER
from worker.venvs import Verdict, check_venv, import_check_modules, venv_key
from worker.volfs import VolumeFs

SEAL_IMPORT_CHECK_S = 1800.0  # a build on a loaded machine may import slowly; it is not a start


def key_here(lock_bytes: bytes) -> str:
    """The venv key of `lock_bytes` for the interpreter running this code (boot's key)."""
    return venv_key(
        lock_bytes,
        platform.python_implementation(),
        platform.python_version(),
        os.path.realpath(sys.executable),
    )


def _tools(lock: Path, lock_bytes: bytes) -> PipTools:
    return PipTools(lock, import_check_modules(lock_bytes.decode("utf-8", "replace")), os.environ)


def check(venv: Path, lock: Path, lock_bytes: bytes) -> Verdict:
    """The baked venv's verdict for this lock: ok, absent, broken or unknown (the same check as
    a reused venv on the volume)."""
    key = key_here(lock_bytes)
    lock_sha = hashlib.sha256(lock_bytes).hexdigest()
    return check_venv(venv, key, lock_sha, VolumeFs(venv.parent), _tools(lock, lock_bytes))


def seal(venv: Path, lock: Path) -> dict[str, object]:
    """Import-check the installed venv, then write its manifest and, last, its marker."""
    lock_bytes = lock.read_bytes()
    tools = _tools(lock, lock_bytes)
    if not (venv / "bin" / "python").exists():
        raise PhaseError("venv", f"no venv at {venv}", "install the lock into it first")
    emit("venv", "progress", step="import-check", path=str(venv))
    verdict = import_check(venv / "bin" / "python", tools.modules, SEAL_IMPORT_CHECK_S)
    if verdict.kind != "ok":
        raise PhaseError(
            "venv", "the baked venv fails its import check", "see details", import_check=verdict.why
        )
    fs = VolumeFs(venv.parent)
    listing = json.dumps(manifest.make(venv, fs), indent=0)
    fs.write_text(venv / manifest.MANIFEST, listing)
    marker: dict[str, object] = {
        "key": key_here(lock_bytes),
        "lock_sha256": hashlib.sha256(lock_bytes).hexdigest(),
        "lock": str(lock),
        "python": platform.python_version(),
        "executable": os.path.realpath(sys.executable),
        "created": time.time(),
        "freeze_sha256": tools.freeze_digest(venv),
        "manifest_sha256": hashlib.sha256(listing.encode()).hexdigest(),
        "builder": {"baked": "image build"},
    }
    fs.write_text(venv / MARKER, json.dumps(marker, indent=1))
    emit("venv", "ok", step="sealed", path=str(venv), key=marker["key"], baked=True)
    return marker


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        fail(PhaseError("env", "usage: python3 -m worker.baked VENV LOCK", "pass both paths"))
    try:
        seal(Path(argv[0]), Path(argv[1]).resolve())
    except PhaseError as err:
        fail(err)
    except OSError as exc:
        fail(PhaseError("venv", f"sealing the baked venv failed: {exc}", "see the build log"))


if __name__ == "__main__":
    main(sys.argv[1:])
