"""The request path in-process on the tiny model: real f5_tts synthesis, real encoding."""

from __future__ import annotations

import base64
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.worker.conftest import b64, decode_output, tone
from tests.worker.test_fetch import Handler as ClipServer
from worker.handler import error_of, make_handler

pytestmark = pytest.mark.torch

SENTENCE = "The quick brown fox jumps over the lazy dog."
OUTPUT_KEYS = {
    "audio_base64", "sample_rate", "format", "duration_s", "seed", "ref_text_used",
    "num_chunks", "timings",
}  # fmt: skip


def run(handler, **fields):
    return handler({"id": "t", "input": {"nfe_step": 4, **fields}})


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_default_voice_gives_decodable_24k_audio(handler, voice, fmt):
    out = run(handler, text=SENTENCE, seed=3, output_format=fmt)
    assert set(out) == OUTPUT_KEYS, out
    wave, sr = decode_output(out)
    assert sr == out["sample_rate"] == 24_000 and out["format"] == fmt
    assert wave.ndim == 1 and abs(len(wave) / sr - out["duration_s"]) < 0.01
    assert out["duration_s"] > 0.5 and np.abs(wave).max() > 0
    assert out["seed"] == 3 and out["ref_text_used"] == voice.text and out["num_chunks"] == 1
    t = out["timings"]
    assert t["total_ms"] >= t["synthesis_ms"] > 0 and t["rtf"] > 0


def test_duration_grows_with_text(handler):
    short = run(handler, text="Hello there.", seed=1)["duration_s"]
    long = run(handler, text=f"{SENTENCE} {SENTENCE}", seed=1)["duration_s"]
    assert long > short * 1.5


def test_speed_shortens_audio(handler):
    slow = run(handler, text=SENTENCE, seed=1, speed=0.5)["duration_s"]
    fast = run(handler, text=SENTENCE, seed=1, speed=2.0)["duration_s"]
    assert slow > fast * 2


def test_same_seed_same_audio_other_seed_other_audio(handler):
    a = run(handler, text=SENTENCE, seed=11)["audio_base64"]
    b = run(handler, text=SENTENCE, seed=11)["audio_base64"]
    c = run(handler, text=SENTENCE, seed=12)["audio_base64"]
    assert a == b and a != c


def test_random_seed_is_returned_and_reproduces(handler):
    first = run(handler, text=SENTENCE)
    again = run(handler, text=SENTENCE, seed=first["seed"])
    assert first["audio_base64"] == again["audio_base64"]


def test_long_text_is_chunked_and_still_deterministic(handler):
    text = " ".join(f"Sentence number {i} is here to make the text long." for i in range(14))
    a = run(handler, text=text, seed=5, cross_fade_duration=0.2)
    b = run(handler, text=text, seed=5, cross_fade_duration=0.2)
    assert a["num_chunks"] >= 3 and a["audio_base64"] == b["audio_base64"]
    single = run(handler, text="Sentence number 1 is here to make the text long.", seed=5)
    assert a["duration_s"] > 5 * single["duration_s"]


def test_custom_voice_base64(handler):
    out = run(handler, text=SENTENCE, ref_audio_base64=b64(tone(2.0, 44_100, "FLAC")),
              ref_text="A steady tone for testing.")  # fmt: skip
    assert "error" not in out, out
    assert out["ref_text_used"] == "A steady tone for testing."
    assert decode_output(out)[1] == 24_000


def test_custom_voice_url_from_a_local_server(engine, settings, voice, tmp_path):
    import http.server

    clip = tone(2.0, 22_050, "WAV")

    class Clip(ClipServer):
        def do_GET(self) -> None:
            self._send(200, clip)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Clip)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/clip.wav"
    try:
        guarded = make_handler(engine, settings, voice)
        refused = run(guarded, text=SENTENCE, ref_audio_url=url, ref_text="A tone.")
        assert error_of(refused)["code"] == "url_forbidden_host"
        allowed = make_handler(
            engine, dataclasses.replace(settings, allow_private_urls=True), voice
        )
        out = run(allowed, text=SENTENCE, ref_audio_url=url, ref_text="A tone.", seed=2)
        assert "error" not in out, out
        same = run(allowed, text=SENTENCE, ref_audio_base64=b64(clip), ref_text="A tone.", seed=2)
        assert out["audio_base64"] == same["audio_base64"]
    finally:
        httpd.shutdown()
        httpd.server_close()


