"""RunPod fitness checks: prove, before the first job, that the loaded model answers and the GPU
computes.

runpod (>= 1.9) runs registered checks once before the worker takes jobs, on the platform only (not
with --rp_serve_api or --test_input); a check that raises makes runpod exit 1 and the worker is
marked unhealthy instead of failing every job it is given.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import runpod
import torch

PROBE = {"text": "Fitness check.", "nfe_step": 4, "seed": 0}
MATMUL_SIZE = 64
# TF32/fp16 kernels on a GPU differ from CPU fp32 by ~1e-3 relative; a broken device is far off.
MATMUL_RTOL = 1e-2

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class FitnessError(RuntimeError):
    """A fitness check failed; the message says which and why."""


def model_answers(handler: Handler) -> int:
    """One short synthesis through the real handler; returns the audio's byte count."""
    out = handler({"input": PROBE})
    if "error" in out:
        raise FitnessError(f"the model did not answer a short synthesis: {out['error']}")
    audio = base64.b64decode(out.get("audio_base64") or "")
    if not audio or not out.get("duration_s"):
        raise FitnessError(
            f"the short synthesis returned no audio: duration {out.get('duration_s')}"
        )
    return len(audio)


def device_computes(device: str) -> float:
    """A small seeded matmul on `device` compared with the same on CPU; returns the max relative
    error (raises FitnessError above MATMUL_RTOL, or when the result is not finite)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(MATMUL_SIZE, MATMUL_SIZE, generator=gen)
    b = torch.randn(MATMUL_SIZE, MATMUL_SIZE, generator=gen)
    expected = a @ b
    got = (a.to(device) @ b.to(device)).to("cpu", torch.float32)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    if not torch.isfinite(got).all():
        raise FitnessError(
            f"a {MATMUL_SIZE}x{MATMUL_SIZE} matmul on {device} gave non-finite values"
        )
    err = float(((got - expected).abs().max() / expected.abs().max()).item())
    if err > MATMUL_RTOL:
        raise FitnessError(
            f"a {MATMUL_SIZE}x{MATMUL_SIZE} matmul on {device} differs from CPU by {err:.3g} "
            f"(relative; allowed {MATMUL_RTOL:g})"
        )
    return err


def checks(handler: Handler, device: str) -> list[Callable[[], None]]:
    """The worker's checks, named as runpod logs them: the model always, the device on CUDA."""

    def f5tts_model_answers() -> None:
        model_answers(handler)

    def f5tts_cuda_computes() -> None:
        device_computes(device)

    return [f5tts_model_answers] + ([f5tts_cuda_computes] if device == "cuda" else [])


def register(handler: Handler, device: str) -> list[str]:
    """Register the checks with runpod; returns their names (for the log)."""
    found = checks(handler, device)
    for check in found:
        runpod.serverless.register_fitness_check(check)
    return [check.__name__ for check in found]
