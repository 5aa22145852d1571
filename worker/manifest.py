"""What a sealed venv holds: written once at seal time, checked at every start. Stdlib only.

A start used to prove a reused venv by importing torch, f5_tts and runpod in a subprocess
(4-6 s), and the worker then imported them all again. Instead the seal writes MANIFEST next to
the marker (whose `manifest_sha256` vouches for it): every installed distribution's RECORD size,
and the size of a sample of files: every native library, every top-level `__init__.py`, and about
one file in SAMPLE_EVERY of the rest, picked by a hash of its path (so the same files in every
venv). A start stats those (about 1,500 stats for the real lock, tens of ms) instead of importing.
What a size check cannot see (a flipped byte) the worker's own import phase sees; a venv that fails
there is marked for a rebuild (worker/venvmark.py).
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path
from typing import Any

from worker.volfs import VolumeFs

MANIFEST = ".worker-manifest.json"
SAMPLE_EVERY = 32
FORMAT = 1
_NATIVE = re.compile(r"\.(so|pyd|dylib)(\.[0-9.]+)?$")


def sampled(rel: str) -> bool:
    """Whether the file at `rel` (relative to site-packages) is in the sample."""
    if _NATIVE.search(rel) or (rel.count("/") == 1 and rel.endswith("/__init__.py")):
        return True
    digest = hashlib.blake2b(rel.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % SAMPLE_EVERY == 0


def site_packages(venv: Path, fs: VolumeFs) -> Path:
    """<venv>/lib/pythonX.Y/site-packages (FileNotFoundError when there is none)."""
    for name in fs.listdir(venv / "lib"):
        if name.startswith("python"):
            site = venv / "lib" / name / "site-packages"
            if fs.is_dir(site):
                return site
    raise FileNotFoundError(f"no lib/python*/site-packages in {venv}")


def _record_paths(record: str) -> list[str]:
    """Files a RECORD lists inside site-packages (not the scripts it puts in bin/)."""
    rows = csv.reader(record.splitlines())
    return [r[0] for r in rows if r and r[0] and not r[0].startswith(("/", "../"))]


def make(venv: Path, fs: VolumeFs) -> dict[str, Any]:
    """The manifest of a finished venv (raises OSError when it cannot be read)."""
    site = site_packages(venv, fs)
    dists: dict[str, int] = {}
    files: dict[str, int] = {}
    for name in fs.listdir(site):
        if not name.endswith(".dist-info"):
            continue
        record = site / name / "RECORD"
        dists[name] = fs.size(record)
        for rel in _record_paths(fs.read_text(record)):
            if sampled(rel) and fs.exists(site / rel):
                files[rel] = fs.size(site / rel)
    return {
        "format": FORMAT,
        "site": str(site.relative_to(venv)),
        "dists": dists,
        "files": dict(sorted(files.items())),
    }


def problem(venv: Path, fs: VolumeFs, manifest: Any) -> str | None:
    """Why the venv no longer matches its manifest (None: it does). A file that is gone or of
    another size is a problem; any other OSError (an unreadable volume) is raised."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return "manifest is not in a format this boot reads"
    try:
        site = venv / str(manifest["site"])
        dists = dict(manifest["dists"])
        files = dict(manifest["files"])
    except (KeyError, TypeError, ValueError):
        return "manifest lacks site, dists or files"
    if not dists:
        return "manifest lists no distributions"
    records = {f"{d}/RECORD": n for d, n in dists.items()}
    for rel, size in [*records.items(), *files.items()]:
        try:
            now = fs.size(site / rel)
        except FileNotFoundError:
            return f"{rel} is missing (package deleted?)"
        if now != size:
            return f"{rel} is {now} bytes, {size} at seal (truncated or changed)"
    return None
