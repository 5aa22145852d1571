"""The fault matrix: real image, real containers, each fault -> exit code + failing phase in the
LAST log line + a volume no later start would wrongly trust.

The full install of the real lock (~7.7 GB) happens ONCE per run: the warm-volume chain below
SIGKILLs a first install, then starts two containers at once on that volume (one takes over the
stale lock and builds, the other waits, both get ready), and the later cases reuse that volume.
Installs read wheels from a per-machine wheelhouse (downloaded once, through the proxy CA), so
the containers themselves need no network.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.container import dockerrun
from worker.sweep import KEY_RE

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1500)]
REPO = dockerrun.REPO


def _fails(c: dockerrun.Container, phase: str, code: int, timeout: float = 120) -> dict:
    rc = c.wait_exit(timeout)
    last = c.last()
    assert rc == code, f"exit {rc} != {code}\n{c.tail()}"
    assert last["phase"] == phase and last["status"] == "fail", last
    assert last["exit_code"] == code and last["cause"] and last["remedy"], last
    return last


# ---------------------------------------------------------------- quick faults (no install)


def test_volume_missing(image: str) -> None:
    last = _fails(dockerrun.run(image), "volume", 11)
    assert "does not exist" in last["cause"]


def test_volume_read_only(image: str, volume: Path) -> None:
    c = dockerrun.run(image, mounts=[f"type=bind,src={volume},dst=/runpod-volume,readonly"])
    last = _fails(c, "volume", 11)
    assert "read-only" in last["cause"]
    assert list(volume.iterdir()) == []


def test_disk_too_small(image: str) -> None:
    c = dockerrun.run(image, mounts=["type=tmpfs,dst=/runpod-volume,tmpfs-size=64m"])
    last = _fails(c, "disk", 12)
    assert last["details"]["free_bytes"] < 64 * 2**20 + 1
    assert last["details"]["needed_bytes"] == 12_000_000_000


@contextlib.contextmanager
def cpu_burners(n: int) -> Iterator[None]:
    """n processes spinning on the CPU for the duration (load like a busy shared machine)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.mark.parametrize("burners", [0, 2], ids=["idle", "cpu-burn-x2"])
def test_disk_fills_during_install(image: str, burners: int) -> None:
    # The space check passes (told the install is small) and the real install fills the tmpfs.
    # Under load pip once reported the full tmpfs as a resolution error: free space decides.
    dockerrun.ensure_wheelhouse(image)
    with cpu_burners(burners):
        c = dockerrun.run(
            image,
            mounts=["type=tmpfs,dst=/runpod-volume,tmpfs-size=256m"],
            env={"WORKER_INSTALL_BYTES": "1000000"},
            wheelhouse=True,
        )
        last = _fails(c, "venv", 13, timeout=900)
    assert "disk full" in last["cause"], last
    details = last["details"]
    print(f"\n{burners} burners: {last['cause']}; free_bytes={details.get('free_bytes')}")
    print("pip's last line:", (details.get("pip_tail") or ["-"])[-1][:160])


def test_leftover_write_probe_file(image: str, volume: Path) -> None:
    # pid is 1 in every container: a start killed inside the volume's write check left this name,
    # which made every later start with this hostname fail with exit 11.
    (volume / ".write-probe-samehost-1").write_text("probe\n")
    c = dockerrun.run(
        image, volume=volume, hostname="samehost", env={"WORKER_INSTALL_BYTES": "1e13"}
    )
    _fails(c, "disk", 12)  # past the volume phase: the disk check is what stops it here
    assert any(r["phase"] == "volume" and r["status"] == "ok" for r in c.read())


def test_enospc_on_the_lock(image: str) -> None:
    # A volume with room for the venvs folder and a lease but not for the build lock's folder.
    c = dockerrun.run(
        image,
        tmpfs="/runpod-volume:rw,size=16m,nr_inodes=5",
        env={"WORKER_INSTALL_BYTES": "0"},
    )
    last = _fails(c, "disk", 12)
    assert "build lock" in last["cause"] and "full" in last["cause"], last


def test_index_unreachable(image: str, volume: Path) -> None:
    c = dockerrun.run(image, volume=volume, network="none")
    last = _fails(c, "venv", 13, timeout=300)
    assert "unreachable" in last["cause"], last
    assert last["details"]["pip_tail"]
    assert dockerrun.volume_problems(volume) == []
    assert not any(KEY_RE.match(p.name) for p in (volume / "venvs").iterdir())


def test_no_volume_with_fallback_is_loud(image: str) -> None:
    # Falls back, then (no network) the install fails: the warn line is what matters here.
    c = dockerrun.run(image, env={"WORKER_VOLUME_FALLBACK": "/tmp/fallback"})
    _fails(c, "venv", 13, timeout=300)
    warn = [r for r in c.read() if r["phase"] == "volume" and r["status"] == "warn"]
    assert warn and "NO VOLUME" in warn[0]["message"]


