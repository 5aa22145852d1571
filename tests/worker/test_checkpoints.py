"""Checkpoints made from the real classes; loading and its failures through real f5_tts code."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from worker import checkpoints, tts
from worker.phases import PhaseError

pytestmark = pytest.mark.torch


def test_tiny_checkpoint_has_ema_keys_and_vocab(engine):
    from safetensors import safe_open

    with safe_open(str(engine.files.ckpt), "pt") as f:
        keys = list(f.keys())
    assert keys and all(k.startswith("ema_model.") for k in keys)
    assert engine.files.vocab.read_text(encoding="utf-8").split("\n")[0] == " "
    assert 100_000 < engine.parameters < 1_000_000


def test_concurrent_makers_leave_one_complete_folder(tmp_path: Path):
    out = tmp_path / "models" / "tiny"
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: checkpoints.build(out, "tiny"), range(2)))
    real = results[0]
    assert results == [real, real] and real.name == f"tiny-{checkpoints.fingerprint('tiny')['key']}"
    assert sorted(p.name for p in real.iterdir()) == [
        "fingerprint.json", "model.safetensors", "vocab.txt", "vocos",
    ]  # fmt: skip
    assert sorted(p.name for p in (real / "vocos").iterdir()) == [
        "config.yaml",
        "pytorch_model.bin",
    ]
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny", real.name]  # no temp folders
    assert out.is_symlink() and os.readlink(out) == real.name


def test_same_seed_same_weights(tmp_path: Path, engine):
    checkpoints.build(tmp_path / "tiny", "tiny")
    assert (tmp_path / "tiny" / "model.safetensors").read_bytes() == engine.files.ckpt.read_bytes()


def test_a_folder_made_before_keys_is_not_trusted(tmp_path: Path, engine):
    """`models/tiny` from code that wrote no fingerprint: its model is of unknown code."""
    out = tmp_path / "models" / "tiny"
    shutil.copytree(engine.files.ckpt.parent, out)
    (out / "fingerprint.json").unlink(missing_ok=True)
    (out / "model.safetensors").write_bytes(b"a model made by other code")
    real = checkpoints.build(out, "tiny")
    assert (
        real != out and (real / "model.safetensors").read_bytes() == engine.files.ckpt.read_bytes()
    )
    assert (
        out.is_symlink()
        and (out / "model.safetensors").read_bytes() == engine.files.ckpt.read_bytes()
    )
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny", real.name]


def test_a_folder_of_other_files_is_left_alone(tmp_path: Path, engine):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("not a model")
    real = checkpoints.build(out, "tiny")
    assert (real / "model.safetensors").read_bytes() == engine.files.ckpt.read_bytes()
    assert not out.is_symlink() and [p.name for p in out.iterdir()] == ["notes.txt"]


def test_fingerprint_records_what_made_the_files(engine):
    stamp = json.loads((engine.files.ckpt.parent / "fingerprint.json").read_text())
    assert stamp == json.loads(json.dumps(checkpoints.fingerprint("tiny")))
    assert stamp["arch"]["dim"] == 64 and stamp["packages"]["f5-tts"] and stamp["packages"]["torch"]
    assert engine.files.ckpt.parent.name == f"tiny-{stamp['key']}"


def _width(ckpt: Path) -> int:
    """The model width (`dim`) a checkpoint was made with."""
    from safetensors import safe_open

    with safe_open(str(ckpt), "pt") as f:
        return f.get_slice("ema_model.transformer.proj_out.weight").get_shape()[1]


@pytest.mark.slow
def test_a_change_to_the_code_that_makes_the_model_makes_a_new_one(tmp_path: Path):
    """Two checkouts on one volume, as a bisect runs them; the second makes a wider tiny model.

    Each start must load the model its own code makes, and going back reuses the first one.
    """
    trees = {"a": tmp_path / "a", "b": tmp_path / "b"}
    for tree in trees.values():
        shutil.copytree(
            Path(checkpoints.__file__).parent,
            tree / "worker",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    source = trees["b"] / "worker" / "checkpoints.py"
    assert '"dim": 64,' in source.read_text()
    source.write_text(source.read_text().replace('"dim": 64,', '"dim": 96,', 1))
    volume = tmp_path / "volume"
    code = (
        "from worker import tts; from worker.settings import Settings; "
        "print(tts.resolve_model(Settings.from_env()).ckpt)"
    )

    def start(tree: str) -> Path:
        env = {**os.environ, "PYTHONPATH": str(trees[tree]), "WORKER_VOLUME": str(volume)}
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=trees[tree],  # `-c` puts the working directory first on sys.path
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        return Path(out.stdout.strip().splitlines()[-1])

    first = start("a")
    second = start("b")
    again = start("a")
    assert (_width(first), _width(second), _width(again)) == (64, 96, 64)
    assert again == first and first.read_bytes() == again.read_bytes()


def test_packaged_arch_configs():
    base = checkpoints.arch_config("F5TTS_v1_Base")
    assert (base["dim"], base["depth"], base["heads"]) == (1024, 22, 16)
    with pytest.raises(ValueError, match=r"unknown model arch 'Nope'.*F5TTS_v1_Base"):
        checkpoints.arch_config("Nope")


def _copy_model(src: tts.ModelFiles, dst: Path) -> tts.ModelFiles:
    import shutil

    shutil.copytree(src.ckpt.parent, dst)
    return dataclasses.replace(
        src, ckpt=dst / src.ckpt.name, vocab=dst / src.vocab.name, vocoder=dst / "vocos"
    )


def test_corrupt_checkpoint_fails_the_model_phase(engine, tmp_path: Path):
    files = _copy_model(engine.files, tmp_path / "m")
    files.ckpt.write_bytes(files.ckpt.read_bytes()[:5000])
    with pytest.raises(PhaseError) as info:
        tts.Engine(files, "cpu", "fp32")
    assert info.value.phase == "model" and info.value.exit_code == 16
    assert "corrupt" in info.value.remedy


def test_vocab_that_does_not_match_fails_the_model_phase(engine, tmp_path: Path):
    files = _copy_model(engine.files, tmp_path / "m")
    files.vocab.write_text(" \na\nb\n", encoding="utf-8")
    with pytest.raises(PhaseError) as info:
        tts.Engine(files, "cpu", "fp32")
    assert info.value.phase == "model" and "size mismatch" in info.value.cause


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"WORKER_MODEL": "F5TTS_v1_Base"}, "checkpoint missing"),
        ({"WORKER_MODEL": "/nowhere/model.pt"}, "checkpoint missing"),
        ({"WORKER_MODEL": "/nowhere/model.bin"}, "not .safetensors or .pt"),
    ],
)
def test_missing_files_fail_the_model_phase(env, missing, tmp_path: Path, monkeypatch):
    from worker.settings import Settings

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # default: offline, no hub fallback
    s = Settings.from_env({"WORKER_VOLUME": str(tmp_path), **env})
    with pytest.raises(PhaseError) as info:
        tts.resolve_model(s)
    assert info.value.phase == "model" and missing in info.value.cause
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").rglob("*.pt"))


def test_missing_vocab_for_a_checkpoint_path(engine, tmp_path: Path):
    from worker.settings import Settings

    s = Settings.from_env(
        {
            "WORKER_VOLUME": str(tmp_path),
            "WORKER_MODEL": str(engine.files.ckpt),
            "WORKER_MODEL_ARCH": "F5TTS_v1_Base",
            "WORKER_VOCAB": str(tmp_path / "vocab.txt"),
            "WORKER_VOCODER": str(engine.files.vocoder),
        }
    )
    with pytest.raises(PhaseError) as info:
        tts.resolve_model(s)
    assert "vocab missing" in info.value.cause and "WORKER_VOCAB" in info.value.remedy


def test_device_and_precision_choice():
    assert tts.pick_dtype("cpu", "fp16") == "fp32"
    assert tts.pick_dtype("cuda", "auto") == "fp16"
    assert tts.pick_dtype("cuda", "fp32") == "fp32"
    import torch

    if not torch.cuda.is_available():
        assert tts.pick_device("auto") == "cpu"
        with pytest.raises(PhaseError) as info:
            tts.pick_device("cuda")
        assert info.value.exit_code == 15
