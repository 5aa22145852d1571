"""A venv baked into the image (Dockerfile.baked, worker/baked.py), with the real boot program on
the host: a stand-in venv is installed by real pip, sealed by `python -m worker.baked`, and boot
runs on it with WORKER_BAKED_VENV set. No Docker and no 8 GB image: the image's own facts are in
test_dockerfile_baked.py, the figures in docs/container.md."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.container import standin
from tests.container.bootrun import REPO, Env, Result
from worker.manifest import MANIFEST
from worker.sweep import MARKER


def _sh(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd="/", timeout=180)
    assert res.returncode == 0, f"{cmd}\n{res.stdout}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One stand-in venv, installed and sealed as Dockerfile.baked does (copied per test)."""
    env = Env.make(tmp_path_factory.mktemp("bake"))
    venv = env.root / "baked"
    environ = {**env.environ(), "PYTHONPATH": str(REPO)}
    _sh([sys.executable, "-m", "venv", str(venv)], environ)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-r", str(env.lock)]
    _sh(pip, environ)
    seal = _sh([sys.executable, "-m", "worker.baked", str(venv), str(env.lock)], environ)
    assert json.loads(seal.stdout.splitlines()[-1])["step"] == "sealed"
    return venv


@pytest.fixture
def env(tmp_path: Path, sealed: Path) -> Env:
    """A stand-in world whose wheel folder is empty: any install on the volume fails, so a start
    that is ready ran on the baked venv or says why it did not."""
    env = Env.make(tmp_path)
    shutil.copytree(sealed, env.root / "baked", symlinks=True)
    shutil.copy(sealed.parent / "stand-in.lock", env.lock)  # the lock it was sealed for
    return env


def _boot(env: Env, **extra: str) -> Result:
    return env.run(WORKER_BAKED_VENV=str(env.root / "baked"), **extra)


def _line(res: Result, phase: str, status: str) -> dict:
    return next(r for r in res.records if r["phase"] == phase and r["status"] == status)


def _site(venv: Path) -> Path:
    return next((venv / "lib").glob("python*/site-packages"))


def test_boot_runs_on_the_baked_venv_and_installs_nothing(env: Env) -> None:
    res = _boot(env, PIP_FIND_LINKS=str(env.root / "nowhere"))
    assert res.rc == 0, f"{res.stdout}\n{res.stderr[-3000:]}"
    baked = env.root / "baked"
    assert [r["phase"] for r in res.records if r["status"] == "ok"] == [
        "env",
        "volume",
        "disk",
        "venv",
        "ready",
    ]
    assert _line(res, "disk", "ok")["install"] is False
    venv = _line(res, "venv", "ok")
    assert venv["baked"] is True and venv["path"] == str(baked)
    assert res.steps() == ["ok"]  # no need-build, no install: straight to ok
    assert res.last["venv"] == str(baked) and Path(res.last["prefix"]) == baked
    assert not (env.volume / "venvs").exists()  # nothing built, leased or locked on the volume


@pytest.mark.parametrize("damage", ["truncate", "manifest", "other-lock"])
def test_a_baked_venv_that_does_not_check_out_falls_back_to_the_volume(
    env: Env, damage: str
) -> None:
    baked = env.root / "baked"
    if damage == "truncate":
        (_site(baked) / standin.PKG / "__init__.py").write_text("")
    elif damage == "manifest":
        with (baked / MANIFEST).open("a") as f:
            f.write(" ")
    else:  # WORKER_LOCK names another lock than the one baked
        standin.write_lock(env.lock, extra="# another lock\n")
    res = _boot(env)
    assert res.rc == 0, f"{res.stdout}\n{res.stderr[-3000:]}"
    warn = _line(res, "venv", "warn")["message"]
    expected = {"truncate": "manifest check", "manifest": "manifest", "other-lock": "marker key"}
    assert f"baked venv {baked} not used" in warn and expected[damage] in warn
    venv = _line(res, "venv", "ok")
    assert "baked" not in venv and venv["reused"] is False
    assert res.last["venv"] == venv["path"] and Path(venv["path"]).parent == env.volume / "venvs"


def test_imports_failing_on_the_baked_venv_exit_14_then_the_volume_takes_over(env: Env) -> None:
    """A same-size edit the manifest cannot see: the worker's imports are the real check; the
    mark it leaves makes the next start of that container use the volume, not loop."""
    standin.break_imports_same_size(_site(env.root / "baked") / standin.PKG / "__init__.py")
    first = _boot(env)
    assert first.rc == 14 and first.last["phase"] == "imports", first.stdout
    assert "venv in the image is damaged" in first.last["remedy"], first.last
    second = _boot(env)
    assert second.rc == 0, f"{second.stdout}\n{second.stderr[-3000:]}"
    assert "imports failed" in _line(second, "venv", "warn")["message"]
    assert Path(second.last["venv"]).parent == env.volume / "venvs"


def test_seal_refuses_a_venv_that_fails_its_import_check(env: Env) -> None:
    baked = env.root / "baked"
    shutil.rmtree(_site(baked) / standin.PKG)
    (baked / MARKER).unlink()
    res = subprocess.run(
        [sys.executable, "-m", "worker.baked", str(baked), str(env.lock)],
        env={**env.environ(), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        cwd="/",
        timeout=180,
    )
    last = json.loads(res.stdout.splitlines()[-1])
    assert res.returncode == 13 and last["phase"] == "venv" and last["status"] == "fail"
    assert "import check" in last["cause"] and not (baked / MARKER).exists()
