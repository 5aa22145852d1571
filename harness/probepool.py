"""A round's probes spread over a pool of Docker engines: one probe per engine at a time.

Each engine has a lane: its own `Judge` (its images are built on, or moved to, that engine) and,
when the pool has more than one engine, its own thread. With one engine the probe runs in the
calling thread, as the bisect did before engines existed (Ctrl-C unwinds the same way).

A probe's engine must still answer when its verdict comes back: the pool pings it then, and
every few seconds while probes run. A probe whose engine dies or stops answering (the ping
fails; or the probe raised HarnessError(kind="docker"), a connection error or a timeout) never
becomes a verdict: a build that failed because its daemon was killed would otherwise read as
"does not build". The engine is dropped for the rest of the run (a warning says so) and the
probe goes to another engine. When no engine is left, the last failure is raised (with one
engine: the same error as before engines existed).

Timed probes (latency, cold) are pinned to one engine, the first live one: a timing verdict only
compares samples taken on one machine, and a search mixing machines could see a commit slower
on one and faster on another. If that engine dies, the next one takes over and a warning says
that the check's timed verdicts now come from two engines.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.engines import Engine
from harness.errors import HarnessError
from harness.judge import Judge
from harness.judgement import Judgement
from harness.progress import Progress, quiet

HEARTBEAT_S = 5.0  # while probes run, ping their engines this often
PING_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Probe:
    """One commit to judge for one check; `pinned`: only on the pool's timed engine."""

    check: str
    position: int
    sha: str
    pinned: bool = False


@dataclass(frozen=True)
class Lost:
    """A probe that yielded no verdict because its engine died (it was run again elsewhere)."""

    probe: Probe
    engine: str
    why: str

    def to_json(self) -> dict[str, Any]:
        p = self.probe
        return {
            "check": p.check,
            "position": p.position,
            "sha": p.sha,
            "engine": self.engine,
            "why": self.why,
        }


# What a probe's result is: a judgement, or the exception it raised.
Outcome = Judgement | Exception


def engine_failure(exc: BaseException) -> bool:
    """Whether `exc` says the engine died or stopped answering (not: the commit is bad)."""
    if isinstance(exc, HarnessError):
        return exc.kind == "docker"
    # requests' and docker-py's errors are OSErrors too (connection refused, read timeouts)
    return isinstance(exc, OSError | TimeoutError | subprocess.TimeoutExpired)


@dataclass(eq=False)
class Lane:
    """One engine, its Judge, and at most one probe in flight on it."""

    engine: Engine
    judge: Judge
    alive: bool = True
    busy: Probe | None = None
    ticket: int = 0  # which dispatch a result belongs to (a dead lane's late answers are stale)
    seen: set[str] = field(default_factory=set)  # shas probed here (their images are here)
    pinger: Any = None
    inbox: queue.Queue[tuple[int, Probe] | None] | None = None

    def answers(self) -> bool:
        """Ping the engine (a client kept for pinging only, used from the pool's thread)."""
        try:
            if self.pinger is None:
                self.pinger = self.engine.client(timeout=PING_TIMEOUT_S)
                return True
            return bool(self.pinger.ping())
        except Exception:  # any failure to answer a ping means: not answering
            return False

    def close(self) -> None:
        if self.inbox is not None:
            self.inbox.put(None)
        if self.pinger is not None:
            with contextlib.suppress(Exception):
                self.pinger.close()


