"""harness.toml -> `Config`: what to build, how to run it, what to time, which limits apply.

Everything about the worker under test is configured from the harness's side, so any runpod
worker repository with a Dockerfile can be measured without changing it. Unknown keys are errors
(a typo must not silently fall back to a default).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.endpoints import check_endpoint
from harness.errors import HarnessError
from harness.gpus import parse_gpus

DEFAULT_RUN_ARGS = ["--rp_serve_api", "--rp_api_host", "0.0.0.0", "--rp_api_port", "8000"]
CA_BUNDLE_TARGET = "/etc/harness/ca-bundle.crt"  # where run.ca_bundle appears in a container
CA_BUNDLE_VARS = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BuildConfig(_Strict):
    dockerfile: str = "Dockerfile"  # relative to the repository root at the commit
    context: str = "."  # build context directory, relative to the repository root
    args: dict[str, str] = Field(default_factory=dict)  # --build-arg NAME=VALUE
    # base-image mapping: a name the Dockerfile uses -> the local image to build from instead
    base_images: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)  # --secret id=KEY,src=VALUE
    docker: str = "auto"  # docker CLI to build with; auto: the first one on PATH with BuildKit
    tag_prefix: str = "harness"  # images are tagged <tag_prefix>/<reponame>:<sha12>
    timeout_s: float = 3600.0
    # A base that is not local, not mapped and cannot be pulled, in a known family (python,
    # runpod/base, runpod/pytorch): "auto" builds FROM its local stand-in (harness/standins.py).
    stand_ins: Literal["auto", "off"] = "auto"
    base_probe_timeout_s: float = Field(20.0, gt=0)  # asking a registry whether a base exists
    # A CA bundle every RUN step gets as a BuildKit secret, with SSL_CERT_FILE, PIP_CERT,
    # REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE pointing at it for that step only.
    ca_bundle: str | None = None


class Mount(_Strict):
    source: str  # host path (~ expanded; relative: to the config file's folder)
    target: str
    read_only: bool = False
    create: bool = True  # make the host folder when missing (never for files)


class RunConfig(_Strict):
    args: list[str] = Field(default_factory=lambda: list(DEFAULT_RUN_ARGS))
    port: int = Field(8000, ge=1, le=65535)  # the container port the API listens on
    env: dict[str, str] = Field(default_factory=dict)
    mounts: list[Mount] = Field(default_factory=list)
    network: str = "bridge"
    ready_timeout_s: float = Field(120.0, gt=0)
    request_timeout_s: float = Field(300.0, gt=0)
    memory_limit: str | None = None  # docker --memory, e.g. "8g"
    # argv that replaces the image's ENTRYPOINT and CMD both (unset: run.args go after the
    # ENTRYPOINT, or after the CMD of an image without one; see harness/runargv.py)
    command: list[str] | None = Field(None, min_length=1)
    # host CA bundle mounted read-only at CA_BUNDLE_TARGET, with SSL_CERT_FILE, PIP_CERT,
    # REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE pointing at it
    ca_bundle: str | None = None
    gpus: str | int | None = None  # "all" | N | "device=0,1" -> a Docker device request

    @field_validator("gpus", mode="before")
    @classmethod
    def _gpus_form(cls, value: Any) -> Any:
        if value is not None:
            parse_gpus(value)  # ValueError names the accepted forms
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _env_as_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value


class RequestsConfig(_Strict):
    # Payloads ({"input": {...}}) timed in turn. Empty: the repo's `file` at the measured commit.
    payloads: list[dict[str, Any]] = Field(default_factory=list)
    file: str = "test_input.json"


class Limits(_Strict):
    image_hard_bytes: int = 5_000_000_000
    image_target_bytes: int = 2_000_000_000
    warm_latency_target_s: float = 3.0
    ready_target_s: float | None = None  # a target: reported, does not fail
    ready_hard_s: float | None = None  # a hard limit: crossing it fails compare
    warm_latency_hard_s: float | None = None
    # first-ever start on an empty volume (measure --cold-volume): crossing it fails compare
    cold_ready_hard_s: float | None = None


class MeasureConfig(_Strict):
    samples: int = Field(10, ge=1, le=1000)
    compressed_size: bool = True  # gzip each layer of `docker save` (exact, costs a pass)
    results_dir: str = "results"
    baselines_dir: str = "baselines"


class CompareConfig(_Strict):
    threshold: float = Field(0.20, gt=0, lt=10)  # latency: relative change that counts
    alpha: float = Field(0.05, gt=0, lt=1)
    size_threshold: float = Field(0.05, gt=0, lt=10)  # image size (exact metric)
    # ready_s is one sample a side and swings +-70% on a shared 2-core machine, so by default it
    # is reported, not gated; set ready_time_counts = true to gate on the margins below.
    ready_time_counts: bool = False
    startup_threshold: float = Field(0.50, gt=0, lt=100)  # relative margin ...
    startup_slack_s: float = Field(5.0, ge=0)  # ... and at least this many seconds slower


class EngineTLS(_Strict):
    """Client TLS files of a tcp:// engine (relative paths: to the config file's folder)."""

    ca: str
    cert: str
    key: str
    verify: bool = True


