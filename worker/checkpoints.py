"""Make small checkpoints and a local vocoder from the REAL f5_tts and vocos classes.

Nothing here downloads anything: weights are random with a fixed seed, so the files are the same
on every machine. The tiny model exercises the whole inference path in well under a second on a
CPU; `--arch F5TTS_v1_Base` builds the real architecture (337 M parameters) for timing figures.

    python -m worker.checkpoints --arch tiny --out DIR
    python -m worker.checkpoints --arch F5TTS_v1_Base --out DIR
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
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
SEED = 1234

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


def build(out: Path, arch_name: str) -> Path:
    """Write checkpoint + vocab + vocoder into `out` atomically (temp dir, fsync, rename).

    When `out` already exists it is left as it is: a concurrent maker that loses the rename
    race discards its own copy.
    """
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    os.chmod(tmp, 0o755)
    try:
        shutil.copyfile(packaged_vocab(), tmp / VOCAB_NAME)
        write_checkpoint(tmp, arch_config(arch_name), tmp / VOCAB_NAME)
        write_vocoder(tmp / VOCODER_DIR)
        _fsync_tree(tmp)
        try:
            os.rename(tmp, out)
        except OSError:
            if not out.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="tiny", help="tiny or an f5_tts config name")
    parser.add_argument("--out", required=True, type=Path, help="folder to create")
    args = parser.parse_args(argv)
    out = build(args.out, args.arch)
    print(f"wrote {out}: {CKPT_NAME}, {VOCAB_NAME}, {VOCODER_DIR}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
