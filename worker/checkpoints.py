"""Make small checkpoints and a local vocoder from the REAL f5_tts and vocos classes.

Nothing here downloads anything: weights are random with a fixed seed, so the files are the same
on every machine. The tiny model exercises the whole inference path in well under a second on a
CPU; `--arch F5TTS_v1_Base` builds the real architecture (337 M parameters) for timing figures.

    python -m worker.checkpoints --arch tiny --out DIR
    python -m worker.checkpoints --arch F5TTS_v1_Base --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

# The tiny architecture: the DiT options of F5TTS_v1_Base at toy sizes.
TINY_ARCH: dict[str, Any] = {
    "dim": 64,
    "depth": 2,
    "heads": 2,
    "dim_head": 32,
    "ff_mult": 2,
    "text_dim": 32,
    "text_mask_padding": True,
    "qk_norm": None,
    "conv_layers": 2,
    "pe_attn_head": None,
    "attn_backend": "torch",
    "attn_mask_enabled": False,
    "checkpoint_activations": False,
}
CKPT_NAME = "model.safetensors"
VOCAB_NAME = "vocab.txt"
VOCODER_DIR = "vocos"
STAMP_NAME = "fingerprint.json"  # written last: what made the folder (see `fingerprint`)
SEED = 1234
MADE_NAMES = {CKPT_NAME, VOCAB_NAME, VOCODER_DIR, STAMP_NAME}
# Packages whose code decides the files' bytes (random init, state-dict layout, packaged vocab).
KEY_PACKAGES = ("torch", "f5-tts", "vocos", "safetensors")

# The 24 kHz mel Vocos configuration (the shape of charactr/vocos-mel-24khz).
VOCOS_CONFIG = """\
feature_extractor:
  class_path: vocos.feature_extractors.MelSpectrogramFeatures
  init_args:
    sample_rate: 24000
    n_fft: 1024
    hop_length: 256
    n_mels: 100
    padding: center
backbone:
  class_path: vocos.models.VocosBackbone
  init_args:
    input_channels: 100
    dim: 512
    intermediate_dim: 1536
    num_layers: 8
head:
  class_path: vocos.heads.ISTFTHead
  init_args:
    dim: 512
    n_fft: 1024
    hop_length: 256
    padding: center
"""


def packaged_vocab() -> Path:
    """The character vocabulary shipped inside the f5_tts package (line 0 is a space)."""
    return Path(str(files("f5_tts").joinpath("infer/examples/vocab.txt")))


def arch_config(name: str) -> dict[str, Any]:
    """The DiT arguments for `name`: "tiny" or a config in f5_tts's packaged configs/*.yaml."""
    if name == "tiny":
        return dict(TINY_ARCH)
    from omegaconf import OmegaConf

    path = Path(str(files("f5_tts").joinpath(f"configs/{name}.yaml")))
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ValueError(f"unknown model arch {name!r}; known: tiny, {', '.join(known)}")
    cfg = OmegaConf.load(path)
    if cfg.model.backbone != "DiT":
        raise ValueError(f"arch {name!r} uses backbone {cfg.model.backbone}; only DiT is supported")
    return dict(OmegaConf.to_container(cfg.model.arch, resolve=True))


def write_checkpoint(out: Path, arch: dict[str, Any], vocab: Path, seed: int = SEED) -> Path:
    """Save a randomly initialised CFM(DiT) as safetensors with `ema_model.` keys; returns it."""
    import torch
    from f5_tts.infer.utils_infer import (
        hop_length,
        n_fft,
        n_mel_channels,
        target_sample_rate,
        win_length,
    )
    from f5_tts.model import CFM, DiT
    from f5_tts.model.utils import get_tokenizer
    from safetensors.torch import save_file

    vocab_map, vocab_size = get_tokenizer(str(vocab), "custom")
    torch.manual_seed(seed)
    model = CFM(
        transformer=DiT(**arch, text_num_embeds=vocab_size, mel_dim=n_mel_channels),
        mel_spec_kwargs={
            "n_fft": n_fft,
            "hop_length": hop_length,
            "win_length": win_length,
            "n_mel_channels": n_mel_channels,
            "target_sample_rate": target_sample_rate,
            "mel_spec_type": "vocos",
        },
        vocab_char_map=vocab_map,
    )
    state = {f"ema_model.{k}": v.contiguous() for k, v in model.state_dict().items()}
    path = out / CKPT_NAME
    save_file(state, str(path))
    os.chmod(path, 0o644)  # safetensors writes 0600; other users of the volume read it too
    return path


