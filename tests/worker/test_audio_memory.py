"""Decoding a reference stays within a memory bound, whatever the file holds (real soundfile).

Peak extra memory is measured with tracemalloc, which sees numpy's array allocations. The bound:

    8 MB + 6 bytes per frame kept + 16 bytes per output sample

where "kept" is at most WORKER_MAX_REF_SECONDS of input frames. It does not grow with the file's
length or channel count. At the settings' extremes (60 s at 192 kHz: 11.5 M frames kept, 1.44 M
output samples) it is 100 MB; 55 MB was measured there.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, assume, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.worker.hostile_audio import constant_flac
from worker import audio
from worker.schema import RequestError
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
UPLOAD_LIMIT = Settings().max_ref_bytes
FIXED = 8 << 20  # the block, the resampling filter (up to 5.5 MB at 8001 Hz) and small parts
PER_FRAME_KEPT = 6
PER_OUTPUT_SAMPLE = 16
RATES = [8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000, 192_000]


def bound(kept_frames: int, rate: int) -> int:
    """The stated bound on peak extra memory for `kept_frames` input frames at `rate`."""
    out = kept_frames * audio.SAMPLE_RATE // rate + 1
    return FIXED + PER_FRAME_KEPT * kept_frames + PER_OUTPUT_SAMPLE * out


def peak_extra(call: Callable[[], object]) -> int:
    """Peak bytes allocated (and still traced) while `call` runs, above what existed before."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        with contextlib.suppress(RequestError):
            call()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def encode(wave: np.ndarray, rate: int, fmt: str) -> bytes:
    buf = io.BytesIO()
    subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS"}[fmt]
    sf.write(buf, wave, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def signal(kind: str, frames: int, channels: int, seed: int) -> np.ndarray:
    if kind == "constant":
        return np.full((frames, channels), 0.3, dtype=np.float32)
    if kind == "noise":
        rng = np.random.default_rng(seed)
        return (0.2 * rng.standard_normal((frames, channels))).astype(np.float32)
    t = np.arange(frames, dtype=np.float32) / 1000
    return np.repeat((0.3 * np.sin(2 * np.pi * t))[:, None], channels, axis=1)


@hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    fmt=st.sampled_from(["WAV", "FLAC", "OGG"]),
    rate=st.one_of(st.sampled_from(RATES), st.integers(8_000, 192_000)),
    channels=st.integers(1, 10),
    seconds=st.floats(0.2, 8.0),
    kind=st.sampled_from(["constant", "noise", "tone"]),
    max_seconds=st.floats(1.0, 60.0),
    seed=st.integers(0, 2**16),
)
def test_decoding_peak_memory_is_bounded(fmt, rate, channels, seconds, kind, max_seconds, seed):
    frames = int(seconds * rate)
    assume(frames * channels <= 6_000_000)  # keeps each example quick to make
    try:
        data = encode(signal(kind, frames, channels, seed), rate, fmt)
    except (sf.LibsndfileError, RuntimeError, ValueError):
        assume(False)  # e.g. the Vorbis encoder refuses some rates and channel counts
    assume(len(data) <= UPLOAD_LIMIT)
    kept = min(frames, int(max_seconds * rate))
    refused = channels > audio.MAX_CHANNELS
    event("refused (channels)" if refused else "decoded")
    peak = peak_extra(lambda: audio.decode_reference(data, "ref_audio_base64", max_seconds))
    limit = FIXED if refused else bound(kept, rate)
    assert peak <= limit, (peak, limit, len(data))


