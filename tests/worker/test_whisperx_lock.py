"""whisperx.lock stays a superset of f5tts.lock, moving only what its header says, never torch."""

from __future__ import annotations

import re
from pathlib import Path

from worker.venvs import DEFAULT_IMPORT_CHECK, import_check_modules

REQ = Path(__file__).resolve().parents[2] / "worker" / "requirements"
SAME = ("torch", "torchaudio", "f5-tts", "runpod", "triton")


def pins(path: Path) -> dict[str, str]:
    """name (PEP 503 normalised) -> version, for every `name==version` line."""
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "==" in line:
            name, version = line.split("==", 1)
            out[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return out


def test_whisperx_lock_keeps_the_stack_and_moves_only_what_it_says():
    base, wx = pins(REQ / "f5tts.lock"), pins(REQ / "whisperx.lock")
    assert all(base[n] == wx[n] for n in SAME), {n: (base[n], wx.get(n)) for n in SAME}
    assert set(base) <= set(wx) and wx["whisperx"] == "3.8.6"
    moved = {n for n in base if base[n] != wx[n]}
    header = (REQ / "whisperx.lock").read_text().split("# import-check")[0]
    named = set(re.findall(r"([a-z0-9-]+) [^ ,]+->", header))
    assert moved == named and "huggingface-hub" in moved


def test_whisperx_lock_import_check_includes_whisperx():
    """What the default checks (the worker's imports, compiled before the seal), and whisperx."""
    modules = import_check_modules((REQ / "whisperx.lock").read_text())
    assert set(modules) == {*DEFAULT_IMPORT_CHECK, "whisperx"}
