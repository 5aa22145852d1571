"""Every setting of the worker, read from environment variables (standard library only).

The boot program and the worker both read settings through `Settings.from_env()`, so a name is
spelled once. README.md lists them all; `python -m worker.settings` prints the effective values.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path

TRUE = {"1", "true", "yes", "on"}


class SettingError(ValueError):
    """A setting with a value the worker cannot use; the message names it and what is allowed."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in TRUE | {"0", "false", "no", "off"}:
        return raw.lower() in TRUE
    raise SettingError(f"{name}={raw!r}: expected one of 1/0, true/false, yes/no, on/off")


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r}: expected a number between {lo:g} and {hi:g}") from None
    if not lo <= value <= hi:
        raise SettingError(f"{name}={raw!r}: expected a number between {lo:g} and {hi:g}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise SettingError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value


@dataclasses.dataclass(frozen=True)
class Settings:
    # model and device
    model: str = "tiny"  # WORKER_MODEL: tiny | F5TTS_v1_Base | path to a checkpoint
    model_arch: str = "F5TTS_v1_Base"  # WORKER_MODEL_ARCH: arch config for a checkpoint path
    vocab: str = ""  # WORKER_VOCAB: vocab file for a checkpoint path
    vocoder: str = ""  # WORKER_VOCODER: local Vocos folder (config.yaml + pytorch_model.bin)
    device: str = "auto"  # WORKER_DEVICE: auto | cpu | cuda
    precision: str = "auto"  # WORKER_PRECISION: auto | fp32 | fp16 (auto: fp16 on CUDA)
    transcriber: str = "none"  # WORKER_TRANSCRIBER: none | whisperx
    transcriber_model: str = ""  # WORKER_TRANSCRIBER_MODEL: local faster-whisper model folder
    # volume and environment
    volume: str = "/runpod-volume"  # WORKER_VOLUME
    volume_fallback: str = ""  # WORKER_VOLUME_FALLBACK: local path used (loudly) if no volume
    lock: str = ""  # WORKER_LOCK: lock file the venv is built from (default: bundled f5tts.lock)
    venv_keep: int = 3  # WORKER_VENV_KEEP: venvs kept on the volume, oldest removed first
    install_bytes: int = 12_000_000_000  # WORKER_INSTALL_BYTES: free space a new venv needs
    installer: str = "auto"  # WORKER_INSTALLER: auto (uv, else pip), uv, pip
    lock_stale_s: float = 120.0  # WORKER_LOCK_STALE_S: build lock without heartbeat is stale
    entry_module: str = "worker"  # WORKER_ENTRY_MODULE: module boot execs in the venv (`-m`)
    baked_venv: str = ""  # WORKER_BAKED_VENV: venv sealed in the image (Dockerfile.baked)
    # request limits
    max_text_chars: int = 2000  # WORKER_MAX_TEXT_CHARS
    max_ref_bytes: int = 10_000_000  # WORKER_MAX_REF_BYTES
    max_ref_seconds: float = 12.0  # WORKER_MAX_REF_SECONDS: reference audio is clipped to this
    max_ref_channels: int = 8  # WORKER_MAX_REF_CHANNELS: a reference with more is refused
    url_timeout_s: float = 10.0  # WORKER_URL_TIMEOUT_S
    allow_private_urls: bool = False  # WORKER_ALLOW_PRIVATE_URLS: allow loopback/private URL hosts
    default_nfe: int = 32  # WORKER_DEFAULT_NFE: nfe_step when a request gives none
    max_output_seconds: float = 300.0  # WORKER_MAX_OUTPUT_SECONDS: refuse longer estimated audio
    # long life (worker/guard.py, worker/lifecycle.py)
    memory_ceiling_mb: float = 0.0  # WORKER_MEMORY_CEILING_MB: RSS above this asks for a refresh
    sigterm_grace_s: float = 25.0  # WORKER_SIGTERM_GRACE_S: a job in flight may finish this long
    job_timeout_s: float = 600.0  # WORKER_JOB_TIMEOUT_S: a job running longer fails (0: never)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        d = cls()
        return cls(
            model=(env.get("WORKER_MODEL") or d.model).strip(),
            model_arch=(env.get("WORKER_MODEL_ARCH") or d.model_arch).strip(),
            vocab=(env.get("WORKER_VOCAB") or "").strip(),
            vocoder=(env.get("WORKER_VOCODER") or "").strip(),
            device=_choice(env, "WORKER_DEVICE", d.device, ("auto", "cpu", "cuda")),
            precision=_choice(env, "WORKER_PRECISION", d.precision, ("auto", "fp32", "fp16")),
            transcriber=_choice(env, "WORKER_TRANSCRIBER", d.transcriber, ("none", "whisperx")),
            transcriber_model=(env.get("WORKER_TRANSCRIBER_MODEL") or "").strip(),
            volume=(env.get("WORKER_VOLUME") or d.volume).strip(),
            volume_fallback=(env.get("WORKER_VOLUME_FALLBACK") or "").strip(),
            lock=(env.get("WORKER_LOCK") or "").strip(),
            venv_keep=int(_number(env, "WORKER_VENV_KEEP", d.venv_keep, 1, 100)),
            install_bytes=int(_number(env, "WORKER_INSTALL_BYTES", d.install_bytes, 0, 1e13)),
            installer=_choice(env, "WORKER_INSTALLER", d.installer, ("auto", "uv", "pip")),
            lock_stale_s=_number(env, "WORKER_LOCK_STALE_S", d.lock_stale_s, 5, 86400),
            entry_module=(env.get("WORKER_ENTRY_MODULE") or d.entry_module).strip(),
            baked_venv=(env.get("WORKER_BAKED_VENV") or "").strip(),
            max_text_chars=int(_number(env, "WORKER_MAX_TEXT_CHARS", d.max_text_chars, 1, 1e6)),
            max_ref_bytes=int(_number(env, "WORKER_MAX_REF_BYTES", d.max_ref_bytes, 1e3, 1e9)),
            max_ref_seconds=_number(env, "WORKER_MAX_REF_SECONDS", d.max_ref_seconds, 1, 60),
            max_ref_channels=int(
                _number(env, "WORKER_MAX_REF_CHANNELS", d.max_ref_channels, 1, 32)
            ),
            url_timeout_s=_number(env, "WORKER_URL_TIMEOUT_S", d.url_timeout_s, 0.1, 300),
            allow_private_urls=_bool(env, "WORKER_ALLOW_PRIVATE_URLS", d.allow_private_urls),
            default_nfe=int(_number(env, "WORKER_DEFAULT_NFE", d.default_nfe, 4, 64)),
            max_output_seconds=_number(
                env, "WORKER_MAX_OUTPUT_SECONDS", d.max_output_seconds, 1, 3600
            ),
            memory_ceiling_mb=_number(env, "WORKER_MEMORY_CEILING_MB", d.memory_ceiling_mb, 0, 1e7),
            sigterm_grace_s=_number(env, "WORKER_SIGTERM_GRACE_S", d.sigterm_grace_s, 0, 3600),
            job_timeout_s=_number(env, "WORKER_JOB_TIMEOUT_S", d.job_timeout_s, 0, 86400),
        )

    @property
    def models_dir(self) -> Path:
        """The model cache on the volume."""
        return Path(self.volume) / "models"


if __name__ == "__main__":
    print(json.dumps(dataclasses.asdict(Settings.from_env()), indent=2))
