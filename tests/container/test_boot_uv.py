"""The venv installed with uv (WORKER_INSTALLER): the real boot program, a real uv wheel, real
installs from a local folder, and the fallback to pip when uv cannot be had or fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.container import standin
from tests.container.bootrun import Env, Result
from worker import uvrun

# The uv wheel is fetched once per machine from the package index (as the wheelhouse is), into a
# folder of its own so the container tests' wheelhouse stays pip-only.
UV_WHEELS = Path(os.environ.get("F5TTS_UV_WHEEL_DIR", "/var/cache/f5tts-uv-wheel"))


@pytest.fixture(scope="module")
def uv_wheel() -> Path:
    found = sorted(UV_WHEELS.glob(f"uv-{uvrun.UV_VERSION}-*.whl"))
    if not found:
        UV_WHEELS.mkdir(parents=True, exist_ok=True)
        res = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "-d", str(UV_WHEELS), f"uv=={uvrun.UV_VERSION}"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        found = sorted(UV_WHEELS.glob(f"uv-{uvrun.UV_VERSION}-*.whl"))
    assert found, f"no uv {uvrun.UV_VERSION} wheel in {UV_WHEELS}"
    return found[0]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env.make(tmp_path)


def _install_steps(res: Result) -> list[dict]:
    return [r for r in res.records if r["phase"] == "venv" and r.get("step") == "install"]


def test_uv_installs_the_lock_with_its_cache_on_the_volume(env: Env, uv_wheel: Path) -> None:
    shutil.copy(uv_wheel, env.wheels)
    res = env.run(timeout=300, PYTHONDONTWRITEBYTECODE="1")  # as the image sets it
    assert res.rc == 0, res.stdout + res.stderr[-3000:]
    assert res.last["phase"] == "ready"
    steps = _install_steps(res)
    assert [s["installer"] for s in steps] == ["uv"], steps
    assert steps[0]["cache"] == str(env.volume / "cache" / "uv")
    assert (env.volume / "cache" / "uv").is_dir()
    assert "uv|" in res.stderr  # uv's own output is in the log
    # uv compiles nothing (pip does) and the worker runs with PYTHONDONTWRITEBYTECODE: what the
    # import check imports before the seal keeps its .pyc files, or every start compiles the
    # worker's imports again (36 s against 15 s here)
    (venv,) = env.venv_dirs()
    assert list(venv.glob(f"lib/python*/site-packages/{standin.PKG}/__pycache__/*.pyc"))


def test_auto_falls_back_to_pip_when_uv_cannot_be_installed(env: Env) -> None:
    res = env.run(timeout=300)  # the local folder has no uv wheel and there is no index
    assert res.rc == 0, res.stdout + res.stderr[-3000:]
    steps = _install_steps(res)
    assert [s["installer"] for s in steps] == ["pip"], steps
    assert "installing uv failed" in steps[0]["reason"]


def test_pip_setting_never_tries_uv(env: Env, uv_wheel: Path) -> None:
    shutil.copy(uv_wheel, env.wheels)
    res = env.run(timeout=300, WORKER_INSTALLER="pip")
    assert res.rc == 0, res.stdout + res.stderr[-3000:]
    assert [s["installer"] for s in _install_steps(res)] == ["pip"]
    assert not (env.volume / "cache" / "uv").exists()


def test_uv_setting_without_uv_is_exit_13_naming_uv(env: Env) -> None:
    res = env.run(timeout=300, WORKER_INSTALLER="uv")
    assert res.rc == 13, res.stdout + res.stderr[-3000:]
    assert res.last["phase"] == "venv"
    assert "installing uv failed" in res.last["cause"]
    assert "WORKER_INSTALLER=pip" in res.last["remedy"]


def test_uv_failure_falls_back_to_pip_which_names_the_cause(env: Env, uv_wheel: Path) -> None:
    shutil.copy(uv_wheel, env.wheels)
    standin.write_lock(env.lock, version="9.9")  # no such version in the folder
    res = env.run(timeout=300)
    assert res.rc == 13, res.stdout + res.stderr[-3000:]
    steps = _install_steps(res)
    assert [s["installer"] for s in steps] == ["uv", "pip"], steps
    assert "resolution" in res.last["cause"]
    assert [p.name for p in env.venv_dirs()] == []


def test_bad_installer_setting_is_the_env_phase(env: Env) -> None:
    res = env.run(WORKER_INSTALLER="conda")
    assert res.rc == 10
    assert "WORKER_INSTALLER" in res.last["cause"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, []),
        ({"PIP_INDEX_URL": "https://idx/simple"}, ["--index-url", "https://idx/simple"]),
        (
            {"PIP_EXTRA_INDEX_URL": "https://a/simple https://b/simple"},
            ["--extra-index-url", "https://a/simple", "--extra-index-url", "https://b/simple"],
        ),
        ({"PIP_FIND_LINKS": "/w1 /w2"}, ["--find-links", "/w1", "--find-links", "/w2"]),
        ({"PIP_NO_INDEX": "1"}, ["--no-index"]),
        ({"PIP_NO_INDEX": "off"}, []),
    ],
)
def test_pip_index_settings_become_uv_flags(environ: dict, expected: list[str]) -> None:
    assert uvrun.index_args(environ) == expected


def test_uv_gets_pips_ca_bundle_unless_it_has_its_own(tmp_path: Path) -> None:
    env = uvrun.uv_env({"PIP_CERT": "/ca.crt"}, tmp_path)
    assert env["SSL_CERT_FILE"] == "/ca.crt"
    assert env["UV_CACHE_DIR"] == str(tmp_path)
    own = uvrun.uv_env({"PIP_CERT": "/ca.crt", "SSL_CERT_FILE": "/mine.crt"}, tmp_path)
    assert own["SSL_CERT_FILE"] == "/mine.crt"
