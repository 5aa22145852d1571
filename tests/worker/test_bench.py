"""Benchmarks of the in-process request path on the tiny model (run with `pytest -m perf`)."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.perf, pytest.mark.torch]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fresh_handler(settings):
    """A handler in the state `python -m worker` serves with: loaded, warmed up once."""
    from worker import tts
    from worker.__main__ import WARMUP
    from worker.handler import default_voice, make_handler

    tts.offline_env()
    engine = tts.Engine(tts.resolve_model(settings), "cpu", "fp32")
    handler = make_handler(engine, settings, default_voice())
    assert "error" not in handler({"input": WARMUP})
    return handler


@pytest.mark.parametrize("nfe", [16])
def test_handler_warm_latency(benchmark, fresh_handler, nfe):
    job = json.loads((ROOT / "test_input.json").read_text())
    job["input"]["nfe_step"] = nfe

    t0 = time.perf_counter()
    out = fresh_handler(job)
    first = time.perf_counter() - t0
    assert "error" not in out, out

    warm = []
    for _ in range(5):
        t0 = time.perf_counter()
        fresh_handler(job)
        warm.append(time.perf_counter() - t0)

    result = benchmark.pedantic(fresh_handler, args=(job,), rounds=10, iterations=1)
    assert "error" not in result
    ratio = first / statistics.median(warm)
    benchmark.extra_info.update(
        first_request_s=round(first, 4),
        warm_median_s=round(statistics.median(warm), 4),
        first_over_warm=round(ratio, 3),
        audio_s=out["duration_s"],
        nfe=nfe,
    )
    assert ratio < 3, f"first request {first:.3f}s is {ratio:.1f}x the warm median (lazy work?)"
