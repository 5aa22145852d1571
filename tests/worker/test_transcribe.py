"""The optional transcriber: off by default, a clear error when whisperx is absent.

These are the fast checks of worker/transcribe.py's own logic, with small stand-in objects for the
whisperx module (said so where used). The real whisperx runs end to end in test_whisperx_e2e.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


# A venv without the extra: None in sys.modules makes `import whisperx` raise ImportError.
WITHOUT_WHISPERX = """
import sys
sys.modules["whisperx"] = None
from worker.phases import PhaseError
from worker.settings import Settings
from worker.transcribe import import_backend
try:
    import_backend(Settings.from_env({"WORKER_TRANSCRIBER": "whisperx"}))
except PhaseError as err:
    print(err.phase, err.exit_code, "whisperx" in err.cause, err.remedy, sep="|")
"""


def test_enabled_without_whisperx_fails_the_imports_phase_with_a_remedy():
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", WITHOUT_WHISPERX], cwd=root, capture_output=True,
                         text=True, timeout=120, check=True)  # fmt: skip
    phase, code, named, remedy = out.stdout.strip().split("|")
    assert (phase, code, named) == ("imports", "14", "True")
    assert "worker/requirements/whisperx.lock" in remedy


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


def model_folder(tmp_path: Path) -> Settings:
    """Settings naming a folder that looks like a converted model (its model.bin is a stand-in)."""
    (tmp_path / "model.bin").write_bytes(b"stand-in")
    return Settings.from_env(
        {"WORKER_TRANSCRIBER": "whisperx", "WORKER_TRANSCRIBER_MODEL": str(tmp_path)}
    )


def test_a_folder_without_model_bin_fails_before_whisperx_sees_it(tmp_path: Path):
    """faster-whisper would take a name that is not a folder for a hub id and try to download."""
    s = Settings.from_env(
        {"WORKER_TRANSCRIBER": "whisperx", "WORKER_TRANSCRIBER_MODEL": "large-v3"}
    )
    backend = StandInBackend()
    with pytest.raises(PhaseError) as info:
        load_transcriber(s, "cpu", backend)
    assert info.value.exit_code == 16 and "large-v3" in info.value.cause
    assert "model.bin" in info.value.cause and backend.calls == []


def test_load_failure_is_a_model_phase_error(tmp_path: Path):
    s = model_folder(tmp_path)
    with pytest.raises(PhaseError) as info:
        load_transcriber(s, "cpu", StandInBackend(fail=True))
    assert info.value.exit_code == 16 and str(tmp_path) in info.value.cause


def test_loads_offline_options_and_transcribes_16k_arrays(tmp_path: Path):
    s = model_folder(tmp_path)
    backend = StandInBackend()
    t = load_transcriber(s, "cpu", backend)
    assert isinstance(t, WhisperXTranscriber)
    _, device, kwargs = backend.calls[0]
    assert device == "cpu" and kwargs["vad_method"] == "pyannote"  # silero would download
    assert t.transcribe(np.zeros(48_000, np.float32), 24_000) == "Hello there."
    assert t.model.seen == [(32_000, "en")]
