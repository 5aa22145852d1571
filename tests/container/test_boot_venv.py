"""Venv mechanics of the real boot program, run on the host with a stand-in lock (seconds each).

Real pip installs a real (tiny) wheel from a local folder; the volume is a temp dir; the
processes are real and are really killed. Only the package set is a stand-in for the ~8 GB one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.container import standin
from tests.container.bootrun import Env
from worker.manifest import MANIFEST
from worker.phases import parse_line
from worker.sweep import KEY_RE, MARKER
from worker.venvs import venv_key


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env.make(tmp_path)


def _venv_names(env: Env) -> list[str]:
    return [p.name for p in env.venv_dirs()]


def _ready(res) -> dict:
    last = res.last
    assert res.rc == 0, f"rc={res.rc}\n{res.stdout}\n{res.stderr[-3000:]}"
    assert last["phase"] == "ready", last
    return last


def test_first_start_builds_then_execs_worker_with_args(env: Env) -> None:
    proc = env.popen("--rp_serve_api", "--rp_api_host", "0.0.0.0")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    records = [r for r in map(parse_line, out.splitlines()) if r]
    assert [r["phase"] for r in records if r["status"] == "ok"] == [
        "env",
        "volume",
        "disk",
        "venv",
        "ready",
    ]
    ready = records[-1]
    # os.execve: the serving process is the boot process (same PID), args passed through
    assert ready["pid"] == proc.pid
    assert ready["argv"] == ["--rp_serve_api", "--rp_api_host", "0.0.0.0"]
    venv = next(r for r in records if r["phase"] == "venv" and r["status"] == "ok")
    assert venv["reused"] is False
    assert ready["venv"] == venv["path"]
    assert Path(ready["prefix"]) == Path(venv["path"])  # the renamed venv is the running prefix
    assert ready["volume"] == str(env.volume)
    assert _venv_names(env) == [venv["key"]]  # no tmp dir, no lock left
    marker = json.loads((Path(venv["path"]) / MARKER).read_text())
    assert marker["key"] == venv["key"]
    assert marker["lock_sha256"] == hashlib.sha256(env.lock.read_bytes()).hexdigest()


def test_second_start_reuses_and_renamed_venv_works(env: Env) -> None:
    first = env.run()
    _ready(first)
    second = env.run()
    _ready(second)
    assert "install" not in second.steps()
    venv_ok = next(r for r in second.records if r["phase"] == "venv" and r["status"] == "ok")
    assert venv_ok["reused"] is True
    assert next(r for r in second.records if r["phase"] == "disk")["install"] is False
    # Venvs are not relocatable in general; `bin/python -m pip` after the rename must still work.
    venv = Path(venv_ok["path"])
    res = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--version"], capture_output=True, text=True
    )
    assert res.returncode == 0 and str(venv) in res.stdout, res.stdout + res.stderr
    # ...while a bin/ entry-point script still points at the temp dir it was made in
    # (a long path gets pip's `#!/bin/sh` + `exec` trampoline: look at the first lines)
    head = "\n".join((venv / "bin" / "pip").read_text().splitlines()[:3])
    assert ".tmp-" in head


def test_broken_venv_is_moved_aside_and_rebuilt(env: Env) -> None:
    _ready(env.run())
    (venv,) = env.venv_dirs()
    (venv / MARKER).unlink()  # as if the install never finished
    res = env.run()
    _ready(res)
    assert "install" in res.steps()
    assert any("broken" in r.get("message", "") for r in res.records)
    assert _venv_names(env) == [venv.name]
    assert (venv / MARKER).exists()


def _site(venv: Path) -> Path:
    return next(venv.glob("lib/python*/site-packages"))


def _damage(venv: Path, how: str) -> None:
    init = _site(venv) / standin.PKG / "__init__.py"
    if how == "edited":
        init.write_text("raise ImportError('corrupted')\n")
    elif how == "truncated":
        init.write_bytes(init.read_bytes()[:3])
    elif how == "deleted":
        shutil.rmtree(init.parent)
    elif how == "manifest":
        with (venv / MANIFEST).open("a") as fh:
            fh.write(" ")


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("edited", "changed"),
        ("truncated", "truncated"),
        ("deleted", "missing"),
        ("manifest", "manifest does not match"),
    ],
)
def test_damaged_venv_is_rebuilt_without_an_import_check(env: Env, how: str, reason: str) -> None:
    _ready(env.run())
    (venv,) = env.venv_dirs()
    _damage(venv, how)
    res = env.run()
    _ready(res)
    need = next(r for r in res.records if r.get("step") == "need-build")
    assert reason in need["reason"], need
    assert "install" in res.steps()
    again = env.run()  # the rebuilt venv is trusted on its manifest
    _ready(again)
    assert "install" not in again.steps()


def test_reused_venv_is_not_imported_by_boot(env: Env) -> None:
    """Boot trusts a sealed venv on its manifest: a same-size change that breaks the import is
    for the worker's import phase to find (exit 14), not for a boot import check."""
    _ready(env.run())
    (venv,) = env.venv_dirs()
    standin.break_imports_same_size(_site(venv) / standin.PKG / "__init__.py")
    res = env.run()
    assert res.rc == 14, res.stdout + res.stderr
    ok = next(r for r in res.records if r["phase"] == "venv" and r["status"] == "ok")
    assert ok["reused"] is True and "check_ms" in ok
    assert "nosuch_x" in res.last["cause"] and "next start rebuilds" in res.last["remedy"]


