"""Reference decoding and output encoding on arrays (real soundfile/scipy/pydub)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.worker.conftest import b64, tone
from worker import audio
from worker.schema import RequestError


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG"])
@pytest.mark.parametrize("sr", [16_000, 22_050, 24_000, 44_100, 48_000])
def test_reference_formats_decode_to_24k_mono(fmt, sr):
    wave = audio.decode_reference(tone(1.5, sr, fmt, channels=2), "f", max_seconds=12)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - 1.5 * 24_000) <= 2


def test_reference_is_clipped_to_the_limit():
    wave = audio.decode_reference(tone(5.0), "f", max_seconds=2.0)
    assert len(wave) == 2 * 24_000


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not audio at all", "unsupported_audio"),
        (b"RIFF\x00\x00\x00\x00WAVE", "unsupported_audio"),
        (tone(0.2), "ref_too_short"),
    ],
)
def test_bad_references_are_refused(data, code):
    with pytest.raises(RequestError) as info:
        audio.decode_reference(data, "ref_audio_base64", 12)
    assert info.value.code == code and info.value.field == "ref_audio_base64"


def test_silent_reference_is_refused():
    buf = io.BytesIO()
    sf.write(buf, np.zeros(24_000), 24_000, format="WAV")
    with pytest.raises(RequestError) as info:
        audio.decode_reference(buf.getvalue(), "f", 12)
    assert info.value.code == "ref_silent"


def test_other_container_formats_are_refused():
    buf = io.BytesIO()
    sf.write(buf, np.full(24_000, 0.1), 24_000, format="AIFF")
    with pytest.raises(RequestError) as info:
        audio.decode_reference(buf.getvalue(), "f", 12)
    assert info.value.code == "unsupported_audio" and "AIFF" in info.value.message


def test_base64_is_strict_and_capped():
    assert audio.b64decode(b64(b"abc"), "f", 10) == b"abc"
    for bad, code in [
        ("!!!", "invalid_base64"),
        (b64(b"x" * 11), "ref_too_large"),
        ("A" * 10_000, "ref_too_large"),
    ]:
        with pytest.raises(RequestError) as info:
            audio.b64decode(bad, "f", 10)
        assert info.value.code == code


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_encode_round_trips(fmt):
    wave = np.sin(np.linspace(0, 200, 24_000)).astype(np.float32) * 0.5
    back, sr = sf.read(io.BytesIO(audio.encode(wave, fmt)), dtype="float32")
    assert sr == 24_000 and len(back) == len(wave)
    assert np.max(np.abs(back - wave)) < 1e-3


@hsettings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 5000), min_size=0, max_size=5),
    st.floats(0, 1),
)
def test_cross_fade_length(lengths, seconds):
    waves = [np.ones(n, dtype=np.float32) for n in lengths]
    out = audio.cross_fade(waves, seconds)
    expected = lengths[0] if lengths else 0
    for n in lengths[1:]:
        expected += n - min(int(seconds * 24_000), expected, n)
    assert len(out) == expected
    # a cross-fade of two constant signals stays constant
    assert np.allclose(out, 1.0)


def test_cross_fade_overlaps_exactly():
    a, b = np.ones(10_000, np.float32), np.zeros(10_000, np.float32)
    out = audio.cross_fade([a, b], 0.1)
    assert len(out) == 20_000 - 2_400
    assert out[0] == 1 and out[-1] == 0 and 0 < out[10_000 - 1_200] < 1


def test_remove_silence_drops_long_gaps():
    speech = (0.3 * np.sin(np.linspace(0, 2000, 24_000))).astype(np.float32)
    wave = np.concatenate([speech, np.zeros(3 * 24_000, np.float32), speech])
    out = audio.remove_silence(wave)
    assert len(out) < len(wave) - 24_000
    assert len(out) >= 2 * len(speech)
