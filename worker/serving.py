"""The handler runpod serves: the request handler inside the long-life guards.

Each job runs marked in flight (worker/lifecycle.py: SIGTERM lets it finish within the grace
period), under its deadline (worker/deadline.py: WORKER_JOB_TIMEOUT_S); then the heap's free
pages go back to the system (worker/heap.py), and the output asks for a refresh when memory is
still above the ceiling (worker/guard.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from worker import heap
from worker.deadline import Deadline
from worker.guard import MemoryGuard
from worker.lifecycle import Lifecycle

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def guarded(
    inner: Handler, lifecycle: Lifecycle, deadline: Deadline, guard: MemoryGuard
) -> Handler:
    """`inner` (which never raises) as the handler runpod calls."""

    def handler(job: dict[str, Any]) -> dict[str, Any]:
        job_id = str(job.get("id", "?")) if isinstance(job, dict) else "?"
        with lifecycle.job(job_id), deadline.running():
            output = inner(job)
            heap.release()  # before the ceiling check: free pages are not the worker's growth
        return guard.mark(output)

    return handler
