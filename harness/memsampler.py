"""Sample a running container's process memory (no page cache) and keep the peak.

Reads the host's cgroup `memory.stat` for the container when this process can see it (the
harness runs on the Docker host), else Docker's stats API; see harness.memstat for the figures.
A daemon thread samples every `interval_s` while the container runs, so the peak is the largest
sample: a spike shorter than the interval can be missed (the cgroup high-water mark, which
includes page cache, is kept beside it).
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from harness.memstat import (
    CGROUP_ROOT,
    docker_stats_bytes,
    memory_stat_path,
    parse_memory_stat,
    process_bytes,
)


class ProcessMemoryPeak:
    def __init__(self, container: Any, interval_s: float = 0.5, root: Path = CGROUP_ROOT) -> None:
        self._container = container
        self._interval_s = interval_s
        self._root = root
        self._stat: tuple[Path, str] | None = None
        self.peak: int | None = None
        self.source = "unavailable (no memory.stat readable, docker stats gave no figure)"
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the thread and a caller's last sample() both update
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def read(self) -> tuple[int, str] | None:
        """The container's process memory now: (bytes, where it was read), or None."""
        if self._stat is None:  # not there yet (or not visible from here): look again
            self._stat = memory_stat_path(self._container.id, self._root)
        if self._stat is not None:
            path, version = self._stat
            try:
                found = process_bytes(parse_memory_stat(path.read_text()))
            except OSError:  # the container (and its cgroup) is gone
                return None
            return (found[0], f"{version} memory.stat {found[1]}") if found else None
        for kwargs in ({"one_shot": True}, {}):  # one_shot needs API 1.41; else ~1 s a call
            with contextlib.suppress(Exception):  # the container may be gone or the API refuse
                return docker_stats_bytes(self._container.stats(stream=False, **kwargs))
        return None

    def sample(self) -> None:
        """Take one sample now; keep it when it is the largest so far."""
        found = self.read()
        with self._lock:
            if found is not None and (self.peak is None or found[0] > self.peak):
                self.peak = found[0]
                self.source = f"{found[1]}, peak of samples every {self._interval_s:g} s"

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval_s)

    def start(self) -> ProcessMemoryPeak:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
