"""Pure parts of worker/boot.py: key, probe list, staleness, marker, pruning, pip causes."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker import boot

KEY = "0123456789abcdef"
SHA = "a" * 64


# ---- venv_key


@given(st.binary(), st.text(), st.text(), st.text())
def test_key_is_16_hex(lock: bytes, impl: str, version: str, exe: str) -> None:
    key = boot.venv_key(lock, impl, version, exe)
    assert boot.KEY_RE.match(key)
    assert key == boot.venv_key(lock, impl, version, exe)


@given(st.binary(), st.binary())
def test_key_changes_with_lock(a: bytes, b: bytes) -> None:
    if a != b:
        assert boot.venv_key(a, "CPython", "3.11.2", "/usr/bin/python3.11") != boot.venv_key(
            b, "CPython", "3.11.2", "/usr/bin/python3.11"
        )


def test_key_changes_with_interpreter() -> None:
    lock = b"torch==2.8.0\n"
    base = boot.venv_key(lock, "CPython", "3.11.2", "/usr/bin/python3.11")
    assert base != boot.venv_key(lock, "CPython", "3.11.9", "/usr/bin/python3.11")
    assert base != boot.venv_key(lock, "CPython", "3.11.2", "/usr/local/bin/python3.11")
    assert base != boot.venv_key(lock, "PyPy", "3.11.2", "/usr/bin/python3.11")


def test_key_fields_do_not_run_together() -> None:
    # length-prefixed parts: moving bytes between fields changes the key
    assert boot.venv_key(b"ab", "c", "", "") != boot.venv_key(b"a", "bc", "", "")


# ---- probe list


def test_probe_default_for_bundled_lock() -> None:
    assert boot.probe_modules(boot.BUNDLED_LOCK.read_text()) == boot.DEFAULT_PROBE


def test_probe_line_parsed() -> None:
    assert boot.probe_modules("# probe: six, idna  yaml\nsix==1\n") == ("six", "idna", "yaml")


@pytest.mark.parametrize("line", ["# probe: 1abc", "# probe: os;rm", "# probe: a b-c"])
def test_probe_line_rejects_non_modules(line: str) -> None:
    with pytest.raises(ValueError, match="probe"):
        boot.probe_modules(line + "\n")


@given(
    st.lists(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,9}(\.[A-Za-z_][A-Za-z0-9_]{0,4})?", fullmatch=True),
        min_size=1,
        max_size=5,
    )
)
def test_probe_roundtrip(names: list[str]) -> None:
    assert boot.probe_modules("x==1\n# probe: " + ", ".join(names) + "\n") == tuple(names)


# ---- staleness


@given(
    st.floats(0, 2e9, allow_nan=False),
    st.floats(0, 1e6, allow_nan=False),
    st.floats(5, 86400, allow_nan=False),
)
def test_stale_iff_heartbeat_older_than_limit(beat: float, age: float, stale_s: float) -> None:
    assert boot.is_stale(beat, beat + age, stale_s) == (beat + age - beat > stale_s)


def test_stale_boundaries() -> None:
    assert not boot.is_stale(100.0, 100.0, 10)
    assert not boot.is_stale(100.0, 110.0, 10)
    assert boot.is_stale(100.0, 110.5, 10)
    # a heartbeat from the future (volume clock jumped back) is not stale
    assert not boot.is_stale(200.0, 100.0, 10)


# ---- marker


def _marker(**over: object) -> dict[str, object]:
    m: dict[str, object] = {"key": KEY, "lock_sha256": SHA, "freeze_sha256": "f" * 64}
    m.update(over)
    return m


def test_marker_valid() -> None:
    assert boot.marker_problem(_marker(), KEY, SHA) is None


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
    problem = boot.marker_problem(marker, KEY, SHA)
    assert problem is not None and fragment in problem


# ---- pruning

keys = st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)


@given(st.dictionaries(keys, st.floats(0, 1e9, allow_nan=False), max_size=12), st.integers(1, 6))
def test_prune_keeps_newest_and_in_use(last_used: dict[str, float], keep: int) -> None:
    in_use = min(last_used, key=last_used.__getitem__) if last_used else KEY
    removed = boot.venvs_to_prune(last_used, keep, in_use)
    remaining = set(last_used) - set(removed)
    assert in_use not in removed
    assert set(removed) <= set(last_used)
    assert len(remaining) == min(len(last_used), keep)
    # every removed one is no newer than every kept one other than in_use
    kept_others = [last_used[k] for k in remaining if k != in_use]
    for k in removed:
        assert all(last_used[k] <= t for t in kept_others)


def test_prune_example() -> None:
    used = {"a" * 16: 1.0, "b" * 16: 2.0, "c" * 16: 3.0, "d" * 16: 4.0}
    assert boot.venvs_to_prune(used, 2, "d" * 16) == ["a" * 16, "b" * 16]
    # the one in use is kept even when it is the oldest
    assert boot.venvs_to_prune(used, 2, "a" * 16) == ["b" * 16, "c" * 16]
    assert boot.venvs_to_prune(used, 10, "a" * 16) == []


# ---- pip failure causes (texts are pip 23's own messages)

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


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (PIP_NETWORK, "unreachable"),
        (PIP_DISK, "disk full"),
        (PIP_TLS, "TLS"),
        (PIP_RESOLVE, "resolution"),
        ("something else", "pip install failed"),
    ],
)
def test_pip_causes(text: str, fragment: str) -> None:
    cause, remedy = boot.classify_pip_failure(text)
    assert fragment in cause
    assert remedy


@given(st.text(alphabet=string.printable, max_size=300))
def test_pip_classifier_total(text: str) -> None:
    cause, remedy = boot.classify_pip_failure(text)
    assert cause and remedy
