"""`--engine NAME` on measure, compare, bisect and check: an unknown name, and an engine whose
endpoint does not answer (a unix socket nobody listens on: real, no Docker engine needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.bisect import CHECK_HARNESS_FAILURE
from harness.cli import app
from harness.errors import EXIT_CODES

runner = CliRunner()


@pytest.fixture
def worker_repo(tmp_path: Path) -> Path:
    path = tmp_path / "w"
    path.mkdir()
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x.invalid",
    }
    (path / "Dockerfile").write_text("FROM scratch\n")
    (path / "test_input.json").write_text('{"input": {}}')
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for message in ("one", "two"):
        subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
        subprocess.run(
            ["git", "-C", str(path), "commit", "-q", "--allow-empty", "-m", message],
            check=True,
            env=env,
        )
    return path


@pytest.fixture
def pool(tmp_path: Path) -> tuple[Path, str]:
    """A config with two engines; "gone" is a unix socket that does not exist."""
    sock = tmp_path / "gone" / "docker.sock"
    path = tmp_path / "pool.toml"
    path.write_text(
        f'[measure]\nresults_dir = "{tmp_path / "results"}"\n\n'
        '[[engines]]\nname = "local"\nendpoint = "default"\n\n'
        f'[[engines]]\nname = "gone"\nendpoint = "unix://{sock}"\n'
    )
    return path, f"unix://{sock}"


def error_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["measure", "HEAD"],
        ["compare", "HEAD~1", "HEAD"],
        ["bisect", "--good", "HEAD~1", "--bad", "HEAD"],
    ],
)
def test_an_unknown_engine_name_lists_the_configured_ones(worker_repo, pool, args) -> None:
    config, _ = pool
    r = runner.invoke(
        app, [*args, "--repo", str(worker_repo), "--config", str(config), "--engine", "gpu"]
    )
    assert r.exit_code == EXIT_CODES["config"], r.output
    line = error_line(r)
    assert "no engine named 'gpu'" in line and "(configured: local, gone)" in line


@pytest.mark.parametrize("args", [["measure", "HEAD"], ["compare", "HEAD~1", "HEAD"]])
def test_an_engine_that_does_not_answer_is_named(worker_repo, pool, args) -> None:
    config, endpoint = pool
    r = runner.invoke(
        app, [*args, "--repo", str(worker_repo), "--config", str(config), "--engine", "gone"]
    )
    assert r.exit_code == EXIT_CODES["docker"], r.output
    line = error_line(r)
    assert f"Docker engine 'gone' ({endpoint}) not reachable" in line
    assert f"docker -H {endpoint} info" in line


def test_check_runs_on_the_named_engine_with_git_bisect_run_exit_codes(worker_repo, pool) -> None:
    """`harness check --engine`: 128 + the harness code, so `git bisect run` aborts."""
    config, endpoint = pool
    base = ["check", "HEAD", "--check", "build", "--repo", str(worker_repo)]
    base += ["--config", str(config)]
    r = runner.invoke(app, [*base, "--engine", "gpu"])
    assert r.exit_code == CHECK_HARNESS_FAILURE + EXIT_CODES["config"], r.output
    assert "no engine named 'gpu'" in r.output and "(configured: local, gone)" in r.output
    r = runner.invoke(app, [*base, "--engine", "gone"])
    assert r.exit_code == CHECK_HARNESS_FAILURE + EXIT_CODES["docker"], r.output
    assert f"Docker engine 'gone' ({endpoint}) not reachable" in r.output
