"""The venv store on the volume: key, marker, build, seal, lease, prune. Standard library only.

<volume>/venvs/<key> is the venv of one lock + interpreter. It is built in .tmp-<key>-<token>
(token = the build lock's generation), sealed by writing the marker LAST, then renamed into place:
a rename onto a non-empty directory fails, so no two builds mix, and a name without a marker is
never trusted. The builder re-checks that it still owns the lock before the marker and before the
rename (buildlock.py), so a builder that was frozen past the stale time and fenced out never seals.

Leases: <venvs>/.leases/<key>/<holder>.check while a start checks a venv, renamed .use when it
runs on it; the running worker keeps it fresh (boot forks a keeper before the exec). Pruning and
the clean-up skip anything leased; a lease older than LEASE_S is a dead holder's.

A reused venv is trusted on its marker and its manifest (manifest.py: sizes of a sample of its
files, written at seal time), not on an import: the worker's own import phase is the real check,
and a venv that fails there is marked (venvmark.py) so the next start rebuilds it, once. Venvs
sealed before manifests existed still get the import check.

The protocol is a generator (`Store.ensure`) that yields the seconds it wants to wait, so the same
code runs in boot (which sleeps) and in the model test (which steps many starts on one volume).
A little over 350 lines on purpose: the steps of one start (check, wait, build, fence, seal, use)
read as one story; the folder's clean-up is in sweep.py, the lock in buildlock.py.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import re
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from worker import manifest, pipfail, venvmark
from worker.buildlock import BUILDING, BuildLock
from worker.leases import Leases
from worker.phases import PhaseError, emit
from worker.sweep import MARKER, Sweeper
from worker.volfs import VolumeFs, is_enospc

# what the worker imports (worker/__main__.py): checked, and compiled to bytecode, before the seal
DEFAULT_IMPORT_CHECK = ("torch", "f5_tts.infer.utils_infer", "runpod")
# The lock names the modules of the import check: `# import-check: a, b` (or the older `# probe:`).
IMPORT_CHECK_RE = re.compile(r"^#\s*(?:import-check|probe):\s*(.+)$", re.MULTILINE)
MAX_FENCED = 3  # builds lost to a takeover before a start gives up


# ---------------------------------------------------------------- pure parts


def venv_key(lock_bytes: bytes, implementation: str, version: str, executable: str) -> str:
    """The venv's name: it changes when the lock or the interpreter that runs it changes."""
    h = hashlib.sha256()
    for part in (lock_bytes, implementation.encode(), version.encode(), executable.encode()):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:16]


def import_check_modules(lock_text: str) -> tuple[str, ...]:
    """Modules the import check imports: the lock's `# import-check:` line, else the default."""
    match = IMPORT_CHECK_RE.search(lock_text)
    if not match:
        return DEFAULT_IMPORT_CHECK
    names = tuple(n for n in re.split(r"[\s,]+", match.group(1).strip()) if n)
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", n)]
    if bad or not names:
        raise ValueError(f"lock's import-check line names no valid modules: {match.group(1)!r}")
    return names


def marker_problem(marker: Any, key: str, lock_sha256: str) -> str | None:
    """Why a parsed marker does not vouch for venv `key` built from this lock (None: it does)."""
    if not isinstance(marker, dict):
        return "marker is not a JSON object"
    if marker.get("key") != key:
        return f"marker key {marker.get('key')!r} != {key!r}"
    if marker.get("lock_sha256") != lock_sha256:
        return "marker was written for a different lock"
    if not isinstance(marker.get("freeze_sha256"), str) or not marker.get("freeze_sha256"):
        return "marker has no pip freeze digest"
    return None


# ---------------------------------------------------------------- what the store needs


@dataclass(frozen=True)
class Verdict:
    """Whether a venv can be used: ok, broken (rebuild it) or unknown (say so; touch nothing).
    `imports_failed`: broken because the worker's own imports failed on it (venvmark.py)."""

    kind: str
    why: str = ""
    imports_failed: bool = False


class InstallFailed(Exception):
    def __init__(self, failure: pipfail.PipFailure, **details: Any) -> None:
        super().__init__(failure.cause)
        self.failure = failure
        self.details = details


