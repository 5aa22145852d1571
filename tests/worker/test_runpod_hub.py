"""`.runpod/hub.json` and `.runpod/tests.json`: RunPod Hub's documented shape, the worker's own
settings (defaults, ranges, choices; a drift in worker/settings.py fails here), and every Hub test
input run through the real worker's local API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tests.worker.served import Served, http_json
from worker.settings import SettingError, Settings

ROOT = Path(__file__).resolve().parents[2]
HUB = ROOT / ".runpod" / "hub.json"
TESTS = ROOT / ".runpod" / "tests.json"
# The worker's user-facing settings the Hub form must offer.
USER_SETTINGS = {
    "WORKER_MODEL", "WORKER_PRECISION", "WORKER_DEVICE", "WORKER_DEFAULT_NFE",
    "WORKER_MAX_TEXT_CHARS", "WORKER_TRANSCRIBER", "WORKER_VOLUME_FALLBACK", "RUNPOD_INIT_TIMEOUT",
    "WORKER_JOB_TIMEOUT_S", "WORKER_MEMORY_CEILING_MB",
}  # fmt: skip
RUNPOD_START_LIMIT_S = 420  # RunPod marks a start over ~7 minutes unhealthy by default


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Option(Strict):
    label: str
    value: str


class Input(Strict):
    name: str
    type: Literal["string", "number", "boolean"]
    description: str
    default: str | int | float | bool
    options: list[Option] | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Input:
        if self.options is not None:
            assert self.type == "string" and self.default in [o.value for o in self.options]
        if self.type == "number":
            assert self.min is not None and self.max is not None
            assert self.min <= self.default <= self.max
        return self


class EnvEntry(Strict):
    key: str
    input: Input


class Preset(Strict):
    name: str
    defaults: dict[str, str | int | float | bool]


class HubConfig(Strict):
    runsOn: Literal["GPU", "CPU"]
    containerDiskInGb: int = Field(gt=0)
    gpuCount: int = Field(ge=1)
    gpuIds: str = Field(min_length=1)
    env: list[EnvEntry]
    presets: list[Preset] = []
    allowedCudaVersions: list[str] | None = None


class Hub(Strict):
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    type: Literal["serverless"]
    category: Literal["audio", "embedding", "language", "image", "video"]
    iconUrl: str | None = None
    config: HubConfig


class HubTest(Strict):
    name: str = Field(min_length=1)
    input: dict[str, Any]
    timeout: int = Field(gt=0)  # milliseconds


class HubTestEnv(Strict):
    key: str
    value: str


class HubTestsConfig(Strict):
    gpuTypeId: str = Field(min_length=1)
    gpuCount: int = Field(ge=1)
    env: list[HubTestEnv] = []
    allowedCudaVersions: list[str] | None = None


class HubTests(Strict):
    tests: list[HubTest] = Field(min_length=1)
    config: HubTestsConfig


def hub() -> Hub:
    return Hub.model_validate_json(HUB.read_text())


def hub_tests() -> HubTests:
    return HubTests.model_validate_json(TESTS.read_text())


def env_inputs() -> dict[str, Input]:
    return {e.key: e.input for e in hub().config.env}


def field(key: str) -> str:
    """WORKER_MAX_TEXT_CHARS -> max_text_chars (Settings' field)."""
    return key.removeprefix("WORKER_").lower()


def accepted(key: str, value: object) -> bool:
    try:
        Settings.from_env({key: str(value)})
    except SettingError:
        return False
    return True


def test_files_have_the_hub_shape() -> None:
    h, t = hub(), hub_tests()
    assert (h.type, h.category, h.config.runsOn) == ("serverless", "audio", "GPU")
    assert len({e.key for e in h.config.env}) == len(h.config.env)
    assert len({x.name for x in t.tests}) == len(t.tests)


def test_env_inputs_are_the_user_settings() -> None:
    assert set(env_inputs()) == USER_SETTINGS


@pytest.mark.parametrize("key", sorted(USER_SETTINGS - {"RUNPOD_INIT_TIMEOUT"}))
def test_env_defaults_and_ranges_match_the_worker_settings(key: str) -> None:
    spec, defaults = env_inputs()[key], Settings()
    assert spec.default == getattr(defaults, field(key)), f"{key}: Hub default drifted"
    assert accepted(key, spec.default)
    if spec.type == "number":
        assert accepted(key, spec.min) and accepted(key, spec.max)
        assert not accepted(key, spec.min - 1) and not accepted(key, spec.max + 1), key
    if spec.options is not None:
        assert all(accepted(key, o.value) for o in spec.options)
        assert not accepted(key, "not-an-option")


def test_init_timeout_covers_the_first_install() -> None:
    spec = env_inputs()["RUNPOD_INIT_TIMEOUT"]
    assert spec.type == "number" and spec.default > RUNPOD_START_LIMIT_S


def test_presets_and_test_env_use_valid_worker_values() -> None:
    for preset in hub().config.presets:
        assert set(preset.defaults) <= USER_SETTINGS
        Settings.from_env({k: str(v) for k, v in preset.defaults.items()})
    env = {e.key: e.value for e in hub_tests().config.env}
    assert all(k.startswith(("WORKER_", "RUNPOD_")) for k in env)
    workers = {k: v for k, v in env.items() if k.startswith("WORKER_")}
    assert all(hasattr(Settings(), field(k)) for k in workers), workers
    Settings.from_env(workers)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The real worker serving runpod's local API (tiny model, CPU here, as tests.json's env)."""
    worker = Served(tmp_path_factory.mktemp("hub-volume"), tmp_path_factory.mktemp("a") / "log")
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("case", hub_tests().tests, ids=lambda c: c.name)
def test_every_hub_test_completes_on_the_local_api(served: Served, case: HubTest) -> None:
    status, body = http_json(served.url("/runsync"), {"input": case.input}, case.timeout / 1000)
    assert status == 200 and body["status"] == "COMPLETED", json.dumps(body)[:2000]
    assert body["output"]["audio_base64"] and body["output"]["duration_s"] > 0
