"""An engine's machine facts, read from its own `docker info` (the machine the worker runs on,
which for a remote engine is not the machine the harness runs on), and its result-store folder."""

from __future__ import annotations

import contextlib
import functools
import hashlib
from typing import Any

from harness.engines import Engine
from harness.results import EngineRecord


def facts_from_info(engine: Engine, info: dict[str, Any]) -> EngineRecord:
    """Pure: `docker info` (as docker-py returns it) -> the engine's record."""
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    devices = info.get("DiscoveredDevices") or []  # Docker 28+: CDI devices
    gpus = sorted(
        str(d.get("ID", ""))
        for d in devices
        if isinstance(d, dict) and "gpu" in str(d.get("ID", "")).lower()
    )
    return EngineRecord(
        name=engine.name,
        endpoint_kind=engine.kind,
        endpoint=engine.endpoint,
        labels=dict(engine.labels),
        engine_id=str(info.get("ID") or ""),
        server_version=str(info.get("ServerVersion") or ""),
        os=str(info.get("OperatingSystem") or ""),
        os_type=str(info.get("OSType") or ""),
        arch=str(info.get("Architecture") or ""),
        kernel=str(info.get("KernelVersion") or ""),
        cpus=int(info.get("NCPU") or 0),
        memory_bytes=int(info.get("MemTotal") or 0),
        runtimes=runtimes,
        default_runtime=str(info.get("DefaultRuntime") or ""),
        nvidia_runtime="nvidia" in runtimes,
        gpus=gpus,
    )


@functools.cache
def engine_facts(engine: Engine) -> EngineRecord:
    """The engine's record from its `docker info` (asked once per process and engine)."""
    client = engine.client(timeout=60)
    with contextlib.closing(client):
        return facts_from_info(engine, client.info())


def store_folder(host_machine_id: str, record: EngineRecord) -> str:
    """The results folder of an engine's records: the host's machine id for the default engine
    (as before engines existed), else `engine-<name>-<8 hex of its endpoint and daemon ID>`."""
    if record.endpoint == "default":
        return host_machine_id
    digest = hashlib.sha256(f"{record.endpoint}|{record.engine_id}".encode()).hexdigest()[:8]
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in record.name)[:40]
    return f"engine-{safe}-{digest}"
