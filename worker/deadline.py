"""WORKER_JOB_TIMEOUT_S: a job that runs too long fails with `job_timeout`; the worker serves on.

A thread cannot be killed, and a job left running would hold the model (and the next job)
hostage, so the timeout is cooperative: a forward pre-hook on the model's transformer, which
f5_tts calls once or twice per ODE step, raises `JobTimeout` once the job's deadline has passed.
The exception unwinds through f5_tts's sampling (torch frees the step's tensors) to the
handler, which returns it like any refused request. The check costs one clock read per step;
a job overruns by at most one step (plus the vocoder), and the fetch of a reference URL has its
own timeout (WORKER_URL_TIMEOUT_S).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from worker.schema import RequestError


class JobTimeout(RequestError):
    """The job ran past WORKER_JOB_TIMEOUT_S."""

    def __init__(self, limit_s: float, ran_s: float) -> None:
        super().__init__(
            "job_timeout",
            f"the job ran {ran_s:.1f} s, over the limit of {limit_s:g} s (WORKER_JOB_TIMEOUT_S); "
            "it was stopped and the worker serves on: send shorter text or fewer nfe_step, or "
            "raise WORKER_JOB_TIMEOUT_S",
        )


class Deadline:
    """One job's deadline, checked at each step of the model it is attached to."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s  # 0: no limit
        self._started: float | None = None

    def attach(self, module: Any) -> Any:
        """Check the deadline before each forward call of `module` (a torch.nn.Module)."""
        return module.register_forward_pre_hook(self._hook)

    def _hook(self, _module: Any, _args: Any) -> None:
        self.check()

    def check(self) -> None:
        """Raise JobTimeout when a job is running and past its deadline."""
        started = self._started
        if started is None or self.limit_s <= 0:
            return
        ran = time.monotonic() - started
        if ran > self.limit_s:
            raise JobTimeout(self.limit_s, ran)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """The block is one job: its deadline starts now and ends with the block."""
        self._started = time.monotonic()
        try:
            yield
        finally:
            self._started = None