class ProbePool:
    """Run probes on a pool of engines; see the module docstring for the rules."""

    def __init__(
        self,
        engines: list[Engine] | tuple[Engine, ...],
        make_judge: Callable[[Engine], Judge],
        progress: Progress = quiet,
        *,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        if not engines:
            raise ValueError("a pool needs at least one engine")
        self.progress = progress
        self.heartbeat_s = heartbeat_s
        self.lanes = [Lane(e, make_judge(e)) for e in engines]
        self.names = [e.name for e in engines]
        self.warnings: list[str] = []
        self.lost: list[Lost] = []
        self.dropped: dict[str, str] = {}  # engine name -> why
        self._results: queue.Queue[tuple[Lane, int, Outcome]] = queue.Queue()
        self._threaded = len(self.lanes) > 1
        self._stop = threading.Event()
        self._timed: Lane | None = None
        self._failure: Exception | None = None  # the last engine failure (raised if none is left)
        if self._threaded:
            for lane in self.lanes:
                self._start_thread(lane)

    # -- the pool -----------------------------------------------------------------------------
    @property
    def live(self) -> list[Lane]:
        return [lane for lane in self.lanes if lane.alive]

    @property
    def width(self) -> int:
        """How many probes can run at once now."""
        return len(self.live)

    @property
    def timed(self) -> Lane:
        """The lane timed probes run on (the first live one, kept once chosen)."""
        if self._timed is None or not self._timed.alive:
            before = self._timed
            self._timed = self.live[0] if self.live else self.lanes[0]
            if before is not None and self._timed is not before:
                self._warn(
                    f"timed checks moved from engine {before.engine.name} to "
                    f"{self._timed.engine.name}: their verdicts come from two engines"
                )
        return self._timed

    def judges(self) -> list[Judge]:
        return [lane.judge for lane in self.lanes]

    def close(self) -> None:
        """Stop the lanes' threads (a probe in flight finishes; its answer is ignored)."""
        self._stop.set()
        for lane in self.lanes:
            lane.close()

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        self.progress(f"warning: {text}")

    def _reachable(self, lane: Lane) -> bool:
        """Ping an engine before its first probe (not before: a resume answered from the cache
        needs no engine); one that does not answer is dropped."""
        if lane.pinger is not None:
            return True
        try:
            lane.pinger = lane.engine.client(timeout=PING_TIMEOUT_S)
        except HarnessError as exc:
            self._failure = exc
            self._drop(lane, exc.message)
            return False
        return True

    def _drop(self, lane: Lane, why: str) -> None:
        if not lane.alive:
            return
        lane.alive = False
        self.dropped[lane.engine.name] = why
        if len(self.lanes) > 1:
            self._warn(f"engine {lane.engine.name} dropped for the rest of the run: {why}")

    # -- lanes --------------------------------------------------------------------------------
    def _start_thread(self, lane: Lane) -> None:
        inbox: queue.Queue[tuple[int, Probe] | None] = queue.Queue()
        lane.inbox = inbox

        def work() -> None:
            while (item := inbox.get()) is not None and not self._stop.is_set():
                ticket, probe = item
                self._results.put((lane, ticket, self._judge(lane, probe)))

        name = f"probe-{lane.engine.name}"
        threading.Thread(target=work, name=name, daemon=True).start()

    @staticmethod
    def _judge(lane: Lane, probe: Probe) -> Outcome:
        try:
            return lane.judge.judge(probe.check, probe.sha)
        except Exception as exc:  # handed to the pool's thread, which decides
            return exc

    def _dispatch(self, lane: Lane, probe: Probe) -> None:
        lane.busy = probe
        lane.ticket += 1
        lane.seen.add(probe.sha)
        if len(self.lanes) > 1:
            self.progress(
                f"[{probe.check}] engine {lane.engine.name} probes #{probe.position} "
                f"{probe.sha[:12]}"
            )
        if lane.inbox is not None:
            lane.inbox.put((lane.ticket, probe))
        else:  # one engine: run here, now
            self._results.put((lane, lane.ticket, self._judge(lane, probe)))

    def _pick(self, lane: Lane, todo: deque[Probe]) -> Probe | None:
        """The next probe for `lane`: pinned ones only on the timed lane; a commit whose image
        this engine has first, then one no other engine is probing, then the oldest."""
        fits = [p for p in todo if not p.pinned or lane is self.timed]
        if not fits:
            return None
        elsewhere = {other.busy.sha for other in self.live if other.busy and other is not lane}
        for p in fits:
            if p.sha in lane.seen:
                return p
        for p in fits:
            if p.sha not in elsewhere:
                return p
        return fits[0]

    # -- a round ------------------------------------------------------------------------------
    def run(
        self,
        probes: list[Probe],
        wanted: Callable[[Probe], bool],
        deliver: Callable[[Probe, Judgement, Engine], None],
    ) -> None:
        """Judge each probe once on some live engine and `deliver` its verdict (in this thread),
        until every probe is delivered or no longer `wanted`. A probe whose engine fails is run
        again elsewhere; HarnessError / the failure when no engine is left."""
        todo: deque[Probe] = deque(probes)
        while True:
            todo = deque(p for p in todo if wanted(p))
            for lane in self.live:
                if lane.busy is not None or (probe := self._pick(lane, todo)) is None:
                    continue
                if self._reachable(lane):
                    todo.remove(probe)
                    self._dispatch(lane, probe)
            if not any(lane.busy for lane in self.live):
                if todo and not self.live and self._failure is not None:
                    raise self._failure  # one engine: the very error it failed with
                if todo:
                    raise HarnessError(
                        f"no engine left to probe on ({'; '.join(self.dropped.values())})",
                        "docker",
                        "check the engines in harness.toml answer (`docker -H ENDPOINT info`)",
                    )
                return
            try:
                lane, ticket, outcome = self._results.get(timeout=self.heartbeat_s)
            except queue.Empty:
                self._heartbeat(todo)
                continue
            if not lane.alive or ticket != lane.ticket or lane.busy is None:
                continue  # a dropped engine's late answer: never a verdict
            probe, lane.busy = lane.busy, None
            if isinstance(outcome, Judgement) and lane.answers():
                deliver(probe, outcome, lane.engine)
                continue
            if isinstance(outcome, Exception) and not engine_failure(outcome) and lane.answers():
                raise outcome  # the engine is fine: a harness failure, as without a pool
            if isinstance(outcome, Exception):
                self._failure = outcome
            self._lose(lane, probe, _why(outcome), todo)

    def _heartbeat(self, todo: deque[Probe]) -> None:
        for lane in self.live:
            if lane.busy is not None and not lane.answers():
                probe = lane.busy
                lane.busy = None
                self._lose(lane, probe, "stopped answering pings while probing", todo)

    def _lose(self, lane: Lane, probe: Probe, why: str, todo: deque[Probe]) -> None:
        self.lost.append(Lost(probe, lane.engine.name, why))
        self._drop(lane, why)
        if self.live:
            self.progress(
                f"[{probe.check}] #{probe.position} {probe.sha[:12]} got no verdict on engine "
                f"{lane.engine.name}; it goes to another engine"
            )
        todo.appendleft(probe)


def _why(outcome: Outcome) -> str:
    if isinstance(outcome, Judgement):
        return "stopped answering (no ping after the probe; its verdict is not used)"
    if isinstance(outcome, HarnessError):
        return outcome.message
    return f"{type(outcome).__name__}: {outcome}"[:300]
