"""`python -m worker [runpod flags]`: load everything warm, prove it with one synthesis, serve.

Phases (one JSON line each, worker/phases.py): imports -> device -> model -> warmup -> ready, then
runpod.serverless.start, which reads --rp_serve_api / --rp_api_host / --rp_api_port /
--test_input from sys.argv itself. runpod serves the handler inside the long-life guards
(worker/serving.py); after a SIGTERM a `serve` line says what became of the job in flight.
"""

from __future__ import annotations

import os

from worker import heap, phases, venvmark
from worker.deadline import Deadline
from worker.guard import MemoryGuard
from worker.lifecycle import Lifecycle
from worker.phases import PhaseError, emit
from worker.serving import guarded
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
    except venvmark.VENV_FAULTS as exc:  # the venv's files: marked for a rebuild, once
        raise venvmark.imports_error(exc, os.environ.get("WORKER_VENV")) from None
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
    heap.release()  # loading and the warm-up leave ~200 MB free in the heap (docs/worker.md)
    emit("warmup", "ok", synthesis_ms=out["timings"]["synthesis_ms"])
    from worker import fitness

    # runpod runs these once before the first job, on the platform only (docs/worker.md).
    fitness.register(handler, device)

    lifecycle = Lifecycle(settings.sigterm_grace_s)
    deadline = Deadline(settings.job_timeout_s)
    deadline.attach(engine.model.transformer)  # checked at each step of the model
    served = guarded(handler, lifecycle, deadline, MemoryGuard(settings.memory_ceiling_mb))
    lifecycle.install()  # before runpod installs its own (it chains to ours per job)
    emit(
        "ready",
        "ok",
        job_timeout_s=settings.job_timeout_s,
        sigterm_grace_s=settings.sigterm_grace_s,
        memory_ceiling_mb=settings.memory_ceiling_mb,
    )
    _enter("serve")
    runpod.serverless.start({"handler": served})
    lifecycle.stopped()  # serving ended: after a SIGTERM, say what happened to the job


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