class Tools(Protocol):
    """The outside world of a build: real processes in boot (piprun.py), simulated in the model."""

    def create(self, tmp: Path) -> None: ...
    def install(self, tmp: Path) -> Iterator[None]: ...  # yields while it works
    def import_check(self, venv: Path) -> Verdict: ...
    def freeze_digest(self, venv: Path) -> str: ...
    def heartbeat(self, lock: BuildLock) -> AbstractContextManager[object]: ...


@dataclass(frozen=True)
class Ready:
    path: Path
    lease: Path
    reused: bool
    pruned: list[str]


def check_venv(path: Path, key: str, lock_sha: str, fs: VolumeFs, tools: Tools) -> Verdict:
    """Whether the venv at `path` is the sealed venv `key` of this lock and still whole: its
    marker, then its manifest (an import check only for a venv sealed before manifests)."""
    if not fs.is_dir(path):
        return Verdict("absent", "absent")
    try:
        marker = json.loads(fs.read_text(path / MARKER))
    except FileNotFoundError:
        return Verdict("broken", "no marker (install never finished)")
    except ValueError as exc:
        return Verdict("broken", f"unreadable marker: {exc}")
    except OSError as exc:
        return Verdict("unknown", f"marker cannot be read now: {exc}")
    problem = marker_problem(marker, key, lock_sha)
    if problem:
        return Verdict("broken", problem)
    if not fs.exists(path / "bin" / "python"):
        return Verdict("broken", "bin/python missing")
    try:
        cause = venvmark.failure_cause(path, fs)
    except OSError as exc:
        return Verdict("unknown", f"the venv cannot be read now: {exc}")
    if cause is not None:
        return Verdict("broken", f"the worker's imports failed on it: {cause}", True)
    digest = marker.get("manifest_sha256")
    if not digest:  # sealed before manifests existed: the import check, as it was
        return tools.import_check(path)
    return _manifest_verdict(path, str(digest), fs)


def _manifest_verdict(path: Path, digest: str, fs: VolumeFs) -> Verdict:
    """ok when the venv's files still match the manifest its marker vouches for."""
    try:
        text = fs.read_text(path / manifest.MANIFEST)
    except FileNotFoundError:
        return Verdict("broken", "manifest missing")
    except OSError as exc:
        return Verdict("unknown", f"manifest cannot be read now: {exc}")
    if hashlib.sha256(text.encode()).hexdigest() != digest:
        return Verdict("broken", "manifest does not match the marker")
    try:
        why = manifest.problem(path, fs, json.loads(text))
    except ValueError:
        return Verdict("broken", "manifest is not JSON")
    except OSError as exc:
        return Verdict("unknown", f"the venv's files cannot be read now: {exc}")
    return Verdict("broken", f"manifest check: {why}") if why else Verdict("ok")


# ---------------------------------------------------------------- the store


