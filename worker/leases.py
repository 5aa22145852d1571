"""Leases on venvs: who is checking or running on a venv, so nobody removes it under them.

Standard library only. <venvs>/.leases/<key>/<holder>.check while a start checks the venv,
renamed to <holder>.use when it runs on it. A holder keeps its lease fresh (mtime, volume clock);
one older than the TTL belongs to a dead or frozen holder and no longer protects anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from worker.buildlock import is_stale
from worker.volfs import VolumeFs, unique_name

LEASE_S = 600.0  # a lease not refreshed for this long is a dead holder's
REFRESH_S = 60.0  # how often a running worker refreshes its lease


class Leases:
    def __init__(self, venvs: Path, fs: VolumeFs, ttl: float = LEASE_S) -> None:
        self.root = venvs / ".leases"
        self.fs = fs
        self.ttl = ttl

    def _record(self) -> str:
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "at": time.time()})

    def take(self, key: str) -> Path:
        """A fresh .check lease on `key` (raises OSError, e.g. ENOSPC)."""
        folder = self.root / key
        for d in (self.root, folder):
            with contextlib.suppress(FileExistsError):
                self.fs.mkdir(d)
        lease = folder / f"{unique_name('holder')}.check"
        self.fs.write_text(lease, self._record())
        return lease

    def promote(self, lease: Path) -> Path:
        """.check -> .use (the start goes on to run on the venv)."""
        use = lease.with_suffix(".use")
        try:
            self.fs.rename(lease, use)
            self.fs.touch(use)  # a rename keeps the old mtime: the lease must be fresh now
        except OSError:
            try:
                self.fs.write_text(use, self._record())
            except OSError:
                return lease
        return use

    def refresh(self, lease: Path) -> None:
        """Keep a lease fresh; re-make it if a sweep removed it while we were frozen."""
        try:
            self.fs.touch(lease)
        except FileNotFoundError:
            self.fs.write_text(lease, self._record())

    def drop(self, lease: Path) -> None:
        self.fs.unlink(lease)

    def live(self, key: str, now: float, kinds: tuple[str, ...] = (".check", ".use")) -> list[str]:
        """Holders with a fresh lease on `key`. Raises OSError when that cannot be told."""
        folder = self.root / key
        try:
            names = self.fs.listdir(folder)
        except FileNotFoundError:
            return []
        holders = []
        for n in names:
            if not n.endswith(kinds):
                continue
            try:
                fresh = not is_stale(self.fs.mtime(folder / n), now, self.ttl)
            except FileNotFoundError:
                continue
            if fresh:
                holders.append(n)
        return holders

    def sweep(self, now: float) -> None:
        """Remove lapsed leases (best effort)."""
        try:
            keys = self.fs.listdir(self.root)
        except OSError:
            return
        for key in keys:
            try:
                names = self.fs.listdir(self.root / key)
            except OSError:
                continue
            for n in names:
                p = self.root / key / n
                try:
                    if is_stale(self.fs.mtime(p), now, self.ttl):
                        self.fs.unlink(p)
                except OSError:
                    continue
