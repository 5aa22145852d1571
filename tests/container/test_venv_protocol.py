"""A stateful model of the venv protocol: many simulated containers start on ONE volume.

Every container runs the real `venvs.Store.ensure` generator on a real temp folder with real file
operations. Only three things are simulated: time (a clock the model advances, stamped into
mtimes), the build tools (an "install" that writes package files and their dist-info RECORD one
step at a time, so the real manifest is made and checked; an import check that reads them),
damage to sealed venvs (a truncated file, a deleted package, an edited manifest, a venv the
worker's imports failed on), and the faults: SIGKILL (a start is never resumed, and its cleanup
never runs), freezes past the stale time (no steps, no heartbeats), unreadable files (EIO on
reads) and a full disk (ENOSPC on writes and on the clock's file).

Invariants, after every rule:
- never a marker on an incomplete venv (sealed or in a build dir);
- never a removed venv that is leased (a start running on a venv with a live lease finds it whole);
- at most one builder per key: only the current lock owner seals, a live build dir of the current
  owner is never removed, and a builder that never froze is never taken over;
- every start ends ready or with its phase's exit code (checked when the model winds down);
- a start never becomes ready on a damaged venv, and a venv rebuilt after the worker's imports
  failed is never marked again (no rebuild loop).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from worker import venvmark
from worker.buildlock import OWNER, BuildLock
from worker.leases import Leases
from worker.manifest import MANIFEST
from worker.phases import EXIT_CODES, PhaseError
from worker.sweep import KEY_RE, MARKER
from worker.venvs import Ready, Store, Verdict
from worker.volfs import VolumeFs

STALE_S = 10.0
LEASE_S = 30.0
PACKAGES = 6
KEYS = ("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb")  # two locks share the volume
MAX_CONTAINERS = 6
TAKEOVERS: list[str] = []


SITE = Path("lib") / "python3.11" / "site-packages"


def complete(venv: Path) -> bool:
    return all((venv / SITE / f"pkg{i}" / "__init__.py").is_file() for i in range(PACKAGES))


def ident(venv: Path) -> str:
    """One build of a venv: its marker's text (it names the builder's lock token); inode
    numbers are reused once a discarded venv is removed."""
    try:
        return (venv / MARKER).read_text()
    except OSError:
        return ""


class SimFs(VolumeFs):
    """Real operations on a real folder; simulated clock; injected faults; protocol hooks."""

    def __init__(self, root: Path, model: VenvProtocol) -> None:
        super().__init__(root)
        self.t = 1_000_000.0
        self.unreadable = False
        self.full = False
        self.model = model

    def _enospc(self) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")

    def _eio(self) -> None:
        if self.unreadable:
            raise OSError(errno.EIO, "Input/output error")

    def now(self) -> float:
        self._enospc()  # the real clock writes a file
        return self.t

    def touch(self, path: Path) -> None:
        os.utime(path, (self.t, self.t))

    def mtime(self, path: Path) -> float:
        self._eio()
        return super().mtime(path)

    def size(self, path: Path) -> int:
        self._eio()
        return super().size(path)

    def read_text(self, path: Path) -> str:
        self._eio()
        return super().read_text(path)

    def listdir(self, path: Path) -> list[str]:
        self._eio()
        return super().listdir(path)

    def mkdir(self, path: Path) -> None:
        self._enospc()
        super().mkdir(path)

    def write_text(self, path: Path, text: str) -> None:
        self._enospc()
        if path.name == OWNER and "took_over" in text:
            self.model.on_takeover(json.loads(text)["took_over"])
        super().write_text(path, text)

    def rename(self, src: Path, dst: Path) -> None:
        if src.name.startswith(".tmp-") and KEY_RE.match(dst.name):
            self.model.on_seal(src, dst.name)
        super().rename(src, dst)


@dataclass
class SimTools:
    """Build tools of one container: an install that yields between packages."""

    fs: SimFs
    lock: BuildLock | None = None
    check_times_out: bool = False

    def create(self, tmp: Path) -> None:
        self.fs.mkdir(tmp / "bin")
        self.fs.write_text(tmp / "bin" / "python", "#!python\n")
        for part in (tmp / "lib", tmp / SITE.parent, tmp / SITE):
            self.fs.mkdir(part)

    def install(self, tmp: Path) -> Iterator[None]:
        for i in range(PACKAGES):
            site = tmp / SITE
            self.fs.mkdir(site / f"pkg{i}")
            self.fs.write_text(site / f"pkg{i}" / "__init__.py", f"package {i}\n")
            self.fs.mkdir(site / f"pkg{i}-1.dist-info")
            record = f"pkg{i}/__init__.py,,{len(f'package {i}')}\n"
            self.fs.write_text(site / f"pkg{i}-1.dist-info" / "RECORD", record)
            yield

    def import_check(self, venv: Path) -> Verdict:
        if self.check_times_out:
            return Verdict("unknown", "import check timed out")
        try:
            for i in range(PACKAGES):
                self.fs.read_text(venv / SITE / f"pkg{i}" / "__init__.py")
        except FileNotFoundError as exc:
            return Verdict("broken", str(exc))
        except OSError as exc:
            return Verdict("unknown", str(exc))
        return Verdict("ok")

    def freeze_digest(self, venv: Path) -> str:
        return "f" * 64

    @contextlib.contextmanager
    def heartbeat(self, lock: BuildLock) -> Iterator[None]:
        self.lock = lock  # the model beats it while the container is neither frozen nor killed
        try:
            yield
        finally:
            self.lock = None


@dataclass
class Container:
    name: str
    key: str
    tools: SimTools
    store: Store
    steps: Any  # the ensure() generator
    state: str = "starting"  # starting | ready | failed | killed | stopped
    frozen: bool = False
    frozen_ever: bool = False
    ready: Ready | None = None
    error: PhaseError | None = None
    lost_heartbeat: bool = False
    said: list[dict[str, Any]] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.state in ("starting", "ready")


class VenvProtocol(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="venv-model-"))
        self.venvs = self.root / "venvs"
        self.fs = SimFs(self.root, self)
        self.containers: list[Container] = []
        self.graveyard: list[Any] = []  # killed starts: never resumed, never finalised
        self.actor: Container | None = None
        self.damaged: set[str] = set()  # markers (one per build) of venvs damaged after sealing
        # containers running on a venv when it was damaged: their venv may be rebuilt under them
        self.on_damaged: set[str] = set()
        # containers whose lease lapsed once (frozen past it): unprotected from then on, even
        # when their keeper touches the lease again after a thaw
        self.lapsed: set[str] = set()

    # ---------------------------------------------------------------- hooks from SimFs

    def on_seal(self, src: Path, key: str) -> None:
        """Only the current owner of the key's lock seals, and only a complete build."""
        assert (src / MARKER).is_file(), f"sealing {src.name} without a marker"
        assert complete(src), f"sealing incomplete {src.name}"
        owner = json.loads((self.venvs / f"{key}.lock" / OWNER).read_text())
        actor = self.actor
        assert actor is not None and actor.tools.lock is not None
        assert owner["token"] == actor.tools.lock.token, f"{actor.name} sealed while fenced"
        event("sealed a venv")

    def on_takeover(self, generation: str) -> None:
        """A lock is taken over only from a holder that is dead or was frozen."""
        for c in self.containers:
            lock = c.tools.lock
            if lock is not None and lock.token == generation:
                assert not c.live or c.frozen_ever, f"{c.name} was beating and still lost its lock"
                TAKEOVERS.append("frozen" if c.live else "dead")
                event("took over from a live frozen builder" if c.live else "took over a dead lock")

    # ---------------------------------------------------------------- rules

    @precondition(lambda self: len(self.containers) < MAX_CONTAINERS)
    @rule(which=st.integers(0, len(KEYS) - 1), times_out=st.integers(0, 9))
    def start(self, which: int, times_out: int) -> None:
        key = KEYS[which]
        tools = SimTools(self.fs, check_times_out=times_out == 0)
        leases = Leases(self.venvs, self.fs, ttl=LEASE_S)
        c = Container(f"c{len(self.containers)}", key, tools, None, None)  # type: ignore[arg-type]
        c.store = Store(
            venvs=self.venvs,
            key=key,
            lock_sha="0" * 64,
            fs=self.fs,
            tools=tools,
            stale_s=STALE_S,
            keep=1,
            leases=leases,
            say=lambda phase, status, **kw: c.said.append({"status": status, **kw}),
        )
        c.steps = c.store.ensure(lambda build: None)
        self.containers.append(c)

    def _pick(self, i: int, want: str = "starting") -> Container | None:
        cands = [c for c in self.containers if c.state == want and not c.frozen]
        return cands[i % len(cands)] if cands else None

    @rule(i=st.integers(0, 100), n=st.integers(1, 4))
    def step(self, i: int, n: int) -> None:
        c = self._pick(i)
        if c is not None:
            for _ in range(n):
                if c.state == "starting":
                    self._advance(c)

    def _advance(self, c: Container) -> None:
        self.actor = c
        try:
            next(c.steps)
        except StopIteration as stop:
            c.state, c.ready = "ready", stop.value
            venv = stop.value.path
            assert ident(venv) not in self.damaged, f"{c.name} trusted a damaged venv"
            assert complete(venv), f"{c.name} is ready on an incomplete venv"
        except PhaseError as err:
            c.state, c.error = "failed", err
            assert err.exit_code == EXIT_CODES[err.phase] and err.phase in ("disk", "venv"), err
        finally:
            self.actor = None

    @rule(dt=st.floats(0.1, STALE_S / 3))
    def tick(self, dt: float) -> None:
        """Time passes; every container that runs beats its lock and refreshes its lease."""
        self.fs.t += dt
        for c in self.containers:
            if not c.live or c.frozen:
                continue
            lock = c.tools.lock
            if lock is not None and not c.lost_heartbeat and lock.beat() == "lost":
                c.lost_heartbeat = True  # the thread ends, as Heartbeat does
            if c.state == "ready" and c.ready is not None:
                with contextlib.suppress(OSError):
                    c.store.leases.refresh(c.ready.lease)
        self.fs.unreadable = self.fs.full = False  # a fault lasts until time passes

    @rule(i=st.integers(0, 100), builders_only=st.booleans())
    def kill(self, i: int, builders_only: bool) -> None:
        live = [c for c in self.containers if c.live]
        if builders_only:
            live = [c for c in live if c.tools.lock is not None]
        if live:
            c = live[i % len(live)]
            c.state = "killed"
            self.graveyard.append(c.steps)

    @rule(i=st.integers(0, 100), builders_only=st.booleans())
    def freeze(self, i: int, builders_only: bool) -> None:
        live = [c for c in self.containers if c.live and not c.frozen]
        if builders_only:
            live = [c for c in live if c.tools.lock is not None]
        if live:
            c = live[i % len(live)]
            c.frozen = c.frozen_ever = True

    @rule(periods=st.floats(1.0, 4.0))
    def freeze_time_passes(self, periods: float) -> None:
        """Frozen containers stay frozen past the stale time; the others beat meanwhile."""
        for _ in range(int(periods * 3) + 1):
            self.tick(STALE_S / 3)

    @rule(i=st.integers(0, 100))
    def thaw(self, i: int) -> None:
        frozen = [c for c in self.containers if c.live and c.frozen]
        if frozen:
            frozen[i % len(frozen)].frozen = False

    @rule()
    def unreadable_files(self) -> None:
        self.fs.unreadable = True

    @rule()
    def disk_full(self) -> None:
        self.fs.full = True

    @rule(i=st.integers(0, 100))
    def worker_stops(self, i: int) -> None:
        """A ready worker exits normally: its lease keeper drops the lease."""
        c = self._pick(i, "ready")
        if c is not None and c.ready is not None:
            c.state = "stopped"
            c.store.leases.drop(c.ready.lease)

    @precondition(lambda self: bool(self._sealed()))
    @rule(i=st.integers(0, 100), how=st.sampled_from(["truncate", "delete", "manifest"]))
    def damage_a_sealed_venv(self, i: int, how: str) -> None:
        """A file of a sealed venv is truncated, a package deleted, or the manifest edited."""
        sealed = self._sealed()
        if not sealed:
            return
        venv = sealed[i % len(sealed)]
        init = venv / SITE / f"pkg{i % PACKAGES}" / "__init__.py"
        if how == "truncate" and init.is_file():
            init.write_text("")
        elif how == "delete" and init.is_file():
            shutil.rmtree(init.parent)
        elif how == "manifest":
            (venv / MANIFEST).write_text((venv / MANIFEST).read_text() + " ")
        else:
            return
        self._damaged(venv)
        event(f"damaged a sealed venv: {how}")

    @precondition(lambda self: any(c.state == "ready" for c in self.containers))
    @rule(i=st.integers(0, 100))
    def worker_imports_fail(self, i: int) -> None:
        """The worker's own import phase fails on the venv a ready container runs on."""
        c = self._pick(i, "ready")
        if c is None or c.ready is None or not c.ready.path.is_dir():
            return
        venv = c.ready.path
        again = venvmark.rebuilt_after_failure(venv, VolumeFs(self.root))
        marked = venvmark.mark_import_failed(venv, "ImportError: sim", self.fs)
        c.state = "failed"  # exit 14 either way
        c.store.leases.drop(c.ready.lease)
        if again:
            assert not marked, "a venv rebuilt after an import failure was marked again"
            event("imports failed twice: stopped without a rebuild")
        elif marked:
            self._damaged(venv)
            event("imports failed: venv marked for a rebuild")

    @precondition(lambda self: len(self.containers) < MAX_CONTAINERS)
    @rule(which=st.integers(0, len(KEYS) - 1))
    def start_alone_to_the_end(self, which: int) -> None:
        """One start runs to its end while the others wait (so sealed venvs exist to damage)."""
        self.start(which, times_out=1)
        c = self.containers[-1]
        for _ in range(60):
            if c.state != "starting":
                break
            self._advance(c)
            self.tick(STALE_S / 3)

    def _fresh_starts_end_ready(self) -> None:
        """After the wind-down, one more start per key ends ready, on an undamaged venv (a
        damaged one was rebuilt), in a bounded number of steps."""
        for which in range(len(KEYS)):
            self.start(which, times_out=1)
            c = self.containers[-1]
            for _ in range(400):
                if c.state != "starting":
                    break
                self._advance(c)
                self.tick(STALE_S / 3)
            assert c.state == "ready", (c.name, c.state, c.error)
            if any(r.get("step") == "need-build" for r in c.said) and self.damaged:
                event("a damaged venv ended in a rebuild")

    def _damaged(self, venv: Path) -> None:
        """`venv` is damaged: so is every running container's copy of it (same path, same
        build), even after a later start has replaced the folder with a rebuild."""
        self.damaged.add(ident(venv))
        for c in self.containers:
            if c.ready is not None and c.ready.path == venv:
                self.on_damaged.add(c.name)

    def _sealed(self) -> list[Path]:
        if not self.venvs.is_dir():
            return []
        return sorted(
            p for p in self.venvs.iterdir() if KEY_RE.match(p.name) and (p / MARKER).exists()
        )

    # ---------------------------------------------------------------- invariants

    @invariant()
    def no_marker_on_incomplete_venv(self) -> None:
        if not self.venvs.exists():
            return
        for p in self.venvs.iterdir():
            if ident(p) in self.damaged:
                continue
            if (KEY_RE.match(p.name) or p.name.startswith(".tmp-")) and (p / MARKER).exists():
                assert complete(p), f"{p.name} has a marker but misses packages"
            if KEY_RE.match(p.name):
                assert (p / MARKER).exists(), f"{p.name} is a venv name without a marker"

    @invariant()
    def leased_venvs_are_whole(self) -> None:
        for c in self.containers:
            if c.state != "ready" or c.ready is None:
                continue
            lease = c.ready.lease
            if c.name in self.lapsed:
                continue
            if not lease.exists() or self.fs.t - lease.stat().st_mtime > LEASE_S:
                self.lapsed.add(c.name)
                continue  # lapsed (frozen or dead holder): no longer protected
            venv = self.venvs / c.key
            if ident(venv) in self.damaged or c.name in self.on_damaged:
                continue  # damaged under a running worker: its imports fail, it stops
            assert (venv / MARKER).exists() and complete(venv), f"{c.name}'s leased venv is gone"

    @invariant()
    def live_builds_of_the_owner_are_kept(self) -> None:
        for c in self.containers:
            lock = c.tools.lock
            if not c.live or lock is None or not lock.token:
                continue
            try:
                owner = json.loads((lock.path / OWNER).read_text())
            except (OSError, ValueError):
                continue
            # between steps a lock holder is always inside its install, its build dir made
            tmp = self.venvs / f".tmp-{c.key}-{lock.token}"
            if owner.get("token") == lock.token and not c.frozen_ever:
                assert tmp.exists(), f"{c.name}'s live build dir was removed"

    def teardown(self) -> None:
        """Wind down: faults cleared, everyone thawed; every start must end ready or with its
        phase's exit code."""
        try:
            self.fs.unreadable = self.fs.full = False
            for c in self.containers:
                c.frozen = False
            for _ in range(400):
                pending = [c for c in self.containers if c.state == "starting"]
                if not pending:
                    break
                for c in pending:
                    self._advance(c)
                self.tick(STALE_S / 3)
            stuck = [c.name for c in self.containers if c.state == "starting"]
            self._fresh_starts_end_ready()
            for c in self.containers:
                what = c.error.phase + ":" + c.error.cause[:40] if c.error else c.state
                event(f"start ended: {what}")
                if any("lost the build lock" in s.get("message", "") for s in c.said):
                    event("a fenced builder stood down")
                if c.ready is not None and c.ready.pruned:
                    event("pruned a venv")
            assert not stuck, f"starts that never ended: {stuck}"
            self.leased_venvs_are_whole()  # a lease that lapsed while frozen protects nothing
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


VenvProtocol.TestCase.settings = settings(
    max_examples=int(os.environ.get("VENV_MODEL_EXAMPLES", "300")),
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestVenvProtocol = VenvProtocol.TestCase
