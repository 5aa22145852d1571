"""One request: validate -> reference voice -> synthesise -> encode. Errors come back as data.

`make_handler` closes over what start-up loaded (engine, default voice, transcriber), so a request
does no loading. Every refusal is `{"error": '{"code", "field", "message"}'}`, which runpod marks
FAILED; nothing escapes the handler, so the worker keeps serving. The error object travels as
a JSON string: runpod's local API declares `error: Optional[str]` and answers HTTP 500 to a dict.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import secrets
import time
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import numpy as np

from worker import audio, fetch
from worker.schema import SEED_MAX, RequestError, TTSRequest, parse_request
from worker.settings import Settings
from worker.transcribe import Transcriber
from worker.tts import Engine, estimate_seconds, normalize_ref_text

log = logging.getLogger("worker")


@dataclasses.dataclass(frozen=True)
class Voice:
    wave: np.ndarray  # float32 mono 24 kHz
    text: str


def default_voice() -> Voice:
    """The bundled voice (worker/voices/default.flac and its exact words)."""
    folder = files("worker") / "voices"
    data = (folder / "default.flac").read_bytes()
    wave = audio.decode_reference(data, "default voice", max_seconds=12.0)
    return Voice(wave, (folder / "default.txt").read_text(encoding="utf-8").strip())


def reference(
    req: TTSRequest, settings: Settings, voice: Voice, transcriber: Transcriber | None
) -> Voice:
    """The request's reference clip and its words, or the default voice."""
    if req.ref_audio_base64 is not None:
        field = "ref_audio_base64"
        data = audio.b64decode(req.ref_audio_base64, field, settings.max_ref_bytes)
    elif req.ref_audio_url is not None:
        field = "ref_audio_url"
        data = fetch.fetch(
            req.ref_audio_url,
            max_bytes=settings.max_ref_bytes,
            timeout=settings.url_timeout_s,
            allow_private=settings.allow_private_urls,
        )
    else:
        return voice
    wave = audio.decode_reference(
        data, field, settings.max_ref_seconds, max_channels=settings.max_ref_channels
    )
    text = (req.ref_text or "").strip()
    if not text and transcriber is not None:
        text = transcriber.transcribe(wave, audio.SAMPLE_RATE).strip()
        if not text:
            raise RequestError("ref_text_required", "no words heard in the reference", "ref_text")
    return Voice(wave, text)


def synthesize(
    raw: Any,
    engine: Engine,
    settings: Settings,
    voice: Voice,
    transcriber: Transcriber | None,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    req = parse_request(raw, settings, has_transcriber=transcriber is not None)
    ref = reference(req, settings, voice, transcriber)
    ref_text = normalize_ref_text(ref.text)
    ref_seconds = len(ref.wave) / audio.SAMPLE_RATE
    chunks = engine.plan(req.text, ref_text, ref_seconds, req.speed)
    estimate = estimate_seconds(ref_seconds, ref_text, chunks, req.speed)
    if estimate > settings.max_output_seconds:
        raise RequestError(
            "output_too_long",
            f"this text would give about {estimate:.0f} s of audio; the limit is "
            f"{settings.max_output_seconds:g} s (WORKER_MAX_OUTPUT_SECONDS): shorten text, "
            "raise speed, or give a ref_text that matches the reference audio",
            "text",
        )
    seed = req.seed if req.seed is not None else secrets.randbelow(SEED_MAX + 1)
    t1 = time.perf_counter()
    result = engine.synthesize(
        ref.wave,
        ref_text,
        chunks,
        nfe_step=req.nfe_step or settings.default_nfe,
        cfg_strength=req.cfg_strength,
        sway_sampling_coef=req.sway_sampling_coef,
        speed=req.speed,
        cross_fade_duration=req.cross_fade_duration,
        seed=seed,
    )
    t2 = time.perf_counter()
    wave = audio.remove_silence(result.wave) if req.remove_silence else result.wave
    data = audio.encode(wave, req.output_format)
    t3 = time.perf_counter()
    duration = len(wave) / audio.SAMPLE_RATE
    return {
        "audio_base64": base64.b64encode(data).decode("ascii"),
        "sample_rate": audio.SAMPLE_RATE,
        "format": req.output_format,
        "duration_s": round(duration, 3),
        "seed": seed,
        "ref_text_used": ref.text,
        "num_chunks": result.num_chunks,
        "timings": {
            "preprocess_ms": round((t1 - t0) * 1000, 1),
            "synthesis_ms": round((t2 - t1) * 1000, 1),
            "encode_ms": round((t3 - t2) * 1000, 1),
            "total_ms": round((t3 - t0) * 1000, 1),
            "rtf": round((t2 - t1) / duration, 4) if duration > 0 else None,
        },
    }


def error_of(output: dict[str, Any]) -> dict[str, Any] | None:
    """The error object in a handler output, or None for a success."""
    return json.loads(output["error"]) if "error" in output else None


def make_handler(
    engine: Engine, settings: Settings, voice: Voice, transcriber: Transcriber | None = None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The runpod handler: job -> output dict or {"error": {...}}; never raises."""

    def handler(job: dict[str, Any]) -> dict[str, Any]:
        try:
            raw = job.get("input") if isinstance(job, dict) else None
            return synthesize(raw, engine, settings, voice, transcriber)
        except RequestError as err:
            return {"error": json.dumps(err.as_dict())}
        except Exception as exc:
            log.exception("request failed")
            message = f"{type(exc).__name__}: {str(exc)[:300]}"
            return {"error": json.dumps({"code": "internal", "field": None, "message": message})}

    return handler