# ---------------------------------------------------------------- the warm-volume chain


@pytest.fixture(scope="module")
def warm(image: str) -> Iterator[dict]:
    """A volume that goes through: killed install -> two starts at once -> warm (shared state)."""
    dockerrun.ensure_wheelhouse(image)
    path = Path(tempfile.mkdtemp(prefix="f5c-warm-"))
    state: dict = {"volume": path}
    yield state
    dockerrun.remove_all()
    if state.get("ready"):
        dockerrun.share_venvs(path, dockerrun.harness_volume())
    dockerrun.rm_root_owned(path)


def test_sigkill_mid_install(image: str, warm: dict) -> None:
    vol = warm["volume"]
    c = dockerrun.run(image, volume=vol, wheelhouse=True)
    rec = c.wait_for(lambda r: r.get("step") == "install", timeout=120)
    assert rec, c.tail()
    time.sleep(20)  # well inside pip's install (it takes minutes)
    assert c.state().get("Running"), c.tail()
    c.kill()  # SIGKILL
    assert c.wait_exit(30) == 137
    names = sorted(p.name for p in (vol / "venvs").iterdir())
    assert any(n.startswith(".tmp-") for n in names), names
    assert any(n.endswith(".lock") for n in names), names
    assert dockerrun.volume_problems(vol, allow_leftovers=True) == []  # nothing to trust
    warm["killed_tmp"] = [n for n in names if n.startswith(".tmp-")]


def test_two_starts_at_once_after_kill(image: str, warm: dict) -> None:
    if "killed_tmp" not in warm:
        pytest.skip("needs test_sigkill_mid_install")
    vol = warm["volume"]
    env = {"WORKER_LOCK_STALE_S": "15"}
    t0 = time.monotonic()
    a = dockerrun.run(image, volume=vol, wheelhouse=True, env=env, serve=True)
    b = dockerrun.run(image, volume=vol, wheelhouse=True, env=env, serve=True)
    for c in (a, b):
        ready = c.wait_for(lambda r: r["phase"] == "ready", timeout=1200)
        assert ready, c.tail()
    warm["first_start_s"] = round(time.monotonic() - t0, 1)
    recs = {c.name: c.read() for c in (a, b)}
    builds = [n for n, rs in recs.items() if any(r.get("step") == "install" for r in rs)]
    assert len(builds) == 1, recs
    assert any("stale" in r.get("message", "") for rs in recs.values() for r in rs), (
        "nobody took over the killed build's lock"
    )
    names = sorted(p.name for p in (vol / "venvs").iterdir() if p.name != ".leases")
    assert len(names) == 1 and KEY_RE.match(names[0]), names  # killed tmp + lock gone
    assert dockerrun.volume_problems(vol) == []
    # both serve: one request each
    for c in (a, b):
        c.wait_http()
        out = c.post("/runsync", {"input": {"text": "Both ready.", "nfe_step": 4}})
        assert out["status"] == "COMPLETED", out
    warm["ready"] = True


def _wav(out: dict) -> tuple[int, int, int]:
    data = base64.b64decode(out["audio_base64"])
    with wave.open(io.BytesIO(data)) as w:
        return w.getframerate(), w.getnframes(), w.getnchannels()


def test_happy_path_warm_volume(image: str, warm: dict) -> None:
    if not warm.get("ready"):
        pytest.skip("needs a warm volume")
    t0 = time.monotonic()
    c = dockerrun.run(image, volume=warm["volume"], serve=True)
    assert c.wait_for(lambda r: r["phase"] == "ready", timeout=600), c.tail()
    c.wait_http()
    warm["warm_start_s"] = round(time.monotonic() - t0, 1)
    venv = next(r for r in c.read() if r["phase"] == "venv" and r["status"] == "ok")
    assert venv["reused"] is True
    body = json.loads((REPO / "test_input.json").read_text())
    res = c.post("/runsync", body)
    assert res["status"] == "COMPLETED", res
    rate, frames, channels = _wav(res["output"])
    assert (rate, channels) == (24000, 1)
    assert frames > 24000 * 0.5  # an 11-word sentence is more than half a second
    bad = c.post("/runsync", {"input": {"text": ""}})
    assert bad["status"] == "FAILED", bad
    print(f"\nfirst start (2 at once) {warm.get('first_start_s')} s; warm {warm['warm_start_s']} s")