def test_import_failure_rebuilds_once_then_stops(env: Env) -> None:
    """Worker imports fail -> venv marked -> the next start rebuilds; the rebuilt venv failing
    the same way stops with exit 14 and a remedy, and later starts do not rebuild again."""
    _ready(env.run())
    (venv,) = env.venv_dirs()

    def break_it() -> None:
        standin.break_imports_same_size(_site(venv) / standin.PKG / "__init__.py")

    break_it()
    assert env.run().rc == 14
    rebuilt = env.run()
    assert rebuilt.rc == 0, rebuilt.stdout + rebuilt.stderr
    need = next(r for r in rebuilt.records if r.get("step") == "need-build")
    assert "imports failed" in need["reason"] and "install" in rebuilt.steps()
    marker = json.loads((venv / MARKER).read_text())
    assert "nosuch_x" in marker["after_import_failure"]
    break_it()  # as if the lock itself did not import: the same failure on the rebuilt venv
    for _ in range(2):
        res = env.run()
        assert res.rc == 14, res.stdout + res.stderr
        assert "install" not in res.steps()
        assert "already rebuilt" in res.last["remedy"] and str(venv) in res.last["remedy"]


def test_stale_lock_and_leftover_tmp_of_killed_builder_are_repaired(env: Env) -> None:
    key = venv_key(
        env.lock.read_bytes(),
        platform.python_implementation(),
        platform.python_version(),
        os.path.realpath(sys.executable),
    )
    venvs = env.volume / "venvs"
    venvs.mkdir()
    lock = venvs / f"{key}.lock"
    lock.mkdir()
    (lock / "owner.json").write_text(json.dumps({"host": "gone", "pid": 1, "token": "dead"}))
    old = time.time() - 600
    os.utime(lock / "owner.json", (old, old))
    tmp = venvs / f".tmp-{key}-deadbeef"
    (tmp / "lib").mkdir(parents=True)
    (tmp / ".building").write_text("deadbeef")  # its heartbeat stopped with its builder
    for p in (tmp / ".building", tmp):
        os.utime(p, (old, old))
    res = env.run()
    _ready(res)
    assert any("stale" in r.get("message", "") for r in res.records)
    assert _venv_names(env) == [key]


def test_sigkill_mid_install_then_next_start_repairs(env: Env, tmp_path: Path) -> None:
    # An index that accepts connections and never answers keeps pip inside the install.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        proc = env.popen(
            PIP_NO_INDEX="",
            PIP_FIND_LINKS="",
            PIP_INDEX_URL=f"http://127.0.0.1:{port}/simple",
            PIP_TIMEOUT="60",
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            rec = parse_line(line)
            if rec and rec.get("step") == "install":
                break
        time.sleep(1.5)
        os.killpg(proc.pid, signal.SIGKILL)  # boot and its pip child, like a container kill
        proc.wait(timeout=10)
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        server.close()
    names = _venv_names(env)
    # what a killed build leaves: a temp dir and a lock; no venv a later start would trust
    assert any(n.startswith(".tmp-") for n in names), names
    assert any(n.endswith(".lock") for n in names), names
    assert not any(KEY_RE.match(n) for n in names), names
    t0 = time.monotonic()
    res = env.run()
    _ready(res)
    assert time.monotonic() - t0 < 60
    assert any("stale" in r.get("message", "") for r in res.records)
    assert len(_venv_names(env)) == 1 and KEY_RE.match(_venv_names(env)[0])


def test_two_starts_at_once_build_one_venv(env: Env) -> None:
    a = env.popen()
    b = env.popen()
    out_a, err_a = a.communicate(timeout=120)
    out_b, err_b = b.communicate(timeout=120)
    assert a.returncode == 0 and b.returncode == 0, out_a + err_a + out_b + err_b
    installs = [
        out.count('"step": "install"') for out in (out_a, out_b)
    ]  # exactly one of them built
    assert sorted(installs) == [0, 1], (out_a, out_b)
    assert len(_venv_names(env)) == 1


