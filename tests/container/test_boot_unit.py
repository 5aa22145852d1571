"""Parts of the start-up program without a whole start: key, import-check list, staleness, marker,
pruning, what a failed pip run means, the write check, the build lock's heartbeat."""

from __future__ import annotations

import os
import socket
import string
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker import boot, pipfail
from worker.buildlock import BuildLock, Heartbeat, heartbeat_interval
from worker.sweep import KEY_RE, venvs_to_prune
from worker.venvs import DEFAULT_IMPORT_CHECK, import_check_modules, marker_problem, venv_key
from worker.volfs import VolumeFs

KEY = "0123456789abcdef"
SHA = "a" * 64


# ---- venv_key


@given(st.binary(), st.text(), st.text(), st.text())
def test_key_is_16_hex(lock: bytes, impl: str, version: str, exe: str) -> None:
    key = venv_key(lock, impl, version, exe)
    assert KEY_RE.match(key)
    assert key == venv_key(lock, impl, version, exe)


@given(st.binary(), st.binary())
def test_key_changes_with_lock(a: bytes, b: bytes) -> None:
    if a != b:
        assert venv_key(a, "CPython", "3.11.2", "/usr/bin/python3.11") != venv_key(
            b, "CPython", "3.11.2", "/usr/bin/python3.11"
        )


def test_key_changes_with_interpreter() -> None:
    lock = b"torch==2.8.0\n"
    base = venv_key(lock, "CPython", "3.11.2", "/usr/bin/python3.11")
    assert base != venv_key(lock, "CPython", "3.11.9", "/usr/bin/python3.11")
    assert base != venv_key(lock, "CPython", "3.11.2", "/usr/local/bin/python3.11")
    assert base != venv_key(lock, "PyPy", "3.11.2", "/usr/bin/python3.11")


def test_key_fields_do_not_run_together() -> None:
    # length-prefixed parts: moving bytes between fields changes the key
    assert venv_key(b"ab", "c", "", "") != venv_key(b"a", "bc", "", "")


# ---- import-check list


def test_import_check_default_for_bundled_lock() -> None:
    assert import_check_modules(boot.BUNDLED_LOCK.read_text()) == DEFAULT_IMPORT_CHECK


@pytest.mark.parametrize("word", ["probe", "import-check"])
def test_import_check_line_parsed(word: str) -> None:
    lock = f"# {word}: six, idna  yaml\nsix==1\n"
    assert import_check_modules(lock) == ("six", "idna", "yaml")


@pytest.mark.parametrize("line", ["# probe: 1abc", "# probe: os;rm", "# import-check: a b-c"])
def test_import_check_line_rejects_non_modules(line: str) -> None:
    with pytest.raises(ValueError, match="import-check"):
        import_check_modules(line + "\n")


@given(
    st.lists(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,9}(\.[A-Za-z_][A-Za-z0-9_]{0,4})?", fullmatch=True),
        min_size=1,
        max_size=5,
    )
)
def test_import_check_roundtrip(names: list[str]) -> None:
    assert import_check_modules("x==1\n# import-check: " + ", ".join(names) + "\n") == tuple(names)


# ---- staleness, by behaviour: a real lock folder whose heartbeat is aged on disk


def _aged_lock(tmp_path: Path, age: float, stale_s: float) -> tuple[BuildLock, float]:
    fs = VolumeFs(tmp_path)
    holder = BuildLock(tmp_path / f"{KEY}.lock", stale_s, fs)
    assert holder.try_acquire()
    now = fs.now()
    os.utime(holder.owner_file, (now - age, now - age))
    return BuildLock(tmp_path / f"{KEY}.lock", stale_s, fs), now


@pytest.mark.parametrize(("age", "taken"), [(0.0, False), (8.0, False), (12.0, True), (600, True)])
def test_takeover_only_when_heartbeat_older_than_stale(
    tmp_path: Path, age: float, taken: bool
) -> None:
    waiter, now = _aged_lock(tmp_path, age, stale_s=10.0)
    assert waiter.take_over_if_stale(now) is taken
    assert (waiter.owner()["token"] == waiter.token) is taken


def test_heartbeat_from_the_future_is_not_stale(tmp_path: Path) -> None:
    waiter, now = _aged_lock(tmp_path, -300.0, stale_s=10.0)  # volume clock jumped back
    assert not waiter.take_over_if_stale(now)


def test_a_taken_over_lock_is_fresh_for_the_next_waiter(tmp_path: Path) -> None:
    a, now = _aged_lock(tmp_path, 600, stale_s=10.0)
    assert a.take_over_if_stale(now)
    b = BuildLock(a.path, 10.0, a.fs)
    assert not b.take_over_if_stale(now)
    assert a.still_owner() and not b.still_owner()


# ---- the heartbeat survives read errors


def test_heartbeat_survives_an_unreadable_owner_file(tmp_path: Path) -> None:
    lock = BuildLock(tmp_path / f"{KEY}.lock", stale_s=5.0, fs=VolumeFs(tmp_path))
    assert lock.try_acquire()
    interval = heartbeat_interval(lock.stale_s)
    with Heartbeat(lock):
        saved = lock.owner_file.read_text()
        lock.owner_file.unlink()
        lock.owner_file.mkdir()  # reading it now fails with EISDIR, an OSError
        time.sleep(interval * 2.5)
        lock.owner_file.rmdir()
        lock.owner_file.write_text(saved)
        os.utime(lock.owner_file, (0, 0))
        time.sleep(interval * 2.5)
        assert not lock.fenced
        assert lock.owner_file.stat().st_mtime > 0, "the heartbeat stopped for good"
    lock.release()
    assert not lock.path.exists()


