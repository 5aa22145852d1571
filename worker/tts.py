"""F5-TTS model + vocoder loading and synthesis: the only module that touches torch.

Loading and synthesis go through f5_tts's own code (utils_infer.load_model, load_vocoder,
infer_batch_process) with local files only. Text is planned into chunks here (`plan`), split
where f5_tts's chunk_text splits but valid for every reference length the settings allow.
Chunks are synthesised one at a time, each seeded from the request seed, because
infer_batch_process runs several chunks on threads that share torch's global generator (so the
same seed would not give the same audio).
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from worker import checkpoints
from worker.phases import PhaseError
from worker.settings import Settings

HOP = 256
SR = 24_000
BASE_NAME = "F5TTS_v1_Base"
# Chunk planning (see chunk_bytes and plan_chunks).
TOTAL_SECONDS = 22.0  # f5_tts: reference + one chunk of speech last about this long
MIN_CHUNK_SECONDS = 10.0  # = 22 - 12, what f5_tts leaves after its own 12 s reference clip
MIN_CHUNK_BYTES, MAX_CHUNK_BYTES = 20, 500
CLAUSE = re.compile(r"(?<=[;:,.!?])\s+|(?<=[；：，。！？])")  # f5_tts chunk_text's split


@dataclasses.dataclass(frozen=True)
class ModelFiles:
    """Where a model's files are; `vocoder` is a local Vocos folder."""

    name: str
    arch: dict[str, Any]
    ckpt: Path
    vocab: Path
    vocoder: Path


def pick_device(wanted: str) -> str:
    """cuda or cpu; PhaseError("device") when cuda is asked for and absent."""
    import torch

    has_cuda = torch.cuda.is_available()
    if wanted == "cuda" and not has_cuda:
        raise PhaseError(
            "device",
            "WORKER_DEVICE=cuda but torch sees no CUDA device",
            "run on a GPU worker (check the endpoint's GPU type and the CUDA driver), or set "
            "WORKER_DEVICE=auto / cpu",
            torch_cuda_build=torch.version.cuda,
        )
    return "cuda" if wanted in ("cuda", "auto") and has_cuda else "cpu"


def pick_dtype(device: str, precision: str) -> str:
    """fp16 on CUDA unless WORKER_PRECISION=fp32; always fp32 on CPU."""
    if device != "cuda" or precision == "fp32":
        return "fp32"
    return "fp16"


def resolve_model(settings: Settings) -> ModelFiles:
    """The files for WORKER_MODEL, made on first use for "tiny"; PhaseError("model") if absent."""
    models = settings.models_dir
    if settings.model == "tiny":
        root = checkpoints.build(models / "tiny", "tiny")
        arch = checkpoints.arch_config("tiny")
        return ModelFiles(
            "tiny",
            arch,
            root / checkpoints.CKPT_NAME,
            root / checkpoints.VOCAB_NAME,
            root / checkpoints.VOCODER_DIR,
        )
    vocoder = Path(settings.vocoder) if settings.vocoder else models / "vocos-mel-24khz"
    if settings.model == BASE_NAME:
        root = models / BASE_NAME
        files = ModelFiles(
            BASE_NAME,
            _arch(BASE_NAME),
            root / "model_1250000.safetensors",
            Path(settings.vocab) if settings.vocab else root / "vocab.txt",
            vocoder,
        )
        hint = (
            f"put model_1250000.safetensors and vocab.txt (from SWivid/F5-TTS, F5TTS_v1_Base) in "
            f"{root}/ and the charactr/vocos-mel-24khz files (config.yaml, pytorch_model.bin) in "
            f"{vocoder}/, or set HF_HUB_OFFLINE=0 on a worker that can reach the hub"
        )
        if hub_allowed() and not (files.ckpt.is_file() and files.vocab.is_file()):
            _download_base(root, vocoder)
    else:
        ckpt = Path(settings.model)
        files = ModelFiles(
            ckpt.stem,
            _arch(settings.model_arch),
            ckpt,
            Path(settings.vocab) if settings.vocab else checkpoints.packaged_vocab(),
            vocoder,
        )
        hint = (
            "set WORKER_MODEL to an existing .safetensors/.pt file, WORKER_VOCAB to its vocab.txt "
            "and WORKER_VOCODER to a local Vocos folder (config.yaml + pytorch_model.bin)"
        )
    if files.ckpt.suffix not in (".safetensors", ".pt"):
        raise PhaseError("model", f"checkpoint {files.ckpt} is not .safetensors or .pt", hint)
    for what, path in [
        ("checkpoint", files.ckpt),
        ("vocab", files.vocab),
        ("vocoder config", files.vocoder / "config.yaml"),
        ("vocoder weights", files.vocoder / "pytorch_model.bin"),
    ]:
        if not path.is_file():
            # The hub is never used as a fallback: this worker runs offline by design.
            raise PhaseError("model", f"{what} missing: {path}", hint, path=str(path))
    return files