@pytest.mark.slow
@pytest.mark.parametrize(("rate", "channels", "seconds"), [(192_000, 8, 65), (191_990, 8, 65)])
def test_peak_memory_at_the_settings_extremes(rate, channels, seconds):
    # 191990 Hz: 24000/191990 = 2400/19199, whose exact filter would have 384 k taps
    data = constant_flac(seconds / 60, channels, rate)
    assert len(data) <= UPLOAD_LIMIT
    out: list[np.ndarray] = []
    peak = peak_extra(lambda: out.append(audio.decode_reference(data, "f", 60.0)))
    assert len(out[0]) == 60 * audio.SAMPLE_RATE or abs(len(out[0]) / 24_000 - 60) < 0.02
    assert peak <= bound(60 * rate, rate) < 100 << 20, peak


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """25 minutes of one constant value in 8 channels at 48 kHz: 0.6 MB of FLAC, 2.3 GB decoded."""
    path = tmp_path_factory.mktemp("hostile") / "hostile.flac"
    path.write_bytes(constant_flac(25, 8, 48_000))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("max_seconds", [12.0, 60.0])
def test_hostile_file_in_a_fresh_process(hostile: Path, max_seconds: float):
    """Peak RSS of decoding the hostile file in a subprocess: before this fix it was 2.4 GB."""
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "worker" / "hostile_audio.py"),
            "measure",
            str(hostile),
            "--max-seconds",
            str(max_seconds),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["decoded_seconds"] == max_seconds
    assert result["peak_rss_delta_mb"] < bound(int(max_seconds * 48_000), 48_000) / 2**20, result


@pytest.mark.parametrize(
    ("rate", "channels", "words"),
    [
        (48_000, 9, ["9 channels", "at most 8", "WORKER_MAX_REF_CHANNELS"]),
        (48_000, 64, ["64 channels"]),
        (4_000, 1, ["4000 Hz", "8000 to 192000 Hz"]),
        (384_000, 1, ["384000 Hz", "8000 to 192000 Hz"]),
    ],
)
def test_header_refusals_name_the_field_and_decode_nothing(rate, channels, words):
    # WAV: FLAC stops at 8 channels, and its encoder here at 192 kHz.
    buf = io.BytesIO()
    sf.write(buf, np.full((rate * 2, channels), 0.3, dtype=np.float32), rate, format="WAV")
    data = buf.getvalue()
    errors: list[RequestError] = []

    def call() -> None:
        try:
            audio.decode_reference(data, "ref_audio_url", 60.0)
        except RequestError as err:
            errors.append(err)

    peak = peak_extra(call)
    err = errors[0]
    assert (err.code, err.field) == ("unsupported_audio", "ref_audio_url")
    assert "ref_audio_url" in err.message and all(w in err.message for w in words), err.message
    assert peak < 1 << 20  # refused from the header: no sample was decoded


def test_channel_limit_follows_the_setting():
    data = constant_flac(0.05, 4, 16_000)
    assert len(audio.decode_reference(data, "f", 12.0, max_channels=4)) == 3 * 24_000
    with pytest.raises(RequestError, match="at most 3 are allowed"):
        audio.decode_reference(data, "f", 12.0, max_channels=3)
    assert Settings().max_ref_channels == audio.MAX_CHANNELS
    assert Settings.from_env({"WORKER_MAX_REF_CHANNELS": "2"}).max_ref_channels == 2


def test_mix_down_in_blocks_equals_the_mean_of_the_channels():
    rng = np.random.default_rng(5)
    wave = (0.2 * rng.standard_normal((3 * audio.BLOCK_SAMPLES // 3 + 17, 3))).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, wave, 24_000, format="WAV", subtype="FLOAT")
    out = audio.decode_reference(buf.getvalue(), "f", 60.0)
    np.testing.assert_allclose(out, wave.mean(axis=1), atol=1e-6)


@hsettings(max_examples=300)
@given(st.integers(8_000, 192_000), st.sampled_from([24_000, 16_000]))
def test_resampling_ratio_is_near_exact_with_small_factors(rate, target):
    up, down = audio.resample_ratio(rate, target)
    assert max(up, down) <= 3 * audio.MAX_RATIO_TERM
    assert abs(Fraction(up, down) / Fraction(target, rate) - 1) <= Fraction(1, 4000)
