"""Run the real boot program (host Python, no Docker) on a temp volume; read its phase lines."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.container import standin
from worker.phases import parse_line

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for r in map(parse_line, self.stdout.splitlines()) if r]

    @property
    def last(self) -> dict[str, Any]:
        lines = [ln for ln in self.stdout.splitlines() if ln.strip()]
        assert lines, f"no output; stderr:\n{self.stderr[-2000:]}"
        record = parse_line(lines[-1])
        assert record is not None, f"last line is not a phase line: {lines[-1]!r}"
        return record

    def steps(self, phase: str = "venv") -> list[str]:
        return [r.get("step", r["status"]) for r in self.records if r["phase"] == phase]


@dataclass
class Env:
    """A stand-in world: volume dir, wheel folder, lock file, entry module folder."""

    root: Path

    @property
    def volume(self) -> Path:
        return self.root / "vol"

    @property
    def wheels(self) -> Path:
        return self.root / "wheels"

    @property
    def entry(self) -> Path:
        return self.root / "entry"

    @property
    def lock(self) -> Path:
        return self.root / "stand-in.lock"

    @classmethod
    def make(cls, root: Path) -> Env:
        env = cls(root)
        env.volume.mkdir()
        standin.make_wheel(env.wheels)
        standin.write_lock(env.lock)
        standin.write_entry(env.entry)
        return env

    def environ(self, **extra: str) -> dict[str, str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("WORKER_", "PIP_", "PYTHON", "VIRTUAL_ENV"))
        }
        base.update(
            WORKER_VOLUME=str(self.volume),
            WORKER_LOCK=str(self.lock),
            WORKER_ENTRY_MODULE=standin.ENTRY_MODULE,
            WORKER_INSTALL_BYTES="0",
            WORKER_LOCK_STALE_S="5",
            PYTHONPATH=str(self.entry),
            PIP_NO_INDEX="1",
            PIP_FIND_LINKS=str(self.wheels),
            PIP_NO_CACHE_DIR="1",
            PIP_CONFIG_FILE="/dev/null",  # this host's pip.conf adds indexes and constraints
        )
        base.update(extra)
        return base

    def popen(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "worker.boot", *args],
            cwd="/",
            env={**self.environ(**extra), "PYTHONPATH": f"{REPO}:{self.entry}"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def run(self, *args: str, timeout: float = 120, **extra: str) -> Result:
        proc = self.popen(*args, **extra)
        out, err = proc.communicate(timeout=timeout)
        return Result(proc.returncode, out, err)

    def venv_dirs(self) -> list[Path]:
        """Entries of <volume>/venvs other than the leases folder."""
        venvs = self.volume / "venvs"
        if not venvs.exists():
            return []
        return sorted(p for p in venvs.iterdir() if p.name != ".leases")

    def leases(self) -> list[str]:
        """Lease files on the volume, as <key>/<holder>.<kind>."""
        root = self.volume / "venvs" / ".leases"
        return sorted(f"{p.parent.name}/{p.name}" for p in root.glob("*/*") if p.is_file())
