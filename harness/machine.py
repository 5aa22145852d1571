"""Facts about this machine for the result record; the machine id names the results folder."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import socket
from pathlib import Path

from harness.gpus import gpu_inventory
from harness.results import Machine


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_bytes() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _docker_version() -> str:
    with contextlib.suppress(Exception):
        from harness.dockercli import engine

        return str(engine().version().get("Version", ""))
    return ""


@functools.cache
def machine_info() -> Machine:
    """This machine; id = <hostname>-<8 hex of a hash of machine-id, CPU, cores, memory>."""
    gpus = gpu_inventory()  # nvidia-smi when present, else none
    gpu = ", ".join(gpus.names) or None
    cpu, cores, mem = _cpu_model(), os.cpu_count() or 0, _memory_bytes()
    mid = ""
    with contextlib.suppress(OSError):
        mid = Path("/etc/machine-id").read_text().strip()
    digest = hashlib.sha256(f"{mid}|{cpu}|{cores}|{mem}|{gpu}".encode()).hexdigest()[:8]
    host = socket.gethostname().split(".")[0] or "host"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in host)[:40]
    return Machine(
        id=f"{safe}-{digest}",
        hostname=host,
        cpu=cpu,
        cores=cores,
        memory_bytes=mem,
        gpu=gpu,
        docker_version=_docker_version(),
        gpu_count=gpus.count,
        gpu_driver=gpus.driver,
    )