# ---- marker


def _marker(**over: object) -> dict[str, object]:
    m: dict[str, object] = {"key": KEY, "lock_sha256": SHA, "freeze_sha256": "f" * 64}
    m.update(over)
    return m


def test_marker_valid() -> None:
    assert marker_problem(_marker(), KEY, SHA) is None


@pytest.mark.parametrize(
    ("marker", "fragment"),
    [
        ([], "not a JSON object"),
        (None, "not a JSON object"),
        (_marker(key="ffffffffffffffff"), "marker key"),
        (_marker(lock_sha256="b" * 64), "different lock"),
        (_marker(freeze_sha256=""), "freeze"),
        ({"key": KEY, "lock_sha256": SHA}, "freeze"),
    ],
)
def test_marker_problems(marker: object, fragment: str) -> None:
    problem = marker_problem(marker, KEY, SHA)
    assert problem is not None and fragment in problem


# ---- pruning

keys = st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)


@given(st.dictionaries(keys, st.floats(0, 1e9, allow_nan=False), max_size=12), st.integers(1, 6))
def test_prune_keeps_newest_and_in_use(last_used: dict[str, float], keep: int) -> None:
    in_use = min(last_used, key=last_used.__getitem__) if last_used else KEY
    removed = venvs_to_prune(last_used, keep, in_use)
    remaining = set(last_used) - set(removed)
    assert in_use not in removed
    assert set(removed) <= set(last_used)
    assert len(remaining) == min(len(last_used), keep)
    kept_others = [last_used[k] for k in remaining if k != in_use]
    for k in removed:
        assert all(last_used[k] <= t for t in kept_others)


def test_prune_example() -> None:
    used = {"a" * 16: 1.0, "b" * 16: 2.0, "c" * 16: 3.0, "d" * 16: 4.0}
    assert venvs_to_prune(used, 2, "d" * 16) == ["a" * 16, "b" * 16]
    assert venvs_to_prune(used, 2, "a" * 16) == ["b" * 16, "c" * 16]
    assert venvs_to_prune(used, 10, "a" * 16) == []


# ---- what a failed pip run means (texts are pip's own messages)

PIP_NETWORK = """\
WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after \
connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object \
at 0x7f>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')'
ERROR: Could not find a version that satisfies the requirement torch==2.8.0 (from versions: none)
ERROR: No matching distribution found for torch==2.8.0"""
PIP_DISK = "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device"
PIP_TLS = (
    "Could not fetch URL https://pypi.org/simple/torch/: There was a problem confirming the ssl "
    "certificate: ... (Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
    "CERTIFICATE_VERIFY_FAILED] certificate verify failed')))"
)
PIP_RESOLVE = (
    "ERROR: Could not find a version that satisfies the requirement nosuchpkg==9 (from versions: "
    "none)\nERROR: No matching distribution found for nosuchpkg==9"
)
PIP_HASH = "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE."
PLENTY = 50 * 2**30


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PIP_NETWORK, pipfail.NETWORK),
        (PIP_DISK, pipfail.DISK),
        (PIP_TLS, pipfail.TLS),
        (PIP_RESOLVE, pipfail.RESOLUTION),
        (PIP_HASH, pipfail.HASH),
        ("something else", pipfail.UNKNOWN),
    ],
)
def test_pip_output_classified(text: str, expected: pipfail.PipFailure) -> None:
    assert pipfail.classify(text) == expected
    assert pipfail.classify(text, free_bytes=PLENTY) == expected


@pytest.mark.parametrize("text", [PIP_NETWORK, PIP_TLS, PIP_RESOLVE, PIP_HASH, "", "Killed"])
def test_failed_install_on_a_full_volume_is_disk_full_whatever_pip_says(text: str) -> None:
    # Under load pip reported a full tmpfs as a resolution error: the free bytes decide.
    assert pipfail.classify(text, free_bytes=0) == pipfail.DISK
    assert pipfail.classify(text, free_bytes=pipfail.DISK_FULL_BYTES - 1) == pipfail.DISK


@given(st.text(alphabet=string.printable, max_size=300), st.integers(0, 2**40))
def test_pip_classifier_is_total_and_free_space_decides(text: str, free: int) -> None:
    failure = pipfail.classify(text, free)
    assert failure in (
        pipfail.DISK,
        pipfail.TLS,
        pipfail.NETWORK,
        pipfail.HASH,
        pipfail.RESOLUTION,
        pipfail.UNKNOWN,
    )
    if free < pipfail.DISK_FULL_BYTES:
        assert failure == pipfail.DISK
    else:
        assert failure == pipfail.classify(text)


# ---- the volume's write check


def test_write_check_survives_a_leftover_of_a_killed_start(tmp_path: Path) -> None:
    # In a container the pid is always 1: a start killed mid-check left exactly this name.
    old_name = tmp_path / f".write-probe-{socket.gethostname()}-{os.getpid()}"
    old_name.write_text("probe\n")
    leftovers = [old_name]
    for _ in range(3):
        boot.write_check(tmp_path)  # no FileExistsError, ever
    mine = tmp_path / f"{boot.WRITE_CHECK}{socket.gethostname()}-{os.getpid()}-deadbeef"
    mine.write_text("check\n")
    leftovers.append(mine)
    aged = time.time() - boot.WRITE_CHECK_LEFTOVER_S - 60
    for p in leftovers:
        os.utime(p, (aged, aged))
    fresh = tmp_path / f"{boot.WRITE_CHECK}otherhost-1-cafecafe"
    fresh.write_text("check\n")  # another container's check in progress: left alone
    boot.write_check(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name]
