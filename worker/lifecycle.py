"""SIGTERM while serving: the job in flight may finish within a grace period, then the worker
exits with a phase line that says what happened to it.

Scale-down sends SIGTERM to a worker that may be in the middle of a job. runpod's serving loops
install their own SIGTERM handlers when they start (uvicorn for the local API, JobScaler in
queue mode); both stop taking jobs and let a running sync job finish, but neither bounds how
long that takes nor says anything. So this module:

- installs its handler before runpod starts (uvicorn restores and re-raises to it when it has
  shut down), and, at each job, chains in front of whatever handler runpod has put in place;
- on SIGTERM (seen at once through the wakeup fd, see `install`) records the signal, starts a
  grace timer when a job is in flight, and passes the signal on to runpod's handler, which
  stops serving after the job;
- when the grace period ends with the job still running, prints a `serve` fail line (exit code
  18) and ends the process at once (`os._exit`: the main thread is busy in that job);
- when serving ends, `stopped()` prints {"phase": "serve", "status": "stopped", ...} with the
  job's fate: "finished" (and how long after the signal) or "none" (no job was running).
Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from worker.phases import EXIT_CODES, emit

Handler = Callable[[int, FrameType | None], Any]


class Lifecycle:
    """The job in flight and the SIGTERM that may arrive during it."""

    def __init__(self, grace_s: float, exit_now: Callable[[int], None] = os._exit) -> None:
        self.grace_s = grace_s
        self._exit_now = exit_now
        # Re-entrant: the Python-level handler runs in the main thread, maybe inside job()'s
        # own `with self._lock`.
        self._lock = threading.RLock()
        self._wakeup_w = -1  # our wakeup fd's write end
        self._forward = -1  # the event loop's wakeup fd, which ours replaced (uvloop sets one)
        self._previous: Handler | None = None
        self.job_id: str | None = None  # the job in flight
        self._job_started = 0.0
        self.signal_at: float | None = None  # monotonic time of the first SIGTERM
        self.finished_after_s: float | None = None  # the job in flight at SIGTERM ended then
        self.finished_job: str | None = None
        self._timer: threading.Timer | None = None

    # -- signal handling ------------------------------------------------------------------
    def install(self) -> None:
        """Handle SIGTERM from now on (call in the main thread, before runpod starts).

        Python runs a signal handler in the main thread only, between bytecodes; while a job
        runs, the main thread waits on f5_tts's worker thread, and when the kernel delivers the
        signal to another thread the handler runs only after the job. So the arrival is also
        read from the wakeup fd (written by the C-level handler, whatever thread took the
        signal) on a watcher thread, which starts the grace timer at once.
        """
        signal.signal(signal.SIGTERM, self._on_sigterm)
        read, self._wakeup_w = os.pipe()
        os.set_blocking(self._wakeup_w, False)
        signal.set_wakeup_fd(self._wakeup_w, warn_on_full_buffer=False)
        threading.Thread(
            target=self._watch, args=(read,), name="sigterm-watch", daemon=True
        ).start()

    def _watch(self, fd: int) -> None:
        while True:
            data = os.read(fd, 64)
            if not data:
                return
            if self._forward >= 0:  # the event loop still gets every signal's byte
                with contextlib.suppress(OSError):
                    os.write(self._forward, data)
            if signal.SIGTERM in data:
                self._arrived()

    def _arrived(self) -> None:
        """A SIGTERM arrived (from either thread): note it, start the grace timer if busy."""
        with self._lock:
            if self.signal_at is None:
                self.signal_at = time.monotonic()
            self._start_grace()

    def _start_grace(self) -> None:
        """With a job in flight after a SIGTERM: end the grace period `grace_s` after it."""
        if self.signal_at is None or self.job_id is None or self._timer is not None:
            return
        left = max(0.0, self.grace_s - (time.monotonic() - self.signal_at))
        self._timer = threading.Timer(left, self._grace_over)
        self._timer.daemon = True
        self._timer.start()

    def _chain(self) -> None:
        """Put this handler in front of the one runpod installed when it started serving."""
        if threading.current_thread() is not threading.main_thread():
            return
        if self._wakeup_w >= 0:  # uvloop takes the wakeup fd when it runs: take it back
            previous_fd = signal.set_wakeup_fd(self._wakeup_w, warn_on_full_buffer=False)
            if previous_fd not in (-1, self._wakeup_w):
                self._forward = previous_fd
        current = signal.getsignal(signal.SIGTERM)
        if current != self._on_sigterm:
            self._previous = current if callable(current) else None
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self._arrived()  # the watcher may not have seen it yet
        with self._lock:
            busy = self.job_id is not None
        if self._previous is not None:
            self._previous(signum, frame)  # runpod / uvicorn: stop serving after this job
        elif not busy:
            self.stopped()  # nothing serves yet (start-up) or any more: stop now
            sys.exit(0)

    def _grace_over(self) -> None:
        with self._lock:
            job = self.job_id
            if job is None:
                return
            ran = time.monotonic() - self._job_started
        emit(
            "serve",
            "fail",
            exit_code=EXIT_CODES["serve"],
            cause=f"SIGTERM: job {job} still running {self.grace_s:g} s after the signal "
            f"(it ran {ran:.1f} s); abandoned",
            remedy="raise WORKER_SIGTERM_GRACE_S (and the platform's own grace period), or lower "
            "WORKER_JOB_TIMEOUT_S so that a job ends before a scale-down can cut it",
            details={"signal": "SIGTERM", "job": "abandoned", "job_id": job},
        )
        sys.stdout.flush()
        sys.stderr.flush()
        self._exit_now(EXIT_CODES["serve"])

    # -- jobs -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def job(self, job_id: str) -> Iterator[None]:
        """Mark `job_id` in flight for the duration of the block."""
        self._chain()
        with self._lock:
            self.job_id, self._job_started = job_id, time.monotonic()
            self._start_grace()  # the signal came just before the job (after runpod took it)
        try:
            yield
        finally:
            with self._lock:
                self.job_id = None
                if self.signal_at is not None and self.finished_after_s is None:
                    self.finished_after_s = time.monotonic() - self.signal_at
                    self.finished_job = job_id
                if self._timer is not None:
                    self._timer.cancel()

    @property
    def stopping(self) -> bool:
        return self.signal_at is not None

    def stopped(self) -> dict[str, Any] | None:
        """The stop line, once serving has ended after a SIGTERM (None when there was none)."""
        if self.signal_at is None:
            return None
        if self.finished_job is not None:
            fate = {
                "job": "finished",
                "job_id": self.finished_job,
                "finished_after_s": round(self.finished_after_s or 0.0, 3),
            }
        else:
            fate = {"job": "none"}
        return emit("serve", "stopped", signal="SIGTERM", grace_s=self.grace_s, **fate)