def hub_allowed() -> bool:
    """The hub is used only when a person sets HF_HUB_OFFLINE=0 explicitly."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("0", "false", "no", "off")


def _download_base(root: Path, vocoder: Path) -> None:
    """Fetch F5TTS_v1_Base and Vocos from the hub into the volume (never run in tests here)."""
    from huggingface_hub import hf_hub_download

    for name in ("model_1250000.safetensors", "vocab.txt"):
        path = hf_hub_download("SWivid/F5-TTS", f"{BASE_NAME}/{name}", local_dir=root.parent)
        if Path(path) != root / name:
            os.replace(path, root / name)
    for name in ("config.yaml", "pytorch_model.bin"):
        hf_hub_download("charactr/vocos-mel-24khz", name, local_dir=vocoder)


def _arch(name: str) -> dict[str, Any]:
    try:
        return checkpoints.arch_config(name)
    except ValueError as exc:
        raise PhaseError(
            "model", str(exc), "set WORKER_MODEL_ARCH to a config name shipped with f5_tts"
        ) from None


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclasses.dataclass
class Synthesis:
    wave: np.ndarray
    num_chunks: int


class Engine:
    """A loaded model + vocoder on one device; `synthesize` runs one request."""

    def __init__(self, files: ModelFiles, device: str, dtype: str) -> None:
        import torch
        from f5_tts.infer.utils_infer import load_model, load_vocoder
        from f5_tts.model import DiT

        self.files, self.device, self.dtype = files, device, dtype
        try:
            self.model = load_model(
                DiT,
                files.arch,
                str(files.ckpt),
                mel_spec_type="vocos",
                vocab_file=str(files.vocab),
                device=device,
            )
            if dtype == "fp32":
                self.model = self.model.float()
            self.vocoder = load_vocoder(
                "vocos", is_local=True, local_path=str(files.vocoder), device=device
            )
        except Exception as exc:
            raise PhaseError(
                "model",
                f"could not load {files.name}: {type(exc).__name__}: {str(exc)[:500]}",
                "the checkpoint is corrupt or does not match WORKER_MODEL_ARCH / the vocab; "
                "delete it so it is made or copied again",
                checkpoint=str(files.ckpt),
            ) from None
        self.parameters = sum(p.numel() for p in self.model.parameters())
        self._torch = torch
        # Seeding uses torch's global generator: one synthesis at a time keeps seeds exact
        # (runpod serves a sync handler one request at a time anyway).
        self._lock = threading.Lock()

    def plan(self, text: str, ref_text: str, ref_seconds: float, speed: float) -> list[str]:
        """The text chunks for this request (see `plan`)."""
        return plan(text, ref_text, ref_seconds, speed)

    def synthesize(
        self,
        ref: np.ndarray,
        ref_text: str,
        chunks: list[str],
        *,
        nfe_step: int,
        cfg_strength: float,
        sway_sampling_coef: float,
        speed: float,
        cross_fade_duration: float,
        seed: int,
    ) -> Synthesis:
        from f5_tts.infer.utils_infer import infer_batch_process

        from worker.audio import cross_fade

        cond = self._torch.from_numpy(np.ascontiguousarray(ref, dtype=np.float32))[None, :]
        waves = []
        with self._lock:
            for i, chunk in enumerate(chunks):
                seed_everything(seed + i)
                wave, _, _ = next(
                    infer_batch_process(
                        (cond, SR),
                        ref_text,
                        [chunk],
                        self.model,
                        self.vocoder,
                        mel_spec_type="vocos",
                        progress=None,
                        nfe_step=nfe_step,
                        cfg_strength=cfg_strength,
                        sway_sampling_coef=sway_sampling_coef,
                        speed=speed,
                        device=self.device,
                    )
                )
                waves.append(np.atleast_1d(np.asarray(wave, dtype=np.float32)))
        return Synthesis(cross_fade(waves, cross_fade_duration), len(chunks))


def chunk_bytes(ref_text: str, ref_seconds: float, speed: float) -> int:
    """The largest chunk, in UTF-8 bytes, for a reference of `ref_seconds` speaking `ref_text`.

    f5_tts's rule sizes a chunk so that reference + chunk last about TOTAL_SECONDS, at the
    reference's bytes per second, times speed. Its own pipeline clips references to 12 s, so
    it never meets a reference of 22 s or more; this worker allows up to 60 s, where the rule
    reaches zero. Here a chunk always gets at least MIN_CHUNK_SECONDS (the rule is unchanged for
    references up to 12 s), and the size stays within [MIN_CHUNK_BYTES, MAX_CHUNK_BYTES] so that
    a ref_text that does not match its audio cannot make one-character or unbounded chunks.
    """
    per_second = len(ref_text.encode("utf-8")) / max(ref_seconds, 1e-3)
    seconds = max(TOTAL_SECONDS - ref_seconds, MIN_CHUNK_SECONDS)
    return int(min(max(per_second * seconds * speed, MIN_CHUNK_BYTES), MAX_CHUNK_BYTES))


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _pieces(text: str, max_bytes: int) -> Iterator[tuple[str, str]]:
    """(piece, separator after it): clauses, or the words and slices of a clause too long.

    Every piece holds a non-space character and is at most `max_bytes` long. The separator is
    f5_tts's: a space after a piece ending in a one-byte character, nothing after CJK
    punctuation; between the words of a split clause a space, inside a split word nothing.
    """
    for clause in CLAUSE.split(text):
        if not clause.strip():
            continue
        end = " " if _size(clause[-1]) == 1 else ""
        if _size(clause) <= max_bytes:
            yield clause, end
            continue
        words = clause.split()
        for i, word in enumerate(words):
            slices = list(_slices(word, max_bytes))
            for j, part in enumerate(slices):
                last_slice = j == len(slices) - 1
                yield part, (end if i == len(words) - 1 else " ") if last_slice else ""


def _slices(word: str, max_bytes: int) -> Iterator[str]:
    """`word` in consecutive slices of at most `max_bytes` UTF-8 bytes (whole characters)."""
    part = ""
    for char in word:
        if part and _size(part + char) > max_bytes:
            yield part
            part = ""
        part += char
    yield part


def plan_chunks(text: str, max_bytes: int) -> list[str]:
    """`text` in chunks of at most `max_bytes` UTF-8 bytes, split where f5_tts's chunk_text splits.

    Clauses (text after ; : , . ! ? and CJK punctuation) are packed greedily as chunk_text packs
    them, and give the same chunks when every clause fits. A clause longer than a chunk is split
    between words, and a word longer than a chunk between characters, so no chunk is ever
    larger than `max_bytes`, none is empty, and the non-space characters keep their order.
    """
    chunks: list[str] = []
    current = ""
    for piece, sep in _pieces(text, max_bytes):
        if current and _size(current) + _size(piece) > max_bytes:
            chunks.append(current.strip())
            current = ""
        current += piece + sep
    if current.strip():
        chunks.append(current.strip())
    return chunks


def plan(text: str, ref_text: str, ref_seconds: float, speed: float) -> list[str]:
    """The chunks a request's text is synthesised in, one model call each."""
    return plan_chunks(text, chunk_bytes(ref_text, ref_seconds, speed))


def normalize_ref_text(text: str) -> str:
    """End the reference text with sentence punctuation and a space, as f5_tts expects."""
    text = text.strip()
    if text.endswith("。"):
        return text
    return (text if text.endswith(".") else text + ".") + " "


def estimate_seconds(ref_seconds: float, ref_text: str, chunks: list[str], speed: float) -> float:
    """Generated audio length f5_tts will produce (its duration rule, without the reference)."""
    per_byte = ref_seconds / max(len(ref_text.encode("utf-8")), 1)
    total = 0.0
    for chunk in chunks:
        n = len(chunk.encode("utf-8"))
        total += per_byte * n / (0.3 if n < 10 else speed)
    return total


def offline_env() -> None:
    """Set before importing f5_tts: no hub (unless HF_HUB_OFFLINE=0 is set), no telemetry."""
    if not hub_allowed():
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["WANDB_MODE"] = "disabled"
    os.environ["PYANNOTE_METRICS_ENABLED"] = "0"