def test_sigterm_during_install_cleans_up(env: Env) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    try:
        proc = env.popen(
            PIP_NO_INDEX="", PIP_FIND_LINKS="", PIP_INDEX_URL=f"http://127.0.0.1:{port}/simple"
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            rec = parse_line(line)
            if rec and rec.get("step") == "install":
                break
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    finally:
        server.close()
    assert proc.returncode == 13
    last = parse_line(rest.strip().splitlines()[-1])
    assert last and last["phase"] == "venv" and "SIGTERM" in last["cause"]
    assert _venv_names(env) == []  # tmp dir and lock removed


def test_index_unreachable_is_exit_13_network(env: Env) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = env.run(
        PIP_NO_INDEX="",
        PIP_FIND_LINKS="",
        PIP_INDEX_URL=f"http://127.0.0.1:{port}/simple",
        PIP_RETRIES="0",
    )
    assert res.rc == 13, res.stdout + res.stderr
    assert res.last["phase"] == "venv"
    assert "unreachable" in res.last["cause"]
    assert res.last["details"]["pip_tail"]
    assert _venv_names(env) == []


def test_unresolvable_pin_is_exit_13_resolution(env: Env) -> None:
    standin.write_lock(env.lock, version="9.9")
    res = env.run()
    assert res.rc == 13
    assert "resolution" in res.last["cause"]
    assert any("9.9" in ln for ln in res.last["details"]["pip_tail"])
    assert _venv_names(env) == []


def test_old_venvs_pruned_beyond_keep(env: Env) -> None:
    _ready(env.run())
    (first,) = env.venv_dirs()
    standin.make_wheel(env.wheels, version="2.0")
    standin.write_lock(env.lock, version="2.0")
    res = env.run(WORKER_VENV_KEEP="1")
    _ready(res)
    venv_ok = next(r for r in res.records if r["phase"] == "venv" and r["status"] == "ok")
    assert venv_ok["pruned"] == [first.name]
    assert _venv_names(env) == [venv_ok["key"]]


def test_volume_fallback_is_loud(env: Env, tmp_path: Path) -> None:
    res = env.run(
        WORKER_VOLUME=str(tmp_path / "missing"), WORKER_VOLUME_FALLBACK=str(tmp_path / "fb")
    )
    _ready(res)
    warn = [r for r in res.records if r["phase"] == "volume" and r["status"] == "warn"]
    assert warn and "NO VOLUME" in warn[0]["message"]
    assert res.last["volume"] == str(tmp_path / "fb")


@pytest.mark.parametrize(
    ("extra", "phase", "code", "fragment"),
    [
        ({"WORKER_VOLUME": "/nonexistent-volume"}, "volume", 11, "does not exist"),
        ({"WORKER_INSTALL_BYTES": "1e13"}, "disk", 12, "needs"),
        ({"WORKER_LOCK": "/nonexistent.lock"}, "env", 10, "cannot be read"),
        ({"WORKER_LOCK_STALE_S": "1"}, "env", 10, "WORKER_LOCK_STALE_S"),
    ],
)
def test_start_failures_name_phase(
    env: Env, extra: dict[str, str], phase: str, code: int, fragment: str
) -> None:
    res = env.run(**extra)
    assert res.rc == code
    assert res.last["phase"] == phase and res.last["status"] == "fail"
    assert fragment in res.last["cause"] and res.last["remedy"]


def test_volume_that_is_a_file(env: Env, tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    res = env.run(WORKER_VOLUME=str(f))
    assert res.rc == 11 and "not a directory" in res.last["cause"]


def test_running_worker_leases_its_venv_against_pruning(env: Env) -> None:
    """A worker of an older lock still serving keeps its venv; once it stops, the venv goes."""
    old = env.popen(BOOT_STANDIN_HOLD="120")
    assert old.stdout is not None
    for line in old.stdout:
        rec = parse_line(line)
        if rec and rec["phase"] == "ready":
            break
    old_venv = Path(rec["venv"])
    assert any(n.endswith(".use") for n in env.leases()), env.leases()
    try:
        standin.make_wheel(env.wheels, version="2.0")
        standin.write_lock(env.lock, version="2.0")
        res = env.run(WORKER_VENV_KEEP="1")
        _ready(res)
        venv_ok = next(r for r in res.records if r["phase"] == "venv" and r["status"] == "ok")
        assert venv_ok["pruned"] == [], "pruned the venv a running worker uses"
        assert (old_venv / MARKER).exists()
    finally:
        old.kill()  # the worker only (same PID as boot); its lease keeper sees it go
        old.wait(timeout=10)
    deadline = time.monotonic() + 30
    while any(n.startswith(old_venv.name) for n in env.leases()) and time.monotonic() < deadline:
        time.sleep(0.2)
    res = env.run(WORKER_VENV_KEEP="1")
    _ready(res)
    venv_ok = next(r for r in res.records if r["phase"] == "venv" and r["status"] == "ok")
    assert venv_ok["pruned"] == [old_venv.name]
