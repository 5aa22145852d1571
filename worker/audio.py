"""Audio in and out, on numpy arrays only (no temp files, no torch).

decode_reference: bytes (WAV/FLAC/OGG) -> float32 mono at 24 kHz, clipped to a duration limit.
encode: float32 wave -> WAV or FLAC bytes. cross_fade and remove_silence work on arrays.
"""

from __future__ import annotations

import base64
import binascii
import io
from math import gcd

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from worker.schema import RequestError

SAMPLE_RATE = 24_000
FORMATS = {"WAV", "FLAC", "OGG"}
MIN_REF_SECONDS = 0.5
SILENT_RMS = 1e-4  # below this the reference is silence; f5_tts would divide by its RMS


def b64decode(data: str, field: str, max_bytes: int) -> bytes:
    """Strict base64 -> bytes, refusing anything over `max_bytes` before decoding all of it."""
    if len(data) > (max_bytes * 4) // 3 + 4:
        raise RequestError(
            "ref_too_large",
            f"{field} decodes to more than {max_bytes} bytes (WORKER_MAX_REF_BYTES)",
            field,
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("invalid_base64", f"{field} is not valid base64", field) from None
    if len(raw) > max_bytes:
        raise RequestError(
            "ref_too_large",
            f"{field} is {len(raw)} bytes; the limit is {max_bytes} (WORKER_MAX_REF_BYTES)",
            field,
        )
    return raw


def resample(wave: np.ndarray, sr: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling to `target` Hz (exact ratio)."""
    if sr == target:
        return wave.astype(np.float32, copy=False)
    g = gcd(sr, target)
    return resample_poly(wave, target // g, sr // g).astype(np.float32)


def decode_reference(data: bytes, field: str, max_seconds: float) -> np.ndarray:
    """Decode a WAV/FLAC/OGG reference to float32 mono at 24 kHz, at most `max_seconds` long."""
    try:
        info = sf.info(io.BytesIO(data))
        if info.format not in FORMATS:
            raise RequestError(
                "unsupported_audio",
                f"{field} is {info.format}; allowed: WAV, FLAC, OGG",
                field,
            )
        wave, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except RequestError:
        raise
    except Exception as exc:  # soundfile raises several types for undecodable input
        raise RequestError(
            "unsupported_audio", f"{field} could not be decoded as WAV/FLAC/OGG: {exc}", field
        ) from None
    mono = wave.mean(axis=1)
    mono = mono[: int(max_seconds * sr)]
    if len(mono) < MIN_REF_SECONDS * sr:
        raise RequestError(
            "ref_too_short",
            f"{field} is {len(mono) / sr:.2f} s; at least {MIN_REF_SECONDS} s is needed",
            field,
        )
    if not np.all(np.isfinite(mono)):
        raise RequestError("unsupported_audio", f"{field} holds non-finite samples", field)
    out = resample(mono, sr)
    if float(np.sqrt(np.mean(np.square(out)))) < SILENT_RMS:
        raise RequestError("ref_silent", f"{field} is silent (RMS below {SILENT_RMS})", field)
    return out


def encode(wave: np.ndarray, fmt: str, sr: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV or FLAC bytes of a float wave (clipped to [-1, 1])."""
    buf = io.BytesIO()
    clipped = np.clip(np.nan_to_num(wave, nan=0.0), -1.0, 1.0)
    sf.write(buf, clipped, sr, format=fmt.upper(), subtype="PCM_16")
    return buf.getvalue()


def cross_fade(waves: list[np.ndarray], seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Join waves with a linear cross-fade of `seconds` (plain concatenation when 0)."""
    if not waves:
        return np.zeros(0, dtype=np.float32)
    out = waves[0]
    for nxt in waves[1:]:
        n = min(int(seconds * sr), len(out), len(nxt))
        if n <= 0:
            out = np.concatenate([out, nxt])
            continue
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        mixed = out[-n:] * (1.0 - ramp) + nxt[:n] * ramp
        out = np.concatenate([out[:-n], mixed, nxt[n:]])
    return out.astype(np.float32, copy=False)


def remove_silence(wave: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Drop silences longer than 1 s (keeping 0.5 s around speech), as f5_tts's CLI does.

    Uses pydub's silence splitting on an in-memory segment (f5_tts's own helper needs a file).
    """
    from pydub import AudioSegment, silence

    pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    seg = AudioSegment(data=pcm, sample_width=2, frame_rate=sr, channels=1)
    parts = silence.split_on_silence(
        seg, min_silence_len=1000, silence_thresh=-50, keep_silence=500, seek_step=10
    )
    if not parts:
        return wave
    joined = sum(parts[1:], parts[0])
    return np.frombuffer(joined.raw_data, dtype="<i2").astype(np.float32) / 32767