@dataclass
class Store:
    venvs: Path
    key: str
    lock_sha: str
    fs: VolumeFs
    tools: Tools
    stale_s: float
    keep: int
    leases: Leases
    marker_extra: dict[str, Any] = field(default_factory=dict)
    say: Callable[..., Any] = emit

    @property
    def sweeper(self) -> Sweeper:
        return Sweeper(self.venvs, self.fs, self.stale_s, self.leases)

    @property
    def final(self) -> Path:
        return self.venvs / self.key

    def check(self, path: Path) -> Verdict:
        return check_venv(path, self.key, self.lock_sha, self.fs, self.tools)

    def ensure(self, disk_check: Callable[[bool], None]) -> Generator[float, None, Ready]:
        """Find or build this key's venv; yields seconds to wait; returns the leased venv."""
        try:
            if not self.fs.is_dir(self.venvs):
                self.fs.mkdir(self.venvs)
        except FileExistsError:
            pass
        except OSError as exc:
            raise self._volume_error(exc, "the venvs folder") from None
        try:
            lease = self.leases.take(self.key)
        except OSError as exc:
            raise self._volume_error(exc, "a lease on the venv") from None
        try:
            return (yield from self._ensure(lease, disk_check))
        except BaseException:  # a failed or stopped start runs on nothing
            with contextlib.suppress(OSError):
                self.leases.drop(lease)
            raise

    def _ensure(
        self, lease: Path, disk_check: Callable[[bool], None]
    ) -> Generator[float, None, Ready]:
        first, fenced = True, 0
        while True:
            t0 = time.monotonic()
            verdict = self.check(self.final)
            if first:
                disk_check(verdict.kind != "ok")
                first = False
            if verdict.kind == "ok":
                return self._use(lease, reused=True, check_ms=(time.monotonic() - t0) * 1000)
            self._refuse_unknown(verdict)
            self.say("venv", "progress", step="need-build", key=self.key, reason=verdict.why)
            lock = BuildLock(self.venvs / f"{self.key}.lock", self.stale_s, self.fs)
            if not (yield from self._acquire(lock, lease)):
                continue  # the builder finished: check what it made
            try:
                with self.tools.heartbeat(lock):
                    outcome = yield from self._build_locked(lock)
            finally:
                lock.release()
            if outcome == "sealed":
                return self._use(lease, reused=False)
            if outcome == "fenced":
                fenced += 1
                self.say("venv", "warn", message="lost the build lock to a takeover; not sealing")
                if fenced >= MAX_FENCED:
                    raise PhaseError(
                        "venv",
                        f"lost the build lock {fenced} times (this container was fenced out)",
                        "another container took over while this one was frozen or its volume "
                        "was unreadable; restart; if it repeats, raise WORKER_LOCK_STALE_S",
                    )

    def _refuse_unknown(self, verdict: Verdict) -> None:
        if verdict.kind == "unknown":
            raise PhaseError(
                "venv",
                f"cannot tell whether the venv is usable: {verdict.why}",
                "the venv was left in place; retry (a slow or overloaded volume/CPU makes the "
                "import check time out)",
                key=self.key,
            )

    def _acquire(self, lock: BuildLock, lease: Path) -> Generator[float, None, bool]:
        """True once we hold the lock; False when the venv appeared meanwhile. The lease stays
        fresh while we wait (a wait lasts as long as another container's install)."""
        waited = 0
        while True:
            with contextlib.suppress(OSError):
                self.leases.refresh(lease)
            try:
                if lock.try_acquire():
                    return True
                if lock.take_over_if_stale(self.fs.now()):
                    self.say("venv", "warn", message="took over a stale build lock", key=self.key)
                    return True
            except OSError as exc:
                raise self._volume_error(exc, "the build lock") from None
            if not self.fs.exists(lock.path) and self.fs.is_dir(self.final):
                return False
            if waited % 15 == 0:
                self.say(
                    "venv",
                    "wait",
                    message="another container is building this venv",
                    owner=lock.owner_or_empty(),
                )
            waited += 1
            yield 1.0

    def _build_locked(self, lock: BuildLock) -> Generator[float, None, str]:
        verdict = self.check(self.final)  # the previous holder may have finished it
        if verdict.kind == "ok":
            return "raced"
        self._refuse_unknown(verdict)
        if verdict.kind == "broken":
            # Rebuilt even when leased: its users fail their imports too (a check killed by a
            # signal or a timeout is "unknown", never "broken", so a sound venv is not lost).
            self.say(
                "venv",
                "warn",
                message=f"moving aside a broken venv: {verdict.why}",
                users=self._users(self.key),
            )
            self.fs.discard(self.final)
        removed = self.sweeper.clean_leftovers(lock.token)
        if removed:
            self.say("venv", "progress", step="cleaned", removed=removed)
        return (yield from self._build(lock, verdict.why if verdict.imports_failed else ""))

    def _users(self, key: str) -> int:
        try:
            return len(self.leases.live(key, self.fs.now(), kinds=(".use",)))
        except OSError:
            return 1  # cannot tell: assume in use

    def _fenced(self, lock: BuildLock, tmp: Path) -> bool:
        """The fence: we no longer own the lock, or our build dir is not ours any more."""
        if lock.fenced or not lock.still_owner():
            return True
        try:
            return self.fs.read_text(tmp / BUILDING) != lock.token
        except OSError:
            return True

    def _build(self, lock: BuildLock, after_failure: str = "") -> Generator[float, None, str]:
        """Build, check, seal. `after_failure`: the cause the worker's imports failed with on
        the venv this one replaces (kept in the marker: such a venv is never marked again)."""
        tmp = self.venvs / f".tmp-{self.key}-{lock.token}"
        sealed = False
        t0 = time.monotonic()
        try:
            try:
                self.fs.mkdir(tmp)
                self.fs.write_text(tmp / BUILDING, lock.token)
                lock.beats = [tmp / BUILDING]
                self.say("venv", "progress", step="create", path=str(tmp))
                self.tools.create(tmp)
                for _ in self.tools.install(tmp):  # pip blocks; the model's install steps
                    yield 0.0
                self.say("venv", "progress", step="import-check")
                verdict = self.tools.import_check(tmp)
                if verdict.kind != "ok":
                    if self._fenced(lock, tmp):
                        return "fenced"
                    what = "times out" if verdict.kind == "unknown" else "fails"
                    raise PhaseError(
                        "venv",
                        f"installed venv {what} its import check",
                        "see details",
                        import_check=verdict.why,
                    )
                listing = json.dumps(manifest.make(tmp, self.fs), indent=0)
                self.fs.write_text(tmp / manifest.MANIFEST, listing)
                marker = {
                    "key": self.key,
                    "lock_sha256": self.lock_sha,
                    **self.marker_extra,
                    "created": time.time(),
                    "install_s": round(time.monotonic() - t0, 1),
                    "freeze_sha256": self.tools.freeze_digest(tmp),
                    "manifest_sha256": hashlib.sha256(listing.encode()).hexdigest(),
                    "builder": lock.owner_or_empty(),
                }
                if after_failure:
                    marker["after_import_failure"] = after_failure
                if self._fenced(lock, tmp):
                    return "fenced"
                self.fs.write_text(tmp / MARKER, json.dumps(marker, indent=1))
                self.fs.fsync_dir(tmp)
                if self._fenced(lock, tmp):
                    return "fenced"
                try:
                    self.fs.rename(tmp, self.final)
                except OSError as exc:
                    if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and self.fs.is_dir(self.final):
                        self.say("venv", "warn", message="another container sealed it first")
                        return "raced"
                    raise
                sealed = True
                self.fs.fsync_dir(self.venvs)
                self.say("venv", "progress", step="installed", seconds=marker["install_s"])
                return "sealed"
            except InstallFailed as exc:
                if self._fenced(lock, tmp):
                    return "fenced"
                raise PhaseError(
                    "venv", exc.failure.cause, exc.failure.remedy, **exc.details
                ) from None
            except OSError as exc:
                if self._fenced(lock, tmp):
                    return "fenced"
                if is_enospc(exc):
                    raise PhaseError("venv", pipfail.DISK.cause, pipfail.DISK.remedy) from None
                raise PhaseError("venv", f"venv build failed: {exc}", "see details") from None
        finally:
            if not sealed:
                self.fs.discard(tmp)  # only ever our own build dir

    def _use(self, lease: Path, reused: bool, check_ms: float = 0.0) -> Ready:
        with contextlib.suppress(OSError):
            self.fs.touch(self.final / MARKER)  # last use, for pruning
        lease = self.leases.promote(lease)
        pruned = self.sweeper.prune(self.keep, self.key)
        extra = {"check_ms": round(check_ms)} if reused else {}
        self.say(
            "venv", "ok", path=str(self.final), key=self.key, reused=reused, pruned=pruned, **extra
        )
        return Ready(self.final, lease, reused, pruned)

    def _volume_error(self, exc: OSError, what: str) -> PhaseError:
        if is_enospc(exc):
            return PhaseError(
                "disk",
                f"volume is full: no room for {what} ({exc.strerror})",
                "free space on the volume (remove old venvs under <volume>/venvs) or use a "
                "bigger one",
            )
        return PhaseError(
            "venv", f"{what} could not be written: {exc}", "check the volume is healthy"
        )
