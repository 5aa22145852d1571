"""Start the worker (`python -m worker --rp_serve_api`) on 127.0.0.1 for a benchmark script and
wait until its API answers; shared by scripts/bench_worker.py and scripts/soak.py."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.phases import parse_line  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalWorker:
    proc: subprocess.Popen[str]
    url: str  # http://127.0.0.1:PORT
    ready_s: float  # Popen to the worker's `ready` line
    phases: dict[str, dict] = field(default_factory=dict)  # the last record of each phase


@contextlib.contextmanager
def local_worker(volume: str, extra_env: dict[str, str] | None = None) -> Iterator[LocalWorker]:
    """The worker serving on a free port (offline, no RUNPOD_ settings of the host); stopped on
    the way out. A phase that fails before `ready` ends the script with its record."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")}
    env.update(WORKER_VOLUME=volume, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **(extra_env or {}))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "--rp_serve_api", "--rp_api_host", "127.0.0.1",
         "--rp_api_port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        phases: dict[str, dict] = {}
        for line in proc.stdout:
            record = parse_line(line)
            if record:
                phases[record["phase"]] = record
                if record["status"] == "fail":
                    raise SystemExit(f"start-up failed: {record}")
                if record["phase"] == "ready":
                    break
        else:
            raise SystemExit(f"the worker exited before `ready` (exit {proc.wait()})")
        ready_s = time.perf_counter() - t0
        # keep reading the worker's output: a full pipe would block the worker
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        while True:  # the API comes up just after `ready`
            try:
                urllib.request.urlopen(f"{url}/openapi.json", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        yield LocalWorker(proc, url, ready_s, phases)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
