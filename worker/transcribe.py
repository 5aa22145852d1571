"""Optional transcription of a custom reference clip when a request gives no ref_text.

WORKER_TRANSCRIBER=none (default) imports nothing. =whisperx loads whisperx (not in the default
lock: build the venv from worker/requirements/whisperx.lock) with a local faster-whisper model
folder (a ctranslate2 conversion: model.bin, config.json, tokenizer.json) at start-up, offline:
pyannote's bundled VAD, audio passed as arrays (whisperx.load_audio would need the ffmpeg program).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from worker.phases import PhaseError
from worker.settings import Settings

ENABLE_HINT = (
    "build the worker venv from the lock that includes the optional transcriber "
    "(WORKER_LOCK=worker/requirements/whisperx.lock), and set WORKER_TRANSCRIBER_MODEL to a local "
    "faster-whisper model folder (ctranslate2 conversion with tokenizer.json)"
)


class Transcriber(Protocol):
    def transcribe(self, audio: np.ndarray, sr: int) -> str:
        """The words spoken in `audio` (float32 mono at `sr` Hz)."""
        ...


class WhisperXTranscriber:
    """whisperx on numpy arrays (whisperx.load_audio would need the ffmpeg program)."""

    def __init__(self, model: Any, language: str | None = None) -> None:
        self.model = model
        self.language = language

    def transcribe(self, audio: np.ndarray, sr: int) -> str:
        from worker.audio import resample

        wave = resample(audio, sr, 16_000)  # whisper models take 16 kHz
        result = self.model.transcribe(wave, batch_size=1, language=self.language)
        return " ".join(s["text"].strip() for s in result.get("segments", [])).strip()


def import_backend(settings: Settings) -> Any:
    """The whisperx module when enabled (imports phase), else None; never imported otherwise."""
    if settings.transcriber == "none":
        return None
    try:
        import whisperx  # optional: only imported when enabled
    except ImportError as exc:
        raise PhaseError(
            "imports",
            f"WORKER_TRANSCRIBER=whisperx but whisperx cannot be imported ({exc})",
            ENABLE_HINT,
        ) from None
    return whisperx


def load_transcriber(settings: Settings, device: str, backend: Any) -> Transcriber | None:
    """The configured transcriber (model phase), or None when disabled."""
    if backend is None:
        return None
    if not settings.transcriber_model:
        raise PhaseError(
            "model",
            "WORKER_TRANSCRIBER=whisperx needs WORKER_TRANSCRIBER_MODEL (a local model folder)",
            ENABLE_HINT,
        )
    folder = Path(settings.transcriber_model)
    if not (folder / "model.bin").is_file():  # else faster-whisper reads the name as a hub id
        raise PhaseError(
            "model",
            f"WORKER_TRANSCRIBER_MODEL={folder} is not a faster-whisper model folder "
            "(no model.bin in it)",
            ENABLE_HINT,
        )
    try:
        model = backend.load_model(
            settings.transcriber_model,
            device,
            compute_type="float16" if device == "cuda" else "int8",
            language="en",
            vad_method="pyannote",  # silero would download from torch hub
        )
    except Exception as exc:
        raise PhaseError(
            "model",
            f"could not load the transcriber from {settings.transcriber_model}: {exc}",
            ENABLE_HINT,
        ) from None
    return WhisperXTranscriber(model, language="en")
