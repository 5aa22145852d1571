"""Fixtures for the worker tests: one tiny model per session, on a temporary volume."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from worker.settings import Settings


@pytest.fixture(scope="session")
def volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("volume")


@pytest.fixture(scope="session")
def settings(volume: Path) -> Settings:
    return Settings.from_env({"WORKER_VOLUME": str(volume), "WORKER_DEFAULT_NFE": "8"})


@pytest.fixture(scope="session")
def engine(settings: Settings):
    """The tiny model, made from the real classes and loaded through f5_tts, once per session."""
    from worker import tts

    tts.offline_env()
    files = tts.resolve_model(settings)
    return tts.Engine(files, tts.pick_device("cpu"), "fp32")


@pytest.fixture(scope="session")
def voice():
    from worker.handler import default_voice

    return default_voice()


@pytest.fixture(scope="session")
def handler(engine, settings, voice):
    from worker.handler import make_handler

    return make_handler(engine, settings, voice)


def tone(seconds: float = 1.5, sr: int = 16_000, fmt: str = "WAV", channels: int = 1) -> bytes:
    """A short voiced-like test signal encoded as `fmt` (real soundfile encoding)."""
    t = np.arange(int(seconds * sr)) / sr
    wave = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    if channels > 1:
        wave = np.stack([wave] * channels, axis=1)
    buf = io.BytesIO()
    sf.write(buf, wave, sr, format=fmt, subtype="VORBIS" if fmt == "OGG" else "PCM_16")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def decode_output(out: dict) -> tuple[np.ndarray, int]:
    data = base64.b64decode(out["audio_base64"])
    wave, sr = sf.read(io.BytesIO(data), dtype="float32")
    return wave, sr