def test_corrupt_checkpoint(image: str, warm: dict) -> None:
    if not warm.get("ready"):
        pytest.skip("needs a warm volume")
    vol = warm["volume"]
    bad = vol / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "model.safetensors").write_bytes(b"\x00\x01garbage" * 1000)
    c = dockerrun.run(
        image,
        volume=vol,
        env={
            "WORKER_MODEL": "/runpod-volume/bad/model.safetensors",
            "WORKER_VOCAB": "/runpod-volume/models/tiny/vocab.txt",
            "WORKER_VOCODER": "/runpod-volume/models/tiny/vocos",
        },
    )
    last = _fails(c, "model", 16, timeout=300)
    assert "could not load" in last["cause"], last
    assert dockerrun.volume_problems(vol) == []


def test_missing_vocab(image: str, warm: dict) -> None:
    if not warm.get("ready"):
        pytest.skip("needs a warm volume")
    vol = warm["volume"]
    c = dockerrun.run(
        image,
        volume=vol,
        env={
            "WORKER_MODEL": "/runpod-volume/models/tiny/model.safetensors",
            "WORKER_VOCAB": "/runpod-volume/models/tiny/no-such-vocab.txt",
            "WORKER_VOCODER": "/runpod-volume/models/tiny/vocos",
        },
    )
    last = _fails(c, "model", 16, timeout=300)
    assert "vocab missing" in last["cause"], last
    assert dockerrun.volume_problems(vol) == []


# ---------------------------------------------------------------- a builder frozen past stale

# A small lock from the wheelhouse: long enough an install to freeze it in the middle.
MINI_LOCK_PACKAGES = ("numpy", "scipy", "sympy", "pandas", "transformers", "networkx", "pillow")
FREEZE_ENTRY = """\
import json, os
import numpy
print(json.dumps({"phase": "ready", "status": "ok", "venv": os.environ.get("WORKER_VENV")}),
      flush=True)
"""


def _mini_world(folder: Path) -> Path:
    pins = [
        ln
        for ln in (REPO / "worker" / "requirements" / "f5tts.lock").read_text().splitlines()
        if ln.split("==")[0].lower() in MINI_LOCK_PACKAGES
    ]
    assert len(pins) == len(MINI_LOCK_PACKAGES), pins
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mini.lock").write_text("# import-check: numpy\n" + "\n".join(pins) + "\n")
    (folder / "freeze_entry.py").write_text(FREEZE_ENTRY)
    return folder


def test_builder_frozen_past_stale_time_is_fenced(image: str, volume: Path) -> None:
    dockerrun.ensure_wheelhouse(image)
    mini = _mini_world(Path(tempfile.mkdtemp(prefix="f5c-mini-")))
    env = {
        "WORKER_LOCK": "/mini/mini.lock",
        "WORKER_ENTRY_MODULE": "freeze_entry",
        "PYTHONPATH": "/mini",
        "WORKER_LOCK_STALE_S": "10",
        "WORKER_INSTALL_BYTES": "0",
    }
    mount = [f"type=bind,src={mini},dst=/mini,readonly"]
    a = dockerrun.run(image, volume=volume, wheelhouse=True, env=env, mounts=mount)
    assert a.wait_for(lambda r: r.get("step") == "install", timeout=120), a.tail()
    a.pause()  # frozen mid-install: no heartbeat, pip stopped where it was
    b = dockerrun.run(image, volume=volume, wheelhouse=True, env=env, mounts=mount)
    took = b.wait_for(lambda r: "took over" in r.get("message", ""), timeout=180)
    assert took, b.tail()
    a.unpause()  # resumed while b builds: a must notice it was fenced
    rc_b = b.wait_exit(600)
    rc_a = a.wait_exit(600)
    recs_a, recs_b = a.read(), b.read()
    assert rc_b == 0 and recs_b[-1]["phase"] == "ready", b.tail()
    fenced = [
        r for r in recs_a if "lost the build lock" in (r.get("message") or r.get("cause", ""))
    ]
    assert fenced, a.tail()
    if rc_a == 0:
        assert recs_a[-1]["phase"] == "ready", a.tail()
    else:
        assert rc_a == 13 and recs_a[-1]["phase"] == "venv", a.tail()
    # only b sealed; a never renamed a venv it no longer owned
    assert [r for r in recs_b if r.get("step") == "installed"], b.tail()
    assert not [r for r in recs_a if r.get("step") == "installed"], a.tail()
    names = sorted(p.name for p in (volume / "venvs").iterdir() if p.name != ".leases")
    assert len(names) == 1 and KEY_RE.match(names[0]), names
    assert dockerrun.volume_problems(volume) == []
    dockerrun.rm_root_owned(mini)
    said = fenced[0].get("message") or fenced[0].get("cause")
    print(f"\nB: {took['message']}; A: {said}; A exit {rc_a}, B exit {rc_b}")
