"""The optional transcriber: off by default, a clear error when whisperx is absent.

whisperx is not installed here (by design); the model-loading path is exercised with small
stand-in objects, said so where used.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from worker.phases import PhaseError
from worker.settings import Settings
from worker.transcribe import WhisperXTranscriber, import_backend, load_transcriber

WHISPERX = Settings.from_env({"WORKER_TRANSCRIBER": "whisperx"})


def test_disabled_by_default_and_imports_nothing():
    s = Settings.from_env({})
    assert import_backend(s) is None and load_transcriber(s, "cpu", None) is None
    assert "whisperx" not in sys.modules


@pytest.mark.skipif(importlib.util.find_spec("whisperx") is not None, reason="whisperx present")
def test_enabled_without_whisperx_fails_the_imports_phase_with_a_remedy():
    with pytest.raises(PhaseError) as info:
        import_backend(WHISPERX)
    err = info.value
    assert err.phase == "imports" and err.exit_code == 14 and "whisperx" in err.cause
    assert "worker/requirements/whisperx.in" in err.remedy


class StandInBackend:
    """Stands in for the whisperx module (not installed): records how load_model is called."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple] = []

    def load_model(self, path, device, **kwargs):
        self.calls.append((path, device, kwargs))
        if self.fail:
            raise OSError("no model.bin in folder")
        return StandInModel()


class StandInModel:
    """Stands in for a whisperx pipeline: answers with two segments."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str | None]] = []

    def transcribe(self, audio, batch_size, language):
        self.seen.append((len(audio), language))
        return {"segments": [{"text": " Hello "}, {"text": "there. "}]}


def test_model_folder_is_required():
    with pytest.raises(PhaseError) as info:
        load_transcriber(WHISPERX, "cpu", StandInBackend())
    assert info.value.phase == "model" and "WORKER_TRANSCRIBER_MODEL" in info.value.cause


def test_load_failure_is_a_model_phase_error():
    s = Settings.from_env({"WORKER_TRANSCRIBER": "whisperx", "WORKER_TRANSCRIBER_MODEL": "/m"})
    with pytest.raises(PhaseError) as info:
        load_transcriber(s, "cpu", StandInBackend(fail=True))
    assert info.value.exit_code == 16 and "/m" in info.value.cause


def test_loads_offline_options_and_transcribes_16k_arrays():
    s = Settings.from_env({"WORKER_TRANSCRIBER": "whisperx", "WORKER_TRANSCRIBER_MODEL": "/m"})
    backend = StandInBackend()
    t = load_transcriber(s, "cpu", backend)
    assert isinstance(t, WhisperXTranscriber)
    _, device, kwargs = backend.calls[0]
    assert device == "cpu" and kwargs["vad_method"] == "pyannote"  # silero would download
    assert t.transcribe(np.zeros(48_000, np.float32), 24_000) == "Hello there."
    assert t.model.seen == [(32_000, "en")]
