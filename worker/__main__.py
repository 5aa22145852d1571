"""`python -m worker [runpod flags]`: load everything warm, prove it with one synthesis, serve.

Phases (one JSON line each, worker/phases.py): imports -> device -> model -> warmup -> ready, then
runpod.serverless.start, which reads --rp_serve_api / --rp_api_host / --rp_api_port /
--test_input from sys.argv itself.
"""

from __future__ import annotations

import os

from worker import phases
from worker.phases import PhaseError, emit
from worker.settings import SettingError, Settings

WARMUP = {"text": "Warm up.", "nfe_step": 4, "seed": 0}
_current = ["env"]  # the phase running now, so an unexpected exception is blamed on it


def _enter(phase: str) -> None:
    _current[0] = phase


def start() -> None:
    try:
        settings = Settings.from_env()
    except SettingError as exc:
        raise PhaseError("env", str(exc), "fix or unset that environment variable") from None

    from worker import tts

    tts.offline_env()  # before f5_tts is imported anywhere
    # runpod's default DEBUG level logs every whole output (the audio's base64) per request.
    os.environ.setdefault("RUNPOD_LOG_LEVEL", "INFO")
    _enter("imports")
    try:
        from importlib.metadata import version

        import f5_tts.infer.utils_infer  # noqa: F401  (the slow import, timed here)
        import runpod
        import torch
    except ImportError as exc:
        raise PhaseError(
            "imports",
            f"{exc}",
            "the worker venv is incomplete: rebuild it from worker/requirements/f5tts.lock",
        ) from None
    from worker import transcribe

    backend = transcribe.import_backend(settings)
    emit(
        "imports",
        "ok",
        torch=torch.__version__,
        f5_tts=version("f5-tts"),
        runpod=version("runpod"),
        transcriber=settings.transcriber,
    )

    _enter("device")
    device = tts.pick_device(settings.device)
    gpu = {}
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        gpu = {"gpu": props.name, "gpu_memory_gb": round(props.total_memory / 2**30, 1)}
    dtype = tts.pick_dtype(device, settings.precision)
    emit("device", "ok", device=device, dtype=dtype, threads=torch.get_num_threads(), **gpu)

    _enter("model")
    from worker.handler import default_voice, make_handler

    files = tts.resolve_model(settings)
    engine = tts.Engine(files, device, dtype)
    transcriber = transcribe.load_transcriber(settings, device, backend)
    handler = make_handler(engine, settings, default_voice(), transcriber)
    emit(
        "model",
        "ok",
        model=files.name,
        checkpoint=str(files.ckpt),
        parameters=engine.parameters,
        transcriber=settings.transcriber,
    )

    _enter("warmup")
    out = handler({"input": WARMUP})
    if "error" in out:
        raise PhaseError("warmup", f"warm-up synthesis failed: {out['error']}", "see the log above")
    emit("warmup", "ok", synthesis_ms=out["timings"]["synthesis_ms"])
    from worker import fitness

    # runpod runs these once before the first job, on the platform only (docs/worker.md).
    fitness.register(handler, device)

    emit("ready", "ok")
    _enter("serve")
    runpod.serverless.start({"handler": handler})


def main() -> None:
    try:
        start()
    except PhaseError as err:
        phases.fail(err)
    except Exception as exc:
        cause = f"{type(exc).__name__}: {str(exc)[:500]}"
        phases.fail(PhaseError(_current[0], cause, "see the traceback above", unexpected=True))


if __name__ == "__main__":
    main()
