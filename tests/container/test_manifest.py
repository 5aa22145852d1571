"""worker.manifest on a real folder laid out like a venv: what a seal records, what a start sees."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from worker import manifest
from worker.volfs import VolumeFs

SITE = Path("lib/python3.11/site-packages")


def _venv(root: Path, files: dict[str, bytes]) -> Path:
    site = root / SITE
    for rel, data in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
    record = "".join(f"{rel},,{len(data)}\n" for rel, data in files.items())
    (site / "pkg-1.dist-info").mkdir(parents=True, exist_ok=True)
    (site / "pkg-1.dist-info" / "RECORD").write_text(record + "../../../bin/tool,,3\n")
    return root


FILES = {"pkg/__init__.py": b"x = 1\n", "pkg/_native.cpython-311.so": b"\x7fELF" * 50}


def test_a_sealed_venv_matches_and_damage_is_named(tmp_path: Path) -> None:
    fs = VolumeFs(tmp_path)
    venv = _venv(tmp_path / "v", FILES)
    m = manifest.make(venv, fs)
    assert set(m["files"]) == set(FILES) and list(m["dists"]) == ["pkg-1.dist-info"]
    assert manifest.problem(venv, fs, m) is None
    so = venv / SITE / "pkg/_native.cpython-311.so"
    so.write_bytes(so.read_bytes()[:10])
    assert "truncated" in (manifest.problem(venv, fs, m) or "")
    so.unlink()
    assert "missing" in (manifest.problem(venv, fs, m) or "")


def test_a_manifest_that_lists_nothing_vouches_for_nothing(tmp_path: Path) -> None:
    fs = VolumeFs(tmp_path)
    venv = _venv(tmp_path / "v", FILES)
    m = manifest.make(venv, fs)
    assert manifest.problem(venv, fs, {**m, "dists": {}})
    assert manifest.problem(venv, fs, {"format": 99})
    assert manifest.problem(venv, fs, [])


@given(st.from_regex(r"[a-z_]{1,8}(/[a-z_]{1,8}){0,3}\.py", fullmatch=True))
def test_the_sample_is_the_same_in_every_venv(rel: str) -> None:
    assert manifest.sampled(rel) == manifest.sampled(rel)
    if rel.count("/") == 1 and rel.endswith("/__init__.py"):
        assert manifest.sampled(rel)


def test_about_one_in_sample_every_of_the_rest(tmp_path: Path) -> None:
    names = [f"pkg/mod{i}.py" for i in range(20_000)]
    share = sum(map(manifest.sampled, names)) / len(names)
    assert 0.5 / manifest.SAMPLE_EVERY < share < 2.0 / manifest.SAMPLE_EVERY
