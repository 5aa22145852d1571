"""`python -m worker` as a real subprocess: phases, runpod's local API, exit codes, offline proof.

The worker runs with tests/worker/offline on PYTHONPATH: its sitecustomize installs a
socket.connect audit hook that records (and refuses) any non-loopback connection.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.worker.conftest import decode_output
from tests.worker.served import ROOT, Served, http_json, phase_lines, run_worker, worker_env

pytestmark = [pytest.mark.torch, pytest.mark.slow]


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh volume: the first worker start makes the tiny model on it."""
    return tmp_path_factory.mktemp("e2e-volume")


@pytest.fixture(scope="module")
def served(volume: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    audit = tmp_path_factory.mktemp("audit") / "connects.log"
    worker = Served(volume, audit)
    try:
        phases = worker.wait_ready()
        yield worker, phases, audit
    finally:
        worker.stop()


def test_start_up_phases_in_order(served):
    _, phases, _ = served
    assert [p["phase"] for p in phases] == ["imports", "device", "model", "warmup", "ready"]
    assert all(p["status"] == "ok" for p in phases)
    imports, device, model = phases[0], phases[1], phases[2]
    assert imports["torch"].startswith("2.8.0") and imports["f5_tts"] == "1.1.22"
    assert device["device"] in ("cpu", "cuda") and model["model"] == "tiny"


def test_runsync_serves_test_input_then_fails_bad_requests_and_keeps_serving(served):
    worker, _, _ = served
    good = json.loads((ROOT / "test_input.json").read_text())
    status, body = http_json(worker.url("/runsync"), good)
    assert status == 200 and body["status"] == "COMPLETED", body
    wave, sr = decode_output(body["output"])
    assert sr == 24_000 and len(wave) > sr // 2 and body["output"]["seed"] == good["input"]["seed"]

    _, bad = http_json(worker.url("/runsync"), {"input": {"text": "hi", "nfe_step": 999}})
    assert bad["status"] == "FAILED", bad
    assert json.loads(bad["error"])["code"] == "out_of_range"

    _, again = http_json(worker.url("/runsync"), good)
    assert again["status"] == "COMPLETED"
    assert again["output"]["audio_base64"] == body["output"]["audio_base64"]  # same seed


def test_worker_made_no_outside_connection(served):
    worker, _, audit = served
    assert worker.proc.poll() is None
    assert not audit.exists() or audit.read_text() == "", audit.read_text()


def test_audit_hook_catches_an_outside_connect(tmp_path: Path):
    """The offline proof can fail: a connect to a public address is recorded and refused."""
    audit = tmp_path / "log"
    code = "import socket\ntry:\n socket.create_connection(('192.0.2.1', 80), timeout=1)\n" \
           "except OSError as e:\n print(type(e).__name__)\n"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env=worker_env(tmp_path, audit),
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "ConnectionRefusedError" in out.stdout and "192.0.2.1" in audit.read_text()


def test_test_input_exits_0_and_1_for_a_bad_request(served, volume: Path, tmp_path: Path):
    audit = tmp_path / "connects.log"
    good = run_worker(volume, audit, "--test_input", (ROOT / "test_input.json").read_text())
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
    bad = run_worker(volume, audit, "--test_input", json.dumps({"input": {"text": ""}}))
    assert bad.returncode == 1 and "empty_text" in bad.stdout + bad.stderr
    assert not audit.exists() or audit.read_text() == ""


def test_corrupt_checkpoint_exits_16_in_the_model_phase(served, volume: Path, tmp_path: Path):
    broken = tmp_path / "volume"
    shutil.copytree(volume / "models", broken / "models", symlinks=True)  # models/tiny is a link
    ckpt = broken / "models" / "tiny" / "model.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:4096])
    out = run_worker(broken, tmp_path / "audit")
    last = phase_lines(out.stdout)[-1]
    assert out.returncode == 16 and (last["phase"], last["status"]) == ("model", "fail"), last
    assert last["cause"] and last["remedy"] and last["exit_code"] == 16


def test_missing_vocab_exits_16(served, volume: Path, tmp_path: Path):
    broken = tmp_path / "volume"
    shutil.copytree(volume / "models", broken / "models", symlinks=True)  # models/tiny is a link
    (broken / "models" / "tiny" / "vocab.txt").unlink()
    out = run_worker(broken, tmp_path / "audit")
    last = phase_lines(out.stdout)[-1]
    assert out.returncode == 16 and last["phase"] == "model" and "vocab" in last["cause"]


def test_cuda_without_cuda_exits_15(tmp_path: Path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = run_worker(tmp_path, tmp_path / "audit", WORKER_DEVICE="cuda")
    last = phase_lines(out.stdout)[-1]
    assert out.returncode == 15 and (last["phase"], last["status"]) == ("device", "fail")


def test_bad_setting_exits_10(tmp_path: Path):
    out = run_worker(tmp_path, tmp_path / "audit", WORKER_DEVICE="gpu")
    last = phase_lines(out.stdout)[-1]
    assert out.returncode == 10 and last["phase"] == "env" and "WORKER_DEVICE" in last["cause"]
