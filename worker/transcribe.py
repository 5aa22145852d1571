"""Optional transcription of a custom reference clip when a request gives no ref_text.

WORKER_TRANSCRIBER=none (default) imports nothing. =whisperx loads whisperx (not in the default
lock; see worker/requirements/whisperx.in) from a local model folder at start-up.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from worker.phases import PhaseError
from worker.settings import Settings

ENABLE_HINT = (
    "install the optional transcriber into the worker venv: pip install -r "
    "worker/requirements/whisperx.in (or build the venv from a lock that includes it), and set "
    "WORKER_TRANSCRIBER_MODEL to a local faster-whisper model folder"
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
