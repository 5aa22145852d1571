"""The worker's RunPod fitness checks, run in this process with the real tiny engine.

runpod runs registered checks only on the platform (never with --rp_serve_api), so the tests
register them through runpod's real registry and call them as its runner does: no arguments, a
raise means unhealthy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runpod.serverless.modules import rp_fitness

from worker import fitness
from worker.handler import make_handler

pytestmark = [pytest.mark.torch, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# A worker process up to the point where runpod would serve on the platform: the real engine, our
# checks registered, then runpod's own runner (its GPU/system checks off: this is not a RunPod
# host). argv[1] "broken" gives the handler an engine whose synthesis raises.
RUNNER = """
import asyncio, sys
from worker import tts
tts.offline_env()
from runpod.serverless.modules.rp_fitness import run_fitness_checks
from tests.worker.test_fitness import BrokenEngine
from worker import fitness
from worker.handler import default_voice, make_handler
from worker.settings import Settings
settings = Settings.from_env()
engine = tts.Engine(tts.resolve_model(settings), "cpu", "fp32")
if sys.argv[1] == "broken":
    engine = BrokenEngine(engine)
fitness.register(make_handler(engine, settings, default_voice()), "cpu")
asyncio.run(run_fitness_checks())
print("SERVING")
"""


class BrokenEngine:
    """The real engine, except that synthesis fails as a broken GPU or model would."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def synthesize(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


@pytest.fixture
def registry() -> Iterator[list]:
    """runpod's own check list, emptied before and after each test."""
    rp_fitness.clear_fitness_checks()
    yield rp_fitness._fitness_checks
    rp_fitness.clear_fitness_checks()


def test_registered_checks_pass_with_the_real_engine(handler, registry: list) -> None:
    names = fitness.register(handler, "cpu")
    assert names == ["f5tts_model_answers"] == [c.__name__ for c in registry]
    for check in registry:  # as runpod's runner calls a sync check
        assert check() is None


def test_model_answers_returns_audio(handler) -> None:
    assert fitness.model_answers(handler) > 1000


def test_a_failing_synthesis_fails_the_check(engine, settings, voice, registry: list) -> None:
    broken = make_handler(BrokenEngine(engine), settings, voice)
    fitness.register(broken, "cpu")
    with pytest.raises(fitness.FitnessError, match="illegal memory access"):
        registry[0]()


def test_cuda_registers_the_device_check_too(handler, registry: list) -> None:
    assert fitness.register(handler, "cuda") == ["f5tts_model_answers", "f5tts_cuda_computes"]


def test_device_check_runs_on_cpu() -> None:
    """The CUDA path cannot run here; the same comparison on CPU must agree exactly."""
    assert fitness.device_computes("cpu") == 0.0


@pytest.mark.parametrize("kind", ["good", "broken"])
def test_runpods_runner_passes_a_good_engine_and_exits_1_on_a_broken_one(
    engine, settings, kind: str
) -> None:
    """`engine` first: the tiny model is made on the session volume the subprocess reads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "WORKER_"))}
    env.update(
        WORKER_VOLUME=settings.volume, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1",
        RUNPOD_SKIP_AUTO_SYSTEM_CHECKS="true", RUNPOD_SKIP_GPU_CHECK="true",
    )  # fmt: skip
    out = subprocess.run([sys.executable, "-c", RUNNER, kind], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    log = out.stdout + out.stderr
    if kind == "good":
        assert out.returncode == 0 and "SERVING" in out.stdout, log[-3000:]
        assert "All fitness checks passed" in log
    else:
        assert out.returncode == 1 and "SERVING" not in out.stdout, log[-3000:]
        assert "Fitness check failed: f5tts_model_answers" in log and "illegal memory" in log
