"""CLI bad input that needs no Docker build: one line on stderr, a distinct exit code."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import EXIT_CODES

runner = CliRunner()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    p = tmp_path / "w"
    p.mkdir()
    subprocess.run(["git", "init", "-q", str(p)], check=True)
    (p / "Dockerfile").write_text("FROM scratch\n")
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x.invalid",
    }
    subprocess.run(["git", "-C", str(p), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(p), "commit", "-q", "-m", "x"], check=True, env=env)
    return p


@pytest.fixture
def empty_cfg(tmp_path: Path) -> str:
    path = tmp_path / "empty.toml"
    path.write_text("")
    return str(path)


def run(*args: str, env: dict | None = None):
    return runner.invoke(app, list(args), env=env)


def one_error_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_not_a_git_repo(tmp_path: Path, empty_cfg: str) -> None:
    r = run("measure", "HEAD", "--repo", str(tmp_path), "--config", empty_cfg)
    assert r.exit_code == EXIT_CODES["not_a_repo"], r.output
    assert "not a git repository" in one_error_line(r)


def test_unknown_revision(git_repo: Path, empty_cfg: str) -> None:
    r = run("measure", "no-such-rev", "--repo", str(git_repo), "--config", empty_cfg)
    assert r.exit_code == EXIT_CODES["bad_revision"], r.output
    assert "unknown revision 'no-such-rev'" in one_error_line(r)


def test_bad_config(git_repo: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "h.toml"
    cfg.write_text("[run]\nprot = 1\n")
    r = run("build", "HEAD", "--repo", str(git_repo), "--config", str(cfg))
    assert r.exit_code == EXIT_CODES["config"], r.output
    assert "run.prot" in one_error_line(r)


def test_compare_unknown_name(git_repo: Path, empty_cfg: str) -> None:
    r = run("compare", "HEAD", "nonesuch", "--repo", str(git_repo), "--config", empty_cfg)
    assert r.exit_code == EXIT_CODES["bad_revision"], r.output
    assert "neither a revision" in one_error_line(r)


def test_docker_not_running(git_repo: Path, empty_cfg: str) -> None:
    # A real unreachable engine: DOCKER_HOST pointing at a socket nobody listens on.
    env = {"DOCKER_HOST": f"unix://{git_repo}/no-docker.sock"}
    r = run("build", "HEAD", "--repo", str(git_repo), "--config", empty_cfg, env=env)
    assert r.exit_code == EXIT_CODES["docker"], r.output
    assert "Docker engine not reachable" in one_error_line(r)
