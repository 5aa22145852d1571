"""The venvs folder's layout, and what may be removed from it. Standard library only.

<venvs>/<key> (16 hex) is a sealed venv with MARKER inside; .tmp-<key>-<token> a build in
progress (its .building file beats); <key>.lock a build lock; .leases/ the leases. Nothing is
removed that someone may still use: a venv with a live lease or a build lock, or a build dir
whose heartbeat is fresh or that belongs to its key's current, beating lock.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from worker.buildlock import BUILDING, BuildLock, is_stale
from worker.leases import Leases
from worker.volfs import VolumeFs

MARKER = ".worker-venv.json"
KEY_RE = re.compile(r"^[0-9a-f]{16}$")


def venvs_to_prune(last_used: dict[str, float], keep: int, in_use: str) -> list[str]:
    """Venv keys to remove so at most `keep` remain, oldest last use first, never `in_use`."""
    others = sorted((t, k) for k, t in last_used.items() if k != in_use)
    excess = len(last_used) - max(keep, 1)
    return [k for _, k in others[: max(excess, 0)]]


@dataclass
class Sweeper:
    venvs: Path
    fs: VolumeFs
    stale_s: float
    leases: Leases

    def _leased(self, key: str) -> bool:
        try:
            return bool(self.leases.live(key, self.fs.now()))
        except OSError:
            return True  # cannot tell: leased

    def prune(self, keep: int, in_use: str) -> list[str]:
        """Keep at most `keep` venvs (least recently used go first), never `in_use`, one with a
        build lock, or one with a live lease."""
        try:
            last_used: dict[str, float] = {}
            for n in self.fs.listdir(self.venvs):
                if KEY_RE.match(n) and self.fs.is_dir(self.venvs / n):
                    try:
                        last_used[n] = self.fs.mtime(self.venvs / n / MARKER)
                    except OSError:
                        last_used[n] = 0.0
        except OSError:
            return []
        removed = []
        for k in venvs_to_prune(last_used, keep, in_use):
            if self.fs.exists(self.venvs / f"{k}.lock") or self._leased(k):
                continue
            aside = self.venvs / f".prune-{k}-{time.time_ns() % 10**9:09d}"
            try:
                self.fs.rename(self.venvs / k, aside)
                self.fs.touch(aside)  # a pruner killed here leaves it stale, then it is swept
            except OSError:
                continue
            if self._leased(k):  # leased between our look and the rename: put it back
                try:
                    self.fs.rename(aside, self.venvs / k)
                    continue
                except OSError:
                    pass  # the name was built again meanwhile; this copy is nobody's
            self.fs.discard(aside)
            removed.append(k)
        with contextlib.suppress(OSError):
            self.leases.sweep(self.fs.now())
        return removed

    def clean_leftovers(self, own_token: str) -> list[str]:
        """Remove what killed or fenced builds and killed pruners left."""
        try:
            now = self.fs.now()
            names = self.fs.listdir(self.venvs)
        except OSError:
            return []
        removed = []
        for n in names:
            p = self.venvs / n
            if n.startswith(".tmp-"):
                key, _, token = n[len(".tmp-") :].partition("-")
                if token == own_token or self._build_is_live(p, key, token, now):
                    continue
            elif n.startswith((".lockprep-", ".prune-")):
                if not self._older_than_stale(p, now):
                    continue
            elif not (n.startswith(".trash-") or ".lock.stale-" in n):
                continue
            self.fs.discard(p)
            removed.append(n)
        return removed

    def _older_than_stale(self, p: Path, now: float) -> bool:
        try:
            return is_stale(self.fs.mtime(p), now, self.stale_s)
        except OSError:
            return False

    def _build_is_live(self, tmp: Path, key: str, token: str, now: float) -> bool:
        """A build dir is live while its heartbeat is fresh, or while it belongs to the current
        generation of its key's lock and that lock beats. Unreadable: live."""
        try:
            beat = self.fs.mtime(tmp / BUILDING)
        except FileNotFoundError:
            beat = None
        except OSError:
            return True
        if beat is None:
            try:
                beat = self.fs.mtime(tmp)
            except OSError:
                return True
        if not is_stale(beat, now, self.stale_s):
            return True
        lock = BuildLock(self.venvs / f"{key}.lock", self.stale_s, self.fs)
        try:
            owner = lock.owner()
            lock_beat = self.fs.mtime(lock.owner_file)
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            return True
        return owner.get("token") == token and not is_stale(lock_beat, now, self.stale_s)
