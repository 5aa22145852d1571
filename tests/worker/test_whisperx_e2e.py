"""WhisperX for real: the worker transcribes a custom voice sent without ref_text, then synthesises.

`python -m worker` serves runpod's local API with WORKER_TRANSCRIBER=whisperx and a tiny Whisper
made here (tests/worker/tiny_whisper.py: real transformers classes, converted by ctranslate2; it
says tiny_whisper.SENTENCE whatever it hears). Every step is the installed whisperx 3.8.6: its
load_model, the pyannote VAD bundled with it, faster-whisper's batched decoding on ctranslate2.
Needs the optional extra (worker/requirements/whisperx.lock; scripts/setup.sh --tests installs it).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.worker.conftest import decode_output
from tests.worker.served import ROOT, Served, http_json

pytestmark = [pytest.mark.torch, pytest.mark.slow]

CLIP = ROOT / "worker" / "voices" / "default.flac"  # a spoken sentence, so the VAD finds speech


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The converted model folder and the sentence it says (made once; nothing downloads)."""
    from tests.worker import tiny_whisper  # needs the extra: ctranslate2, transformers

    folder = tiny_whisper.make_tiny_whisper(tmp_path_factory.mktemp("tiny-whisper"))
    return folder, tiny_whisper.SENTENCE


@pytest.fixture(scope="module")
def served(tiny_whisper, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    folder, _ = tiny_whisper
    audit = tmp_path_factory.mktemp("audit") / "connects.log"
    volume = tmp_path_factory.mktemp("whisperx-volume")
    worker = Served(
        volume, audit, WORKER_TRANSCRIBER="whisperx", WORKER_TRANSCRIBER_MODEL=str(folder)
    )
    try:
        yield worker, worker.wait_ready(), audit
    finally:
        worker.stop()


def test_start_up_loads_whisperx(served):
    _, phases, _ = served
    by_phase = {p["phase"]: p for p in phases}
    assert by_phase["imports"]["transcriber"] == "whisperx"
    assert by_phase["model"]["transcriber"] == "whisperx"
    assert by_phase["ready"]["status"] == "ok"


def test_custom_voice_without_ref_text_is_transcribed_then_synthesised(served, tiny_whisper):
    worker, _, audit = served
    _, sentence = tiny_whisper
    clip = base64.b64encode(CLIP.read_bytes()).decode()
    body = {"input": {"text": "A voice heard, then spoken.", "ref_audio_base64": clip,
                      "nfe_step": 8, "seed": 5}}  # fmt: skip
    status, out = http_json(worker.url("/runsync"), body, timeout=300)
    assert status == 200 and out["status"] == "COMPLETED", out
    assert out["output"]["ref_text_used"] == sentence  # the words came from whisperx
    wave, sr = decode_output(out["output"])
    assert sr == 24_000 and len(wave) > sr // 4

    given = {"input": {**body["input"], "ref_text": "Given words."}}
    _, again = http_json(worker.url("/runsync"), given, timeout=300)
    assert again["status"] == "COMPLETED" and again["output"]["ref_text_used"] == "Given words."
    assert not audit.exists() or audit.read_text() == "", audit.read_text()  # offline throughout
