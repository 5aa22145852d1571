"""The request contract: limits, stable error codes, messages that name field and limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from worker.schema import LIMITS, RequestError, TTSRequest, parse_request
from worker.settings import Settings

S = Settings.from_env({"WORKER_MAX_TEXT_CHARS": "50"})


def error_of(raw, has_transcriber: bool = False) -> dict:
    with pytest.raises(RequestError) as info:
        parse_request(raw, S, has_transcriber)
    return info.value.as_dict()


def test_minimal_request_gets_defaults():
    req = parse_request({"text": "Hello."}, S)
    assert (req.speed, req.nfe_step, req.seed, req.output_format) == (1.0, None, None, "wav")
    assert not req.custom_voice


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ([], "invalid_input", None),
        ("text", "invalid_input", None),
        ({}, "missing_field", "text"),
        ({"text": "   \n"}, "empty_text", "text"),
        ({"text": "x" * 51}, "text_too_long", "text"),
        ({"text": 5}, "invalid_type", "text"),
        ({"text": "hi", "voice": "x"}, "unknown_field", "voice"),
        (
            {"text": "hi", "ref_audio_base64": "a", "ref_audio_url": "b", "ref_text": "t"},
            "conflicting_fields",
            "ref_audio_url",
        ),
        ({"text": "hi", "ref_audio_url": "http://x/a.wav"}, "ref_text_required", "ref_text"),
        (
            {"text": "hi", "ref_audio_url": "http://x/a.wav", "ref_text": "  "},
            "ref_text_required",
            "ref_text",
        ),
        ({"text": "hi", "ref_text": "words"}, "conflicting_fields", "ref_text"),
        ({"text": "hi", "speed": 0.29}, "out_of_range", "speed"),
        ({"text": "hi", "speed": 2.01}, "out_of_range", "speed"),
        ({"text": "hi", "speed": "1"}, "invalid_type", "speed"),
        ({"text": "hi", "speed": float("inf")}, "out_of_range", "speed"),
        ({"text": "hi", "nfe_step": 3}, "out_of_range", "nfe_step"),
        ({"text": "hi", "nfe_step": 65}, "out_of_range", "nfe_step"),
        ({"text": "hi", "nfe_step": 16.5}, "invalid_type", "nfe_step"),
        ({"text": "hi", "cfg_strength": -0.1}, "out_of_range", "cfg_strength"),
        ({"text": "hi", "sway_sampling_coef": 1.5}, "out_of_range", "sway_sampling_coef"),
        ({"text": "hi", "cross_fade_duration": 1.01}, "out_of_range", "cross_fade_duration"),
        ({"text": "hi", "seed": -1}, "out_of_range", "seed"),
        ({"text": "hi", "seed": 2**32}, "out_of_range", "seed"),
        ({"text": "hi", "seed": True}, "invalid_type", "seed"),
        ({"text": "hi", "remove_silence": "yes"}, "invalid_type", "remove_silence"),
        ({"text": "hi", "output_format": "mp3"}, "invalid_value", "output_format"),
    ],
)
def test_bad_input_has_stable_code_and_field(raw, code, field):
    err = error_of(raw)
    assert (err["code"], err["field"]) == (code, field)
    if field:
        assert field in err["message"]


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_range_messages_state_the_limits(name):
    lo, hi = LIMITS[name]
    value = hi + 1 if name != "seed" else -5
    message = error_of({"text": "hi", name: value})["message"]
    assert f"{lo:g}" in message and str(int(hi) if float(hi).is_integer() else hi) in message


def test_unknown_fields_are_all_named():
    err = error_of({"text": "hi", "voice": 1, "pitch": 2})
    assert "voice" in err["message"] and "pitch" in err["message"]


def test_transcriber_lifts_the_ref_text_requirement():
    req = parse_request({"text": "hi", "ref_audio_url": "http://x/a.wav"}, S, has_transcriber=True)
    assert req.custom_voice and req.ref_text is None


def test_limits_hold_at_the_edges():
    for name, (lo, hi) in LIMITS.items():
        for value in (lo, hi):
            value = int(value) if name in ("nfe_step", "seed") else float(value)
            assert getattr(parse_request({"text": "hi", name: value}, S), name) == value


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=60)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
fields = st.sampled_from([*TTSRequest.model_fields, "other"])


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(fields, json_values, max_size=6) | json_values)
def test_any_json_input_validates_or_gives_a_structured_error(raw):
    try:
        req = parse_request(raw, S)
    except RequestError as err:
        out = err.as_dict()
        assert isinstance(out["code"], str) and out["code"]
        assert isinstance(out["message"], str) and out["message"]
        assert out["field"] is None or isinstance(out["field"], str)
    else:
        assert len(req.text.strip()) > 0 and len(req.text) <= S.max_text_chars
        assert LIMITS["speed"][0] <= req.speed <= LIMITS["speed"][1]
