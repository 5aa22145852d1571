"""harness.config: TOML -> Config, errors name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import DEFAULT_RUN_ARGS, load_config, parse_config
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_when_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None)
    assert cfg.run.args == DEFAULT_RUN_ARGS
    assert cfg.limits.image_hard_bytes == 5_000_000_000
    assert cfg.measure.samples == 10
    assert cfg.requests.file == "test_input.json"


def test_reference_config_loads() -> None:
    cfg = load_config(ROOT / "harness.toml")
    assert cfg.run.env["WORKER_MODEL"] == "tiny"
    assert cfg.run.env["WORKER_DEVICE"] == "cpu"
    assert cfg.build.base_images["python:3.11-slim"] == "local/python:3.11-slim-bookworm"
    assert {m.target for m in cfg.run.mounts} >= {"/runpod-volume", "/etc/worker-ca.crt"}
    ca = next(m for m in cfg.run.mounts if m.target == "/etc/worker-ca.crt")
    assert ca.read_only and not ca.create
    assert cfg.path("results") == ROOT / "results"


def test_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    cfg = parse_config('[measure]\nresults_dir = "r"\n', tmp_path)
    assert cfg.path(cfg.measure.results_dir) == tmp_path / "r"
    assert cfg.path("~/x") == Path.home() / "x"
    assert cfg.path("/abs") == Path("/abs")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[build]\ndockerfil = 'x'\n", "build.dockerfil"),
        ("[run]\nport = 70000\n", "run.port"),
        ("[measure]\nsamples = 0\n", "measure.samples"),
        ("[compare]\nthreshold = -1\n", "compare.threshold"),
        ("[build\n", "not valid TOML"),
    ],
)
def test_bad_config_is_a_config_error_naming_the_key(text: str, needle: str) -> None:
    with pytest.raises(HarnessError) as info:
        parse_config(text, Path("/tmp"))
    assert info.value.kind == "config" and needle in info.value.message


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="does not exist") as info:
        load_config(tmp_path / "nope.toml")
    assert info.value.exit_code == 10


def test_fingerprint_tracks_what_changes_a_measurement(tmp_path: Path) -> None:
    a = parse_config("", tmp_path)
    b = parse_config("[run.env]\nX = '1'\n", tmp_path)
    c = parse_config("[measure]\nsamples = 3\n", tmp_path)
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == c.fingerprint()  # sample count is not a different measurement