def write_vocoder(out: Path, seed: int = SEED) -> Path:
    """Write a Vocos folder (config.yaml + pytorch_model.bin) with random weights."""
    import torch
    from vocos import Vocos

    out.mkdir(parents=True, exist_ok=True)
    config = out / "config.yaml"
    config.write_text(VOCOS_CONFIG)
    torch.manual_seed(seed)
    vocos = Vocos.from_hparams(str(config))
    torch.save(vocos.state_dict(), out / "pytorch_model.bin")
    return out


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def fingerprint(arch_name: str) -> dict[str, Any]:
    """Everything that decides the bytes `build` writes, and its short hash under "key".

    This module's own source (the seed, the vocoder config, how the model is made), the arch,
    and the versions of the packages whose code builds the weights and ships the vocab. A change
    to any of them gives another key, so a bisect never measures a model made by other code.
    """
    packages = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    inputs = {
        "source_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "arch_name": arch_name,
        "arch": arch_config(arch_name),
        "packages": packages,
    }
    blob = json.dumps(inputs, sort_keys=True, default=str).encode()
    return {"key": hashlib.sha256(blob).hexdigest()[:16], **inputs}


def build(out: Path, arch_name: str) -> Path:
    """Make checkpoint + vocab + vocoder for `arch_name` once, and return the folder holding them.

    The files live in `<out>-<key>` (key: `fingerprint`), written atomically (temp dir, fsync,
    rename) and never changed afterwards; a concurrent maker of the same key loses the rename
    race and discards its copy. `out` itself becomes a relative symlink to the newest keyed
    folder, for people and tools that look there; callers load from the returned folder, so
    another version re-pointing the link cannot change what they load.
    """
    stamp = fingerprint(arch_name)
    real = out.with_name(f"{out.name}-{stamp['key']}")
    if not (real / STAMP_NAME).is_file():
        _make(real, arch_name, stamp)
    _point(out, real)
    return real


def _make(real: Path, arch_name: str, stamp: dict[str, Any]) -> None:
    real.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{real.name}.", dir=real.parent))
    os.chmod(tmp, 0o755)
    try:
        shutil.copyfile(packaged_vocab(), tmp / VOCAB_NAME)
        write_checkpoint(tmp, arch_config(arch_name), tmp / VOCAB_NAME)
        write_vocoder(tmp / VOCODER_DIR)
        (tmp / STAMP_NAME).write_text(json.dumps(stamp, indent=2, default=str) + "\n")
        _fsync_tree(tmp)
        try:
            os.rename(tmp, real)
        except OSError:
            if not (real / STAMP_NAME).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _point(out: Path, real: Path) -> None:
    """Make `out` a symlink to `real` (best effort: the returned folder is what callers use).

    A real folder at `out` holding only these files was made before keys existed (its model is
    of unknown code): it is moved aside and removed. Any other folder there is left alone.
    """
    if out.is_symlink() and os.readlink(out) == real.name:
        return
    link = out.with_name(f".{out.name}.link-{uuid.uuid4().hex}")
    try:
        folder = out.is_dir() and not out.is_symlink()
        if folder and not {p.name for p in out.iterdir()} <= MADE_NAMES:
            return
        os.symlink(real.name, link)
        if folder:
            stale = out.with_name(f".{out.name}.stale-{uuid.uuid4().hex}")
            os.rename(out, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(link, out)
    except OSError:
        pass
    finally:
        if link.is_symlink():
            link.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="tiny", help="tiny or an f5_tts config name")
    parser.add_argument("--out", required=True, type=Path, help="folder to create")
    args = parser.parse_args(argv)
    out = build(args.out, args.arch)
    print(f"wrote {out} (linked from {args.out}): {CKPT_NAME}, {VOCAB_NAME}, {VOCODER_DIR}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
