"""GPUs: `run.gpus` as a Docker device request, the NVIDIA runtime check, nvidia-smi's inventory.

`run.gpus` is "all", a count N, or "device=0,1" (indices or UUIDs), as `docker run --gpus` takes
it. Docker hands such a request to the NVIDIA container runtime; an engine without one creates
the container and then fails to start it, so a config that asks for GPUs is refused first (before
any build) with the config exit code and what to install.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from docker.types import DeviceRequest

from harness.errors import HarnessError

_DEVICES = re.compile(r"^device=([A-Za-z0-9_-]+(?:,[A-Za-z0-9_-]+)*)$")
TOOLKIT_HINT = (
    "install the NVIDIA Container Toolkit (package nvidia-container-toolkit, "
    "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/), run "
    "`sudo nvidia-ctk runtime configure --runtime=docker` and restart Docker; or remove run.gpus"
)


@dataclass(frozen=True)
class GpuRequest:
    count: int = 0  # -1: all
    device_ids: tuple[str, ...] = ()

    def to_docker(self) -> dict[str, Any]:
        """The DeviceRequest fields `docker run --gpus` sends (driver chosen by Docker)."""
        out: dict[str, Any] = {"capabilities": [["gpu"]]}
        if self.device_ids:
            out["device_ids"] = list(self.device_ids)
        else:
            out["count"] = self.count
        return out


def parse_gpus(spec: str | int) -> GpuRequest:
    """'all' | N (>= 1) | 'device=ID[,ID...]' -> GpuRequest; ValueError naming the forms."""
    if isinstance(spec, bool):
        raise ValueError("run.gpus: expected 'all', a count or 'device=0,1', not a boolean")
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        count = int(spec)
        if count < 1:
            raise ValueError("run.gpus: a count must be 1 or more")
        return GpuRequest(count=count)
    if not isinstance(spec, str):
        raise ValueError(f"run.gpus {spec!r}: expected 'all', a count (2) or 'device=0,1'")
    text = spec.strip()
    if text == "all":
        return GpuRequest(count=-1)
    m = _DEVICES.match(text)
    if m:
        return GpuRequest(device_ids=tuple(m.group(1).split(",")))
    raise ValueError(f"run.gpus {spec!r}: expected 'all', a count (2) or 'device=0,1'")


def device_requests(spec: str | int | None) -> list[Any]:
    """docker-py DeviceRequest objects for `run.gpus` ([] when no GPUs are asked for)."""
    if spec is None:
        return []
    return [DeviceRequest(**parse_gpus(spec).to_docker())]


def has_nvidia_runtime(info: dict[str, Any]) -> bool:
    """Whether `docker info` lists an NVIDIA runtime (the toolkit registers one as `nvidia`)."""
    runtimes = info.get("Runtimes") or {}
    return (
        any("nvidia" in str(name).lower() for name in runtimes)
        or "nvidia" in str(info.get("DefaultRuntime", "")).lower()
    )


def require_gpu_runtime(spec: str | int | None, info: dict[str, Any]) -> None:
    """HarnessError(kind="config") when GPUs are asked for and the engine cannot give them."""
    if spec is None or has_nvidia_runtime(info):
        return
    names = ", ".join(sorted(info.get("Runtimes") or {})) or "none"
    raise HarnessError(
        f"run.gpus = {spec!r} asks for GPUs, but this Docker engine has no NVIDIA container "
        f"runtime (runtimes: {names})",
        "config",
        TOOLKIT_HINT,
    )


@dataclass(frozen=True)
class GpuInventory:
    names: tuple[str, ...] = ()
    driver: str | None = None

    @property
    def count(self) -> int:
        return len(self.names)

    @property
    def model(self) -> str | None:
        """The distinct GPU models, comma-separated (None: no GPU)."""
        return ", ".join(dict.fromkeys(self.names)) or None


def device_tag(spec: str | int, inventory: GpuInventory) -> str:
    """What a GPU baseline was measured on, e.g. `2 x NVIDIA A100 (driver 550.54), run.gpus=all`."""
    if inventory.count:
        what = f"{inventory.count} x {inventory.model}"
        if inventory.driver:
            what += f" (driver {inventory.driver})"
    else:
        what = "GPU (nvidia-smi not on this host)"
    return f"{what}, run.gpus={spec}"


def parse_nvidia_smi(text: str) -> GpuInventory:
    """Pure: `nvidia-smi --query-gpu=name,driver_version --format=csv,noheader` -> inventory."""
    names, drivers = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, _, driver = line.rpartition(",") if "," in line else (line, "", "")
        names.append(name.strip())
        if driver.strip():
            drivers.append(driver.strip())
    return GpuInventory(tuple(names), drivers[0] if drivers else None)


def gpu_inventory() -> GpuInventory:
    """This host's GPUs from nvidia-smi; empty when it is absent or fails."""
    if not shutil.which("nvidia-smi"):
        return GpuInventory()
    try:
        proc = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return GpuInventory()
    return parse_nvidia_smi(proc.stdout) if proc.returncode == 0 else GpuInventory()