class StandInTranscriber:
    """A stand-in for whisperx (not installed here): it only tests the Transcriber interface."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls: list[tuple[int, int]] = []

    def transcribe(self, audio: np.ndarray, sr: int) -> str:
        self.calls.append((len(audio), sr))
        if self.text == "raise":
            raise RuntimeError("transcriber broke")
        return self.text


def test_transcriber_fills_in_missing_ref_text(engine, settings, voice):
    stand_in = StandInTranscriber("  words heard in the clip ")
    h = make_handler(engine, settings, voice, stand_in)
    out = run(h, text=SENTENCE, ref_audio_base64=b64(tone(2.0)))
    assert out["ref_text_used"] == "words heard in the clip"
    assert stand_in.calls == [(48_000, 24_000)]
    given_text = run(h, text=SENTENCE, ref_audio_base64=b64(tone(2.0)), ref_text="Given.")
    assert given_text["ref_text_used"] == "Given." and len(stand_in.calls) == 1
    default = run(h, text=SENTENCE)
    assert default["ref_text_used"] == voice.text and len(stand_in.calls) == 1


def test_unexpected_failure_is_internal_and_the_worker_keeps_serving(engine, settings, voice):
    h = make_handler(engine, settings, voice, StandInTranscriber("raise"))
    out = run(h, text=SENTENCE, ref_audio_base64=b64(tone(2.0)))
    err = error_of(out)
    assert err["code"] == "internal" and "transcriber broke" in err["message"]
    assert "error" not in run(h, text=SENTENCE)


def test_estimated_output_limit(engine, settings, voice):
    h = make_handler(engine, dataclasses.replace(settings, max_output_seconds=5.0), voice)
    out = run(h, text=SENTENCE * 3)
    err = error_of(out)
    assert err["code"] == "output_too_long" and "5 s" in err["message"]


def test_remove_silence_never_lengthens(handler):
    plain = run(handler, text=SENTENCE, seed=4)
    trimmed = run(handler, text=SENTENCE, seed=4, remove_silence=True)
    assert trimmed["duration_s"] <= plain["duration_s"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"text": ""}, "empty_text"),
        ({"text": SENTENCE, "ref_audio_base64": "@@@", "ref_text": "x"}, "invalid_base64"),
        ({"text": SENTENCE, "ref_audio_base64": b64(b"junk" * 100), "ref_text": "x"},
         "unsupported_audio"),
        ({"text": SENTENCE, "ref_audio_url": "http://169.254.169.254/", "ref_text": "x"},
         "url_forbidden_host"),
        ({"text": SENTENCE, "ref_audio_base64": b64(tone(1.5, channels=9)), "ref_text": "x"},
         "unsupported_audio"),
        ({"text": SENTENCE, "bogus": 1}, "unknown_field"),
    ],
)  # fmt: skip
def test_bad_requests_fail_with_codes(handler, fields, code):
    assert error_of(run(handler, **fields))["code"] == code


def test_reference_channel_limit_comes_from_the_settings(engine, settings, voice):
    stereo = b64(tone(1.5, channels=2))
    one = make_handler(engine, dataclasses.replace(settings, max_ref_channels=1), voice)
    err = error_of(run(one, text=SENTENCE, ref_audio_base64=stereo, ref_text="A tone."))
    assert (err["code"], err["field"]) == ("unsupported_audio", "ref_audio_base64")
    assert "2 channels" in err["message"] and "WORKER_MAX_REF_CHANNELS" in err["message"]
    assert "audio_base64" in run(one, text=SENTENCE, ref_audio_base64=b64(tone(1.5)), ref_text="A")


def test_a_long_reference_is_planned_in_whole_sentences(engine, settings, voice):
    """A 30 s reference (allowed up to 60 s) used to plan chunks of one clause each."""
    long = dataclasses.replace(settings, max_ref_seconds=30.0)
    h = make_handler(engine, long, voice)
    words = "Go on. " * 12
    ref_text = "x" * 450  # 15 bytes per second of the 30 s reference
    out = run(h, text=words, ref_audio_base64=b64(tone(30.0)), ref_text=ref_text, seed=1)
    assert out["num_chunks"] == 1, out


def test_job_without_input_is_a_structured_error(handler):
    assert error_of(handler({"id": "x"}))["code"] == "invalid_input"
    assert error_of(handler("not a job"))["code"] == "invalid_input"


def test_concurrent_requests_match_sequential_ones(handler):
    seeds = [21, 22, 23, 21]
    sequential = [run(handler, text=SENTENCE, seed=s)["audio_base64"] for s in seeds]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda s: run(handler, text=SENTENCE, seed=s)["audio_base64"],
                                 seeds))  # fmt: skip
    assert threaded == sequential and threaded[0] == threaded[3] != threaded[1]


# --- any JSON-ish request: valid audio or a structured error, never an exception ---------------

valid = {
    "text": st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                    max_size=30),
    "speed": st.floats(0.5, 2.0),
    "nfe_step": st.integers(4, 6),
    "cfg_strength": st.floats(0, 10),
    "sway_sampling_coef": st.floats(-1, 1),
    "cross_fade_duration": st.floats(0, 1),
    "seed": st.integers(0, 2**32 - 1),
    "remove_silence": st.booleans(),
    "output_format": st.sampled_from(["wav", "flac"]),
    "ref_audio_base64": st.sampled_from([b64(tone(1.0)), "", "AAAA", b64(b"RIFF")]),
    "ref_text": st.text(max_size=20),
}  # fmt: skip
junk = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.lists(st.integers(), max_size=2)
)


@st.composite
def well_formed(draw):
    """Every field in range (the reference clip and its text may still be refused)."""
    keys = draw(st.lists(st.sampled_from(list(valid)), unique=True, max_size=6))
    raw = {key: draw(valid[key]) for key in keys}
    raw["text"] = draw(valid["text"])
    raw.setdefault("nfe_step", 4)
    return raw


@st.composite
def mixed(draw):
    """Any field, some with junk values, sometimes no text."""
    keys = draw(st.lists(st.sampled_from([*valid, "unknown"]), unique=True, max_size=6))
    raw = {"text": draw(valid["text"])} if draw(st.integers(0, 4)) else {}
    for key in keys:
        use_valid = key in valid and draw(st.integers(0, 3)) > 0
        raw[key] = draw(valid[key]) if use_valid else draw(junk)
    raw.setdefault("nfe_step", 4)
    return raw


@pytest.mark.slow
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(well_formed() | mixed())
def test_any_request_gives_audio_or_a_structured_error(handler, raw):
    out = handler({"id": "h", "input": raw})
    if "error" in out:
        err = error_of(out)
        event(f"error {err['code']}")
        assert set(err) == {"code", "field", "message"} and err["code"] != "internal", err
    else:
        event("audio")
        wave, sr = decode_output(out)
        assert sr == 24_000 and len(wave) > 0 and np.all(np.isfinite(wave))
        assert base64.b64decode(out["audio_base64"])[:4] in (b"RIFF", b"fLaC")
