"""Stand-in wheel, lock and entry module for boot tests that must not install the real stack.

The wheel is a real wheel (zip with METADATA/WHEEL/RECORD) that real pip installs from a local
folder (PIP_NO_INDEX + PIP_FIND_LINKS), so venv mechanics run offline in seconds.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

PKG = "boot_standin_pkg"
VERSION = "1.0"

# The entry module boot execs instead of `worker`: prints a ready line with what it was given.
ENTRY_MODULE = "boot_standin_entry"
ENTRY_SOURCE = """\
import json, os, sys
try:
    import boot_standin_pkg
except ImportError as exc:  # as the worker's imports phase does (worker/__main__.py)
    from worker import phases, venvmark
    phases.fail(venvmark.imports_error(exc, os.environ.get("WORKER_VENV")))
print(json.dumps({"phase": "ready", "status": "ok", "pid": os.getpid(), "argv": sys.argv[1:],
                  "prefix": sys.prefix, "venv": os.environ.get("WORKER_VENV"),
                  "volume": os.environ.get("WORKER_VOLUME"), "cwd": os.getcwd()}), flush=True)
if os.environ.get("BOOT_STANDIN_HOLD"):  # stay up like a serving worker
    import time
    time.sleep(float(os.environ["BOOT_STANDIN_HOLD"]))
"""


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(folder: Path, version: str = VERSION) -> Path:
    """Write boot_standin_pkg-<version>-py3-none-any.whl into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{PKG}-{version}.dist-info"
    files = {
        f"{PKG}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: boot-standin-pkg\nVersion: {version}\n"
        ).encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = [_record_line(n, d) for n, d in files.items()] + [f"{dist}/RECORD,,"]
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{PKG}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


def write_lock(path: Path, version: str = VERSION, extra: str = "") -> Path:
    path.write_text(f"# stand-in lock\n# import-check: {PKG}\nboot-standin-pkg=={version}\n{extra}")
    return path


def write_entry(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ENTRY_MODULE}.py"
    path.write_text(ENTRY_SOURCE)
    return path


def break_imports_same_size(init: Path) -> None:
    """Make `init` fail to import (`import nosuch_x`) without changing its size, so the
    manifest cannot see it and only the worker's import phase can.

    The mtime moves 2 s on: a .pyc is trusted while the source's size and whole-second mtime
    match, and a write in the second of the install would run the old code (CI saw exit 0
    where 14 was due)."""
    size = init.stat().st_size
    later = init.stat().st_mtime_ns + 2_000_000_000
    init.write_text("import nosuch_x\n".ljust(size, "#")[:size])
    os.utime(init, ns=(later, later))
