"""Audio in and out, on numpy arrays only (no temp files, no torch).

decode_reference: bytes (WAV/FLAC/OGG) -> float32 mono at 24 kHz, clipped to a duration limit,
decoding only what the limit keeps (a few KB of FLAC can hold hours of many-channel audio).
encode: float32 wave -> WAV or FLAC bytes. cross_fade and remove_silence work on arrays.
"""

from __future__ import annotations

import base64
import binascii
import io
from fractions import Fraction

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from worker.schema import RequestError

SAMPLE_RATE = 24_000
FORMATS = {"WAV", "FLAC", "OGG"}
MIN_REF_SECONDS = 0.5
SILENT_RMS = 1e-4  # below this the reference is silence; f5_tts would divide by its RMS
MIN_RATE, MAX_RATE = 8_000, 192_000  # sample rates accepted for a reference (Hz)
MAX_CHANNELS = 8  # default of WORKER_MAX_REF_CHANNELS
BLOCK_SAMPLES = 1 << 18  # samples (all channels) decoded at a time: 1 MB of float32
MAX_RATIO_TERM = 2000  # largest resampling factor used as is (filter: 20 * factor taps)


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


def resample_ratio(sr: int, target: int = SAMPLE_RATE) -> tuple[int, int]:
    """(up, down) for polyphase resampling `sr` -> `target`.

    The filter has 20 * max(up, down) taps, so a rate that shares few factors with `target`
    (e.g. 191999 Hz: 24000/191999) would need millions of taps and hundreds of MB. Such a ratio
    is replaced by the nearest one with `down` <= MAX_RATIO_TERM: for every integer rate from
    8 kHz to 192 kHz into 24 kHz or 16 kHz the length changes by at most 2.5e-4 (0.025 %, a pitch
    shift of 0.4 cent), and no factor exceeds 6000 (120 k taps; designing the filter peaks at
    about 5.5 MB).
    """
    exact = Fraction(target, sr)
    if max(exact.numerator, exact.denominator) <= MAX_RATIO_TERM:
        return exact.numerator, exact.denominator
    near = exact.limit_denominator(MAX_RATIO_TERM)
    return near.numerator, near.denominator


def resample(wave: np.ndarray, sr: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling to `target` Hz, float32 in and out (see `resample_ratio`)."""
    wave = np.asarray(wave, dtype=np.float32)
    if sr == target:
        return wave
    up, down = resample_ratio(sr, target)
    return np.asarray(resample_poly(wave, up, down), dtype=np.float32)


def _undecodable(field: str, exc: Exception) -> RequestError:
    return RequestError(
        "unsupported_audio", f"{field} could not be decoded as WAV/FLAC/OGG: {exc}", field
    )


def _check_header(f: sf.SoundFile, field: str, max_channels: int) -> None:
    """Refuse what the header alone shows the worker will not decode."""
    if f.format not in FORMATS:
        raise RequestError(
            "unsupported_audio", f"{field} is {f.format}; allowed: WAV, FLAC, OGG", field
        )
    if not MIN_RATE <= f.samplerate <= MAX_RATE:
        raise RequestError(
            "unsupported_audio",
            f"{field} has a sample rate of {f.samplerate} Hz; allowed: {MIN_RATE} to {MAX_RATE} Hz",
            field,
        )
    if not 1 <= f.channels <= max_channels:
        raise RequestError(
            "unsupported_audio",
            f"{field} has {f.channels} channels; at most {max_channels} are allowed "
            "(WORKER_MAX_REF_CHANNELS)",
            field,
        )


def _read_mono(f: sf.SoundFile, frames: int, field: str) -> np.ndarray:
    """At most `frames` frames of `f` mixed down to mono, one bounded block at a time.

    Only the mono result grows with the length kept; the block holds BLOCK_SAMPLES samples
    whatever the channel count, and nothing past `frames` is ever decoded.
    """
    mono = np.empty(frames, dtype=np.float32)
    block = np.empty((max(BLOCK_SAMPLES // f.channels, 1), f.channels), dtype=np.float32)
    filled = 0
    while filled < frames:
        want = min(len(block), frames - filled)
        got = f.read(want, dtype="float32", always_2d=True, out=block[:want])
        if len(got) == 0:
            break
        part = mono[filled : filled + len(got)]
        np.mean(got, axis=1, out=part)
        if not np.isfinite(part).all():
            raise RequestError("unsupported_audio", f"{field} holds non-finite samples", field)
        filled += len(got)
    return mono[:filled]


def decode_reference(
    data: bytes, field: str, max_seconds: float, max_channels: int = MAX_CHANNELS
) -> np.ndarray:
    """Decode a WAV/FLAC/OGG reference to float32 mono at 24 kHz, at most `max_seconds` long.

    The header is checked before any sample is decoded, and only the frames `max_seconds`
    needs are read, so memory follows the length kept, not the length or width of the file.
    """
    try:
        f = sf.SoundFile(io.BytesIO(data))
    except Exception as exc:  # soundfile raises several types for undecodable input
        raise _undecodable(field, exc) from None
    with f:
        _check_header(f, field, max_channels)
        sr = f.samplerate
        frames = int(max_seconds * sr)
        if f.frames > 0:
            frames = min(frames, f.frames)
        try:
            mono = _read_mono(f, frames, field)
        except RequestError:
            raise
        except Exception as exc:
            raise _undecodable(field, exc) from None
    if len(mono) < MIN_REF_SECONDS * sr:
        raise RequestError(
            "ref_too_short",
            f"{field} is {len(mono) / sr:.2f} s; at least {MIN_REF_SECONDS} s is needed",
            field,
        )
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