class EngineConfig(_Strict):
    """One [[engines]] entry: a Docker endpoint the harness can build, run and time on."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    endpoint: str  # unix:///path | ssh://user@host | tcp://host:2376 | a Docker context name
    labels: dict[str, str] = Field(default_factory=dict)  # e.g. gpu = "H100", arch = "amd64"
    tls: EngineTLS | None = None  # tcp:// only
    build_on: str | None = None  # another engine's name: build there, move the image here

    @field_validator("endpoint")
    @classmethod
    def _endpoint_form(cls, value: str) -> str:
        return check_endpoint(value)

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _tls_on_tcp(self) -> EngineConfig:
        if self.tls is not None and not self.endpoint.startswith("tcp://"):
            raise ValueError(f"engine {self.name!r}: tls files apply to tcp:// endpoints only")
        return self


class Config(_Strict):
    build: BuildConfig = Field(default_factory=BuildConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    requests: RequestsConfig = Field(default_factory=RequestsConfig)
    limits: Limits = Field(default_factory=Limits)
    measure: MeasureConfig = Field(default_factory=MeasureConfig)
    compare: CompareConfig = Field(default_factory=CompareConfig)
    # [[engines]]: the Docker endpoints to build, run and time on (none: the local engine)
    engines: list[EngineConfig] = Field(default_factory=list)
    # Folder relative paths are resolved against (the config file's folder); not in the file.
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    @model_validator(mode="after")
    def _engine_names(self) -> Config:
        names = [e.name for e in self.engines]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"engine names must be unique; repeated: {', '.join(twice)}")
        builds = {e.name: e.build_on for e in self.engines}
        for e in self.engines:
            if e.build_on is not None and (e.build_on not in names or e.build_on == e.name):
                raise ValueError(
                    f"engine {e.name!r}: build_on = {e.build_on!r} is not another engine's name"
                )
            if e.build_on is not None and builds[e.build_on] is not None:
                raise ValueError(
                    f"engine {e.name!r}: build_on = {e.build_on!r} names an engine that does not "
                    "build itself"
                )
        return self

    def path(self, value: str) -> Path:
        """`value` with ~ expanded, relative to the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def fingerprint(self) -> str:
        """Hash of everything that changes what a measurement means (not where results go; the
        engine a result was measured on is in the record and its store folder)."""
        data = self.model_dump(mode="json", exclude={"measure", "compare", "limits", "engines"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def parse_config(text: str, base_dir: Path, origin: str = "harness.toml") -> Config:
    """Pure: TOML text -> Config, or HarnessError(kind="config") naming the bad key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(
            f"{origin}: not valid TOML ({exc})", "config", "fix the syntax"
        ) from None
    try:
        return Config.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HarnessError(
            f"{origin}: {where}: {first['msg']}",
            "config",
            f"see docs/harness.md for the keys ({exc.error_count()} problem(s))",
        ) from None


def load_config(path: Path | None = None) -> Config:
    """Read harness.toml (None: ./harness.toml; a missing default file gives the defaults)."""
    if path is None:
        default = Path.cwd() / "harness.toml"
        if not default.exists():
            return Config(base_dir=Path.cwd())
        path = default
    path = Path(path)
    if not path.is_file():
        raise HarnessError(
            f"config file {path} does not exist", "config", "pass --config PATH to a harness.toml"
        )
    return parse_config(path.read_text(), path.resolve().parent, origin=str(path))
