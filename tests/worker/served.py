"""The real worker as a process: `python -m worker` offline, on runpod's local API or with
`--test_input`, its output lines kept (shared by the worker tests that start one)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.netutil import free_port
from worker.phases import parse_line

ROOT = Path(__file__).resolve().parents[2]
OFFLINE = Path(__file__).parent / "offline"
STARTUP_S = 240


def worker_env(volume: Path, audit: Path, **extra: str) -> dict[str, str]:
    """The test environment: no RUNPOD_/WORKER_ settings of the host, offline, audited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "WORKER_"))}
    env.update(
        WORKER_VOLUME=str(volume),
        PYTHONPATH=os.pathsep.join([str(OFFLINE), str(ROOT)]),
        OFFLINE_AUDIT_LOG=str(audit),
        HF_HUB_OFFLINE="1",
        WANDB_MODE="disabled",
        PYANNOTE_METRICS_ENABLED="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_worker(volume: Path, audit: Path, *args: str, **extra: str):
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        cwd=ROOT,
        env=worker_env(volume, audit, **extra),
        capture_output=True,
        text=True,
        timeout=STARTUP_S,
    )


def phase_lines(stdout: str) -> list[dict]:
    return [r for r in map(parse_line, stdout.splitlines()) if r]


def http_json(url: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read())


class Served:
    """A worker serving runpod's local API on 127.0.0.1, with its output lines collected."""

    def __init__(
        self, volume: Path, audit: Path, *, startup_s: float = STARTUP_S, **extra: str
    ) -> None:
        self.port = free_port()
        self.startup_s = startup_s
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worker", "--rp_serve_api", "--rp_api_host", "127.0.0.1",
             "--rp_api_port", str(self.port)],
            cwd=ROOT, env=worker_env(volume, audit, **extra), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_line(self, pred: Callable[[str], bool], timeout: float) -> str:
        """The next output line for which `pred` holds (fails the test after `timeout`, or
        when the worker has exited and said everything)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if pred(line):
                return line
        pytest.fail("line not seen; output:\n" + "".join(self.seen)[-4000:])

    def wait_ready(self) -> list[dict]:
        """Wait for the `ready` line (no phase may fail first), then for the API to answer;
        the phase records seen so far."""

        def ready(line: str) -> bool:
            record = parse_line(line)
            assert not (record and record["status"] == "fail"), record
            return bool(record and record["phase"] == "ready")

        self.wait_line(ready, self.startup_s)
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:  # the API comes up after `ready`
            try:
                if http_json(self.url("/openapi.json"), timeout=2)[0] == 200:
                    return phase_lines("".join(self.seen))
            except OSError:
                time.sleep(0.3)
        pytest.fail("API did not answer /openapi.json")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
