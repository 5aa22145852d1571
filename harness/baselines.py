"""Baselines: named, committed result records (baselines/<name>.json) to compare against."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from harness.atomic import write_atomic
from harness.errors import HarnessError
from harness.results import Result

BASELINE_FORMAT = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")


class Baseline(BaseModel):
    baseline_format: int = BASELINE_FORMAT
    name: str
    recorded_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())
    device: str | None = None  # GPU baselines: the device measured on (harness.gpus.device_tag)
    result: Result


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise HarnessError(
            f"bad baseline name {name!r}",
            "baseline",
            "use letters, digits, '.', '_' or '-' (e.g. reference-cpu)",
        )
    return name


def baseline_path(folder: Path, name: str) -> Path:
    return Path(folder) / f"{check_name(name)}.json"


def exists(folder: Path, name: str) -> bool:
    return bool(_NAME.match(name)) and baseline_path(folder, name).is_file()


def save(folder: Path, name: str, result: Result, *, device: str | None = None) -> Path:
    if result.error is not None:
        raise HarnessError(
            f"{result.commit.sha[:12]} did not measure cleanly ({result.error['message']})",
            "baseline",
            "a baseline must be a commit that builds, starts and answers",
        )
    text = Baseline(name=name, device=device, result=result).model_dump_json(indent=2) + "\n"
    return write_atomic(baseline_path(folder, name), text)


def load(folder: Path, name: str) -> Baseline:
    path = baseline_path(folder, name)
    try:
        raw = json.loads(path.read_text())
        return Baseline.model_validate(raw)
    except FileNotFoundError:
        raise HarnessError(
            f"no baseline {name!r} ({path})",
            "baseline",
            "record one with `harness baseline record REV --name NAME`",
        ) from None
    except (ValueError, ValidationError) as exc:
        raise HarnessError(
            f"baseline {path} is unreadable ({str(exc).splitlines()[0]})",
            "baseline",
            "re-record it with `harness baseline record`",
        ) from None
