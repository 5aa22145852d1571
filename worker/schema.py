"""The request contract: one pydantic model, its limits, and stable error codes.

`parse_request(raw, settings)` either returns a `TTSRequest` or raises `RequestError`, whose
`as_dict()` is `{"code", "field", "message"}`; the handler returns it JSON-encoded as
`{"error": "<json>"}` because runpod's local API types `error` as a string (a dict there is an
HTTP 500). Codes are stable API (README table); messages name the field and the limit.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from worker.settings import Settings

SEED_MAX = 2**32 - 1  # numpy's seed range; torch accepts it too

# The documented limits, one place (messages and README use these).
LIMITS: dict[str, tuple[float, float]] = {
    "speed": (0.3, 2.0),
    "nfe_step": (4, 64),
    "cfg_strength": (0.0, 10.0),
    "sway_sampling_coef": (-1.0, 1.0),
    "cross_fade_duration": (0.0, 1.0),
    "seed": (0, SEED_MAX),
}


class RequestError(Exception):
    """A request the worker refuses; `code` is stable, `field` names the input field or None."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message}


def _f(name: str) -> Any:
    lo, hi = LIMITS[name]
    return Field(ge=lo, le=hi, strict=True, allow_inf_nan=False)


def _i(name: str) -> Any:
    lo, hi = LIMITS[name]
    return Field(ge=int(lo), le=int(hi), strict=True)


class TTSRequest(BaseModel):
    """One synthesis request (`job["input"]`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Annotated[str, Field(strict=True)]
    ref_audio_base64: Annotated[str | None, Field(strict=True)] = None
    ref_audio_url: Annotated[str | None, Field(strict=True)] = None
    ref_text: Annotated[str | None, Field(strict=True)] = None
    speed: Annotated[float, _f("speed")] = 1.0
    nfe_step: Annotated[int | None, _i("nfe_step")] = None
    cfg_strength: Annotated[float, _f("cfg_strength")] = 2.0
    sway_sampling_coef: Annotated[float, _f("sway_sampling_coef")] = -1.0
    cross_fade_duration: Annotated[float, _f("cross_fade_duration")] = 0.15
    seed: Annotated[int | None, _i("seed")] = None
    remove_silence: Annotated[bool, Field(strict=True)] = False
    output_format: Literal["wav", "flac"] = "wav"

    @model_validator(mode="after")
    def _one_reference(self) -> TTSRequest:
        if self.ref_audio_base64 is not None and self.ref_audio_url is not None:
            raise ValueError("give ref_audio_base64 or ref_audio_url, not both")
        return self

    @property
    def custom_voice(self) -> bool:
        return self.ref_audio_base64 is not None or self.ref_audio_url is not None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _limit_text(name: str) -> str:
    lo, hi = LIMITS[name]
    return f"between {_num(lo)} and {_num(hi)}"


def _from_validation(err: ValidationError) -> RequestError:
    """The first pydantic error as a RequestError with a stable code."""
    e = err.errors(include_url=False)[0]
    loc = [str(p) for p in e["loc"]]
    field = loc[0] if loc else None
    kind = e["type"]
    if kind == "extra_forbidden":
        extra = [str(x["loc"][0]) for x in err.errors() if x["type"] == "extra_forbidden"]
        allowed = ", ".join(TTSRequest.model_fields)
        return RequestError(
            "unknown_field", f"unknown field(s) {', '.join(extra)}; allowed: {allowed}", extra[0]
        )
    if kind == "missing":
        return RequestError("missing_field", f"{field} is required", field)
    if kind == "value_error" and field is None:
        message = str(e["msg"]).removeprefix("Value error, ")
        return RequestError("conflicting_fields", message, "ref_audio_url")
    if field in LIMITS and kind in {
        "greater_than_equal",
        "less_than_equal",
        "finite_number",
    }:
        return RequestError(
            "out_of_range", f"{field} must be {_limit_text(field)} (got {e['input']!r})", field
        )
    if field == "output_format":
        return RequestError("invalid_value", "output_format must be 'wav' or 'flac'", field)
    expected = {
        "speed": "a number",
        "cfg_strength": "a number",
        "sway_sampling_coef": "a number",
        "cross_fade_duration": "a number",
        "nfe_step": "an integer",
        "seed": "an integer",
        "remove_silence": "true or false",
    }.get(field or "", "a string")
    limit = f" {_limit_text(field)}" if field in LIMITS else ""
    return RequestError("invalid_type", f"{field} must be {expected}{limit}", field)


def parse_request(raw: Any, settings: Settings, has_transcriber: bool = False) -> TTSRequest:
    """Validate `job["input"]` against the contract and the configured limits."""
    if not isinstance(raw, dict):
        raise RequestError(
            "invalid_input", f"input must be a JSON object, got {type(raw).__name__}"
        )
    try:
        req = TTSRequest.model_validate(raw)
    except ValidationError as err:
        raise _from_validation(err) from None
    if not req.text.strip():
        raise RequestError("empty_text", "text must contain non-whitespace characters", "text")
    if len(req.text) > settings.max_text_chars:
        raise RequestError(
            "text_too_long",
            f"text has {len(req.text)} characters; the limit is {settings.max_text_chars} "
            "(WORKER_MAX_TEXT_CHARS)",
            "text",
        )
    if req.ref_text is not None and req.custom_voice is False:
        raise RequestError(
            "conflicting_fields",
            "ref_text needs ref_audio_base64 or ref_audio_url (the default voice has its own text)",
            "ref_text",
        )
    if req.custom_voice and not (req.ref_text or "").strip() and not has_transcriber:
        raise RequestError(
            "ref_text_required",
            "ref_text (the words spoken in the reference audio) is required with a custom voice "
            "unless a transcriber is enabled (WORKER_TRANSCRIBER=whisperx)",
            "ref_text",
        )
    if req.ref_text is not None and len(req.ref_text) > settings.max_text_chars:
        raise RequestError(
            "text_too_long",
            f"ref_text has {len(req.ref_text)} characters; the limit is "
            f"{settings.max_text_chars} (WORKER_MAX_TEXT_CHARS)",
            "ref_text",
        )
    return req
