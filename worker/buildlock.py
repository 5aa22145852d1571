"""The build lock of one venv key: a directory on the volume, a heartbeat, a fenced takeover.

Standard library only. Layout: <venvs>/<key>.lock/owner.json = {host, pid, started, token}. The
owner file's mtime (volume clock) is the heartbeat; `token` names the lock's generation.

- Acquire: the owner file is written in a private folder first, which is then renamed to
  <key>.lock; rename onto an existing (non-empty) lock fails, so exactly one container wins and a
  lock is never seen without its owner file.
- Heartbeat: `beat()` touches the owner file (and the build dir's `.building` file). A read error
  is "unknown", never "lost": only a lock that is gone, or that names another token, is lost.
- Takeover: a waiter that finds generation T stale claims it with mkdir <key>.lock/.fence-T-<n>
  (atomic: one waiter per generation wins; a claimant that died is superseded by n+1 once its
  claim is stale too), then replaces the owner file with its own token. A stale check and a
  takeover by two waiters can therefore never both succeed for the same generation.
- Fencing: the builder re-reads the owner token (`still_owner()`) before it writes the marker and
  before the final rename; a builder that lost its lock (frozen past the stale time, say) aborts
  and discards only its own build dir.
flock is not used: network volumes make it unreliable, and a SIGKILLed holder must be detectable.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.volfs import VolumeFs, unique_name

OWNER = "owner.json"
BUILDING = ".building"  # inside a build dir: its builder's token; touched with the heartbeat
_TOKEN_RE = re.compile(r"^[0-9a-f]{1,32}$")


def is_stale(heartbeat_mtime: float, volume_now: float, stale_s: float) -> bool:
    """Stale when the heartbeat is older than stale_s, both times by the volume's clock."""
    return volume_now - heartbeat_mtime > stale_s


def heartbeat_interval(stale_s: float) -> float:
    """Beat five times per stale period (at most every 5 s, at least every 0.5 s)."""
    return max(0.5, min(5.0, stale_s / 5))


def _owner_record(token: str, **extra: Any) -> str:
    record = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": time.time(),
        "token": token,
        **extra,
    }
    return json.dumps(record)


@dataclass
class BuildLock:
    path: Path  # <venvs>/<key>.lock
    stale_s: float
    fs: VolumeFs
    token: str = ""  # ours while we hold the lock
    fenced: bool = False  # set by beat() when the lock turned out to be someone else's
    beats: list[Path] = field(default_factory=list)  # more files touched with each beat

    @property
    def owner_file(self) -> Path:
        return self.path / OWNER

    # ---- reading
    def owner(self) -> dict[str, Any]:
        """The owner record; raises FileNotFoundError when there is no lock, OSError/ValueError
        when it cannot be read right now."""
        record = json.loads(self.fs.read_text(self.owner_file))
        if not isinstance(record, dict):
            raise ValueError("owner record is not an object")
        return record

    def owner_or_empty(self) -> dict[str, Any]:
        """For messages only."""
        try:
            return self.owner()
        except (OSError, ValueError):
            return {}

    def still_owner(self, tries: int = 3) -> bool:
        """True only when the owner file names our token (read errors retried, then False)."""
        if not self.token:
            return False
        for _ in range(tries):
            try:
                mine = self.owner().get("token") == self.token
            except FileNotFoundError:
                mine = False
            except (OSError, ValueError):
                continue
            if not mine:
                self.fenced = True
            return mine
        return False

    # ---- taking
    def try_acquire(self) -> bool:
        """Make the lock if there is none. OSError other than "it exists" is raised (ENOSPC)."""
        token = secrets.token_hex(8)
        prep = self.path.with_name(unique_name(f".lockprep-{self.path.name}"))
        self.fs.mkdir(prep)
        try:
            self.fs.write_text(prep / OWNER, _owner_record(token))
            self.fs.rename(prep, self.path)
        except OSError as exc:
            self.fs.rmtree(prep)
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False  # there is a lock
            raise
        self.token, self.fenced = token, False
        return True

    def take_over_if_stale(self, now: float) -> bool:
        """Claim the lock when its current generation is stale; True when this call took it."""
        try:
            gen = str(self.owner().get("token") or "none")
            beat = self.fs.mtime(self.owner_file)
        except (OSError, ValueError):
            return False  # gone (try_acquire next) or unreadable now (wait: never guess)
        if not _TOKEN_RE.match(gen):
            gen = "none"
        if not is_stale(beat, now, self.stale_s):
            return False
        try:
            claims = [n for n in self.fs.listdir(self.path) if n.startswith(f".fence-{gen}-")]
            for name in claims:  # an earlier claimant still alive blocks us
                if not is_stale(self.fs.mtime(self.path / name), now, self.stale_s):
                    return False
            self.fs.mkdir(self.path / f".fence-{gen}-{len(claims)}")
        except FileExistsError:
            return False  # another waiter claimed this generation first
        except FileNotFoundError:
            return False  # the lock was released meanwhile
        token = secrets.token_hex(8)
        try:
            self.fs.write_text(self.owner_file, _owner_record(token, took_over=gen))
        except FileNotFoundError:
            return False
        self.token, self.fenced = token, False
        return True

    # ---- holding
    def beat(self) -> str:
        """One heartbeat: "ok", "unknown" (could not read; keep beating) or "lost"."""
        try:
            mine: bool | None = self.owner().get("token") == self.token
        except FileNotFoundError:
            mine = False
        except (OSError, ValueError):
            mine = None  # cannot tell now: keep the lock alive; the fence check decides later
        if mine is False:
            self.fenced = True
            return "lost"
        for p in (self.owner_file, *self.beats):
            with contextlib.suppress(OSError):  # a later beat retries
                self.fs.touch(p)
        return "ok" if mine else "unknown"

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        if self.token and self.still_owner():
            self.fs.discard(self.path)
        self.token = ""
        self.beats = []


class Heartbeat:
    """A thread that calls lock.beat() every interval until stopped or the lock is lost."""

    def __init__(self, lock: BuildLock) -> None:
        self.lock = lock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lock-heartbeat", daemon=True)

    def _run(self) -> None:
        interval = heartbeat_interval(self.lock.stale_s)
        while not self._stop.wait(interval):
            if self.lock.beat() == "lost":
                return

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
