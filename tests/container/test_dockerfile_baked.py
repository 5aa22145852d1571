"""Dockerfile.baked and harness.baked.toml, read statically (no Docker, no 8 GB build): the CA
reaches the install step as a BuildKit secret and no layer, the heavy layer depends on the lock
alone, the venv sealed is the venv boot is pointed at, and the baked config differs from
harness.toml only where it must. (The built image's `docker history --no-trunc` was checked for
the CA's text by hand; docs/container.md says how.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cainject import Instruction, _logical, split
from harness.config import load_config
from worker.uvrun import UV_VERSION

ROOT = Path(__file__).resolve().parents[2]
BAKED = ROOT / "Dockerfile.baked"
CA_VARS = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "UV_NATIVE_TLS")
SECRET = re.compile(r"--mount=type=secret,id=ca\b[^\s]*")


def _steps(text: str) -> list[tuple[str, str]]:
    """(keyword, the instruction as Docker joins it) for every instruction."""
    return [
        (i.keyword, _logical(i.lines[: i.head_count], "\\"))
        for i in split(text)
        if isinstance(i, Instruction)
    ]


def ca_leaks(text: str) -> list[str]:
    """Ways the Dockerfile could put the CA bundle (or a lasting pointer to one) into the image."""
    leaks = []
    for keyword, line in _steps(text):
        if keyword in ("COPY", "ADD") and re.search(r"\.(crt|pem)\b|ca-cert|/secrets/", line):
            leaks.append(f"{keyword} of a certificate: {line}")
        if keyword in ("ENV", "ARG") and any(v in line for v in CA_VARS):
            leaks.append(f"{keyword} names a CA variable (stays in the image config): {line}")
        if keyword == "RUN" and "/run/secrets/ca" in line:
            if not SECRET.search(line):
                leaks.append(f"RUN uses /run/secrets/ca without the secret mount: {line}")
            if re.search(r"(cp|cat|install|tee|mv|ln)\s[^;&|]*/run/secrets/ca", line):
                leaks.append(f"RUN copies the secret into the filesystem: {line}")
    return leaks


@pytest.mark.parametrize(
    "bad",
    [
        "COPY ca-certificates.crt /etc/ssl/certs/\n",
        "ADD proxy.pem /usr/local/share/ca-certificates/\n",
        "ENV PIP_CERT=/run/secrets/ca\n",
        "ARG SSL_CERT_FILE=/etc/proxy.crt\n",
        "RUN PIP_CERT=/run/secrets/ca pip install x\n",
        "RUN --mount=type=secret,id=ca,target=/run/secrets/ca cp /run/secrets/ca /etc/ca.pem\n",
    ],
)
def test_the_checker_sees_each_way_of_baking_a_ca(bad: str) -> None:
    assert ca_leaks(f"FROM python:3.11-slim\n{bad}")


def test_no_ca_is_baked() -> None:
    assert ca_leaks(BAKED.read_text()) == []


def test_the_install_step_gets_the_ca_as_a_secret_and_uses_uv_as_boot_does() -> None:
    steps = _steps(BAKED.read_text())
    install = [line for kw, line in steps if kw == "RUN" and "uv pip install" in line]
    assert len(install) == 1
    assert SECRET.search(install[0]) and "PIP_CERT=/run/secrets/ca" in install[0]
    assert f"uv=={UV_VERSION}" in install[0]  # the version boot installs (worker/uvrun.py)
    assert "--no-deps" in install[0] and "-r /app/worker/requirements/f5tts.lock" in install[0]
    assert "--compile-bytecode" in install[0]  # PYTHONDONTWRITEBYTECODE: no .pyc made later


def test_the_heavy_layer_depends_on_the_lock_files_alone() -> None:
    """A code change must reuse the ~8 GB layer (and a pull its digest)."""
    steps = _steps(BAKED.read_text())
    at = next(i for i, (kw, line) in enumerate(steps) if "uv pip install" in line)
    copies = [line for kw, line in steps[:at] if kw in ("COPY", "ADD")]
    assert copies == ["COPY worker/requirements/ /app/worker/requirements/"]


def test_the_sealed_venv_is_the_one_boot_is_pointed_at() -> None:
    steps = _steps(BAKED.read_text())
    env = " ".join(line for kw, line in steps if kw == "ENV")
    venv = re.search(r"WORKER_BAKED_VENV=(\S+)", env)
    assert venv is not None
    seal = [line for kw, line in steps if kw == "RUN" and "worker.baked" in line]
    assert len(seal) == 1
    sealing = f"python3 -m worker.baked {venv.group(1)} /app/worker/requirements/f5tts.lock"
    assert sealing in seal[0]
    assert f"python3 -m venv {venv.group(1)};" in next(
        line for kw, line in steps if "uv pip install" in line
    )
    assert steps[-1] == ("ENTRYPOINT", 'ENTRYPOINT ["python3", "-m", "worker.boot"]')


def test_the_baked_config_differs_only_in_dockerfile_and_tags() -> None:
    main = load_config(ROOT / "harness.toml").model_dump(mode="json")
    baked = load_config(ROOT / "harness.baked.toml").model_dump(mode="json")
    assert (baked["build"]["dockerfile"], main["build"]["dockerfile"]) == (
        "Dockerfile.baked",
        "Dockerfile",
    )
    assert baked["build"]["tag_prefix"] != main["build"]["tag_prefix"]  # one image per side
    for cfg in (main, baked):
        del cfg["build"]["dockerfile"], cfg["build"]["tag_prefix"]
    assert baked == main
