"""The memory ceiling: above WORKER_MEMORY_CEILING_MB, ask runpod to refresh this worker.

A worker that has grown close to its container's limit is better replaced between two jobs
than OOM-killed in the middle of one. After each job the guard reads the process's resident
memory; above the ceiling the job's output carries `"refresh_worker": True`, which the runpod
SDK pops from the output and turns into `stopPod` in the job result (runpod/serverless/modules/
rp_job.py, `run_job`): the platform then stops this worker once the job is done and starts a
fresh one. The job's own result is unchanged. Standard library only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from worker.phases import emit

REFRESH_KEY = "refresh_worker"  # the key runpod's run_job reads from a handler's output dict


def rss_bytes(status: Path = Path("/proc/self/status")) -> int | None:
    """This process's resident memory now (VmRSS), or None where /proc is absent."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


class MemoryGuard:
    """Compares resident memory with the ceiling after each job; 0 MB means no ceiling."""

    def __init__(self, ceiling_mb: float, read: Callable[[], int | None] = rss_bytes) -> None:
        self.ceiling_bytes = int(ceiling_mb * 2**20)
        self._read = read
        self.asked = 0  # jobs whose output asked for a refresh

    def over(self) -> bool:
        """True (and one phase line) when resident memory is above the ceiling."""
        if self.ceiling_bytes <= 0:
            return False
        rss = self._read()
        if rss is None or rss <= self.ceiling_bytes:
            return False
        self.asked += 1
        emit(
            "serve",
            "refresh",
            rss_mb=round(rss / 2**20, 1),
            ceiling_mb=round(self.ceiling_bytes / 2**20, 1),
            note="resident memory above WORKER_MEMORY_CEILING_MB: this job's output asks runpod "
            "to refresh the worker after it",
        )
        return True

    def mark(self, output: dict) -> dict:
        """`output` with the refresh request added when memory is above the ceiling."""
        if isinstance(output, dict) and self.over():
            output[REFRESH_KEY] = True
        return output
