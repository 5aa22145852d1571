"""The versioned result record of one measured commit, and its store.

Store layout: <results_dir>/<machine-id>/<sha>.json (results/ is git-ignored). A stored record is
reused only when its schema version and the config fingerprint match; a partial record (build or
start-up failed) is stored too, so a failure is not re-measured unless asked (--force).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from harness.atomic import write_atomic

SCHEMA_VERSION = 1


class Machine(BaseModel):
    id: str
    hostname: str = ""
    cpu: str = ""
    cores: int = 0
    memory_bytes: int = 0
    gpu: str | None = None  # GPU model names from nvidia-smi, comma-separated (None: no GPU)
    docker_version: str = ""
    gpu_count: int = 0
    gpu_driver: str | None = None  # NVIDIA driver version (nvidia-smi)


class EngineRecord(BaseModel):
    """The Docker engine a result was measured on, with its machine facts (its `docker info`).

    A record without one (written before engines existed) was measured on the local engine."""

    name: str = "local"
    endpoint_kind: str = "context"  # unix | tcp | ssh | context ("default": the local engine)
    endpoint: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    engine_id: str = ""  # `docker info` ID: tells two daemons apart
    server_version: str = ""
    os: str = ""  # OperatingSystem
    os_type: str = ""  # linux | windows
    arch: str = ""  # Architecture (x86_64, aarch64)
    kernel: str = ""
    cpus: int = 0  # NCPU
    memory_bytes: int = 0  # MemTotal
    runtimes: list[str] = Field(default_factory=list)
    default_runtime: str = ""
    nvidia_runtime: bool = False  # an "nvidia" runtime is registered (NVIDIA container toolkit)
    gpus: list[str] = Field(default_factory=list)  # CDI GPU devices the engine reports, if any

    def same_engine(self, other: EngineRecord) -> bool:
        """Whether both samples came from one engine (its name and endpoint; the daemon's ID too
        when both records know it)."""
        ids = {self.engine_id, other.engine_id}
        return (self.name, self.endpoint) == (other.name, other.endpoint) and (
            "" in ids or len(ids) == 1
        )


LOCAL_ENGINE_RECORD = EngineRecord()


class CommitRecord(BaseModel):
    sha: str
    tree: str = ""
    subject: str = ""
    author: str = ""
    date: str = ""
    repo: str = ""


class Layer(BaseModel):
    size_bytes: int
    created_by: str = ""


class ImageRecord(BaseModel):
    built_ok: bool = False
    tag: str | None = None
    id: str | None = None
    cache_key: str | None = None
    size_bytes: int | None = None
    compressed_bytes: int | None = None
    compressed_method: str | None = None
    layers: list[Layer] = Field(default_factory=list)
    built: bool | None = None  # True: built now; False: reused by cache key
    build_s: float | None = None
    error: str | None = None
    log_tail: str | None = None
    cause: str | None = None  # the telling line of the build log (harness.cause)
    # bases replaced by a local stand-in: [{"ref", "image", "warnings": [what it lacks]}]
    stand_ins: list[dict[str, Any]] = Field(default_factory=list)


class StartupRecord(BaseModel):
    ok: bool = False
    exit_code: int | None = None  # None while running (ready) or never started
    phase: str | None = None  # failing phase, else the last phase the worker printed
    ready_s: float | None = None  # docker run -> /openapi.json answers
    worker_ready_s: float | None = None  # the worker's own "ready" line elapsed time
    timed_out: bool = False
    phases: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None
    log_tail: str | None = None
    # the first attempt (exit_code, phase, timed_out) when it never got ready and was retried
    retried: dict[str, Any] | None = None
    # one {phase, status, elapsed_s (the worker's clock), at_s (Docker's log timestamp minus the
    # container's StartedAt)} per phase line; see harness.startup_times
    phase_times: list[dict[str, Any]] = Field(default_factory=list)
    ready_gap_s: float | None = None  # the worker's ready line (at_s) -> the API answering
    cause: str | None = None  # never ready: the telling line of the log (harness.cause)
    # the argv the container ran (image ENTRYPOINT/CMD with run.args, or run.command)
    argv: list[str] = Field(default_factory=list)


class ColdStartRecord(BaseModel):
    """`measure --cold-volume`: one start on a fresh, empty volume (the first-ever start)."""

    ok: bool = False
    exit_code: int | None = None
    phase: str | None = None
    ready_s: float | None = None  # docker run -> the API answering
    worker_ready_s: float | None = None  # the worker's own "ready" line
    install_s: float | None = None  # the worker's `venv installed` line: the install alone
    venv_s: float | None = None  # the venv phase on Docker's clock (create + install + seal)
    phase_times: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None


class LatencyRecord(BaseModel):
    ok: bool = False
    first_s: float | None = None
    warm_p50_s: float | None = None
    warm_p95_s: float | None = None
    warm_min_s: float | None = None
    samples_s: list[float] = Field(default_factory=list)  # warm samples, in order
    worker_timings: list[dict[str, Any]] = Field(default_factory=list)  # output.timings
    interleaved_with: str | None = None  # sha of the commit measured alternately (compare)
    error: str | None = None
    cause: str | None = None  # a failed request: the telling line of the worker's log


class MemoryRecord(BaseModel):
    peak_bytes: int | None = None  # cgroup high-water mark: processes AND page cache
    method: str = ""
    peak_rss_bytes: int | None = None  # the processes' memory without page cache (sampled)
    memory_source: str = ""  # where peak_rss_bytes was read (cgroup v1/v2 key, docker stats)


class Result(BaseModel):
    schema_version: int = SCHEMA_VERSION
    harness_version: str = ""
    measured_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())
    config_fingerprint: str = ""
    machine: Machine
    commit: CommitRecord
    image: ImageRecord = Field(default_factory=ImageRecord)
    startup: StartupRecord = Field(default_factory=StartupRecord)
    latency: LatencyRecord = Field(default_factory=LatencyRecord)
    memory: MemoryRecord = Field(default_factory=MemoryRecord)
    cold_start: ColdStartRecord | None = None  # measured only with --cold-volume
    engine: EngineRecord | None = None  # None: the local engine (records before engines)
    error: dict[str, Any] | None = None  # {"kind", "message", "hint", "exit_code"} when partial

    @property
    def measured_on(self) -> EngineRecord:
        """The engine of this record (an old record without one: the local engine)."""
        return self.engine or LOCAL_ENGINE_RECORD

    @property
    def complete(self) -> bool:
        return self.error is None and self.startup.ok and self.latency.ok

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> Result:
        return cls.model_validate_json(text)


class ResultStore:
    """results/<machine-id>/<sha>.json under `root`."""

    def __init__(self, root: Path, machine_id: str) -> None:
        self.root = Path(root)
        self.machine_id = machine_id

    def path(self, sha: str) -> Path:
        return self.root / self.machine_id / f"{sha}.json"

    def load(self, sha: str, fingerprint: str | None = None) -> Result | None:
        """The stored record for `sha`, or None if absent, unreadable, or for another config."""
        path = self.path(sha)
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if raw.get("schema_version") != SCHEMA_VERSION:
            return None
        try:
            result = Result.model_validate(raw)
        except ValueError:
            return None
        if fingerprint is not None and result.config_fingerprint != fingerprint:
            return None
        return result

    def save(self, result: Result) -> Path:
        path = self.path(result.commit.sha)
        return write_atomic(path, result.to_json() + "\n")
