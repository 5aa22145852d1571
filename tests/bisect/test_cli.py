"""Bad input to `harness bisect` / `harness check` gets a clear error and its own exit code.

Fast: every case here fails before any image is built (real git repos in temp folders).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from harness.cli import app as cli_app
from harness.commands import bisect as bisect_cmd
from harness.commands import check as check_cmd


@pytest.fixture
def app() -> typer.Typer:
    a = typer.Typer(add_completion=False)
    bisect_cmd.register(a)
    check_cmd.register(a)
    return a


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "r"
    path.mkdir()
    env = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "-C", str(path), "init", "-q"], check=True)
    for i in range(3):
        (path / "f.txt").write_text(str(i))
        subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(path), *env, "commit", "-qm", f"c{i}"], check=True)
    return path


def test_unknown_check_is_a_usage_error(app, repo: Path) -> None:
    where = ["--repo", str(repo)]
    res = CliRunner().invoke(
        app, ["bisect", "--good", "HEAD~2", "--bad", "HEAD", "--check", "speed", *where]
    )
    assert res.exit_code == 2
    assert "unknown check speed" in res.output


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--threshold", "0", "--threshold 0.0"),
        ("--size-threshold", "-1", "--size-threshold"),
        ("--warm-candidates", "9", "--warm-candidates 9: expected 0 to 8"),
        ("--warm-candidates", "-1", "--warm-candidates -1"),
    ],
)
def test_bad_thresholds_are_usage_errors(app, repo: Path, flag: str, value: str, message) -> None:
    args = ["bisect", "--good", "HEAD~2", "--bad", "HEAD", "--repo", str(repo), flag, value]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2
    assert message in res.output


def test_not_a_repository(app, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["bisect", "--good", "a", "--bad", "b", "--repo", str(tmp_path)])
    assert res.exit_code == 5
    assert "is not a git repository" in res.output


def test_unknown_revision_and_same_ends(app, repo: Path) -> None:
    where = ["--repo", str(repo)]
    res = CliRunner().invoke(app, ["bisect", "--good", "nope", "--bad", "HEAD", *where])
    assert res.exit_code == 4
    assert "unknown revision 'nope'" in res.output
    res = CliRunner().invoke(app, ["bisect", "--good", "HEAD", "--bad", "HEAD", *where])
    assert res.exit_code == 4
    assert "same commit" in res.output


def test_check_failures_are_128_plus_the_harness_code(app, repo: Path) -> None:
    res = CliRunner().invoke(app, ["check", "--check", "speed", "--repo", str(repo)])
    assert res.exit_code == 128
    res = CliRunner().invoke(app, ["check", "nope", "--check", "build", "--repo", str(repo)])
    assert res.exit_code == 128 + 4
    res = CliRunner().invoke(app, ["check", "HEAD", "--check", "latency", "--repo", str(repo)])
    assert res.exit_code == 128 + 10
    assert "pass --good REV" in res.output


@pytest.mark.parametrize("command", ["bisect", "check", "build", "measure"])
def test_config_default_is_the_current_folders_never_the_bisected_repos(
    repo: Path, tmp_path: Path, monkeypatch, command: str
) -> None:
    """Every command reads --config, else ./harness.toml, else the defaults. A harness.toml
    inside the repository under test is not read (it could choose mounts and secrets), and the
    user is told how to use it."""
    (repo / "harness.toml").write_text("[run]\nprot = 1\n")  # would be a config error (exit 10)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    args = {
        "bisect": ["bisect", "--good", "HEAD", "--bad", "HEAD"],
        "check": ["check", "nope", "--check", "build"],
        "build": ["build", "nope"],
        "measure": ["measure", "nope"],
    }[command]
    res = CliRunner().invoke(cli_app, [*args, "--repo", str(repo)])
    want = 128 + 4 if command == "check" else 4  # the revision error, not the config error
    assert res.exit_code == want, res.output
    assert f"{repo / 'harness.toml'} is not used (pass --config" in " ".join(res.output.split())
    # named with --config, it is read (and here it is invalid)
    res = CliRunner().invoke(
        cli_app, [*args, "--repo", str(repo), "--config", str(repo / "harness.toml")]
    )
    assert res.exit_code == (128 + 10 if command == "check" else 10), res.output


TRUST_ARGS = {
    "bisect": (["bisect", "--good", "HEAD", "--bad", "HEAD"], 4),
    "check": (["check", "nope", "--check", "build"], 128 + 4),
    "build": (["build", "nope"], 4),
    "measure": (["measure", "nope"], 4),
    "compare": (["compare", "nope", "HEAD"], None),
    "baseline": (["baseline", "record", "nope", "--name", "x"], 4),
}


@pytest.mark.parametrize("command", sorted(TRUST_ARGS))
def test_trust_repo_config_reads_the_repos_own_file(
    repo: Path, tmp_path: Path, monkeypatch, command: str
) -> None:
    """`--trust-repo-config` (every command) reads <repo>/harness.toml; without it the file is
    left alone and the note names both ways to use it."""
    (repo / "harness.toml").write_text("[run]\nprot = 1\n")  # a config error (exit 10) if read
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    args, plain_code = TRUST_ARGS[command]
    check = command == "check"
    res = CliRunner().invoke(cli_app, [*args, "--repo", str(repo)])
    assert res.exit_code != (128 + 10 if check else 10), res.output
    if plain_code is not None:
        assert res.exit_code == plain_code, res.output
    assert "--trust-repo-config" in " ".join(res.output.split()), res.output
    res = CliRunner().invoke(cli_app, [*args, "--repo", str(repo), "--trust-repo-config"])
    assert res.exit_code == (128 + 10 if check else 10), res.output
    assert "prot" in res.output


def test_trust_repo_config_without_a_file_is_a_config_error(repo: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli_app, ["build", "HEAD", "--repo", str(repo), "--trust-repo-config"])
    assert res.exit_code == 10, res.output
    assert "no harness.toml" in res.output
