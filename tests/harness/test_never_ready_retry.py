"""A never-ready start is tried twice before it is judged, and the verdict says so."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import EXIT_CODES
from harness.gitrepo import Repo
from harness.images import build_image
from tests.synthetic import harness_config, make_worker_repo, remove_images

pytestmark = [pytest.mark.docker, pytest.mark.timeout(400)]


def starts_of(tag: str, since: float) -> int:
    """How many containers of image `tag` the engine started since `since` (epoch seconds)."""
    window = ["--since", f"{since:.3f}", "--until", f"{time.time():.3f}"]
    filters = ["--filter", "type=container", "--filter", "event=start", "--filter", f"image={tag}"]
    out = subprocess.run(
        ["docker", "events", *window, *filters, "--format", "{{.ID}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return len(out.split())


def test_a_start_that_never_gets_ready_is_retried_once(tmp_path: Path) -> None:
    name = f"retry-{uuid.uuid4().hex[:8]}"
    repo = make_worker_repo(tmp_path, name=name, exit_code=3, files={"n.txt": name})
    cfg = harness_config(repo)
    tag = build_image(Repo(repo.path), repo.head, cfg).tag
    where = ["--repo", str(repo.path), "--config", str(repo.config_path)]
    try:
        t0 = time.time() - 1
        res = CliRunner().invoke(app, ["check", "HEAD", "--check", "startup", "--json", *where])
        assert res.exit_code == 1, res.output
        verdict = json.loads(res.stdout.splitlines()[-1])
        assert "retried" in verdict["reason"], verdict
        assert verdict["figures"]["retried"]["exit_code"] == 3, verdict
        time.sleep(1.5)
        assert starts_of(tag, t0) == 2

        t1 = time.time() - 1
        res = CliRunner().invoke(app, ["measure", "HEAD", "--json", *where])
        assert res.exit_code == EXIT_CODES["never_ready"], res.output
        assert "retried" in res.stderr, res.stderr
        record = json.loads(res.stdout)
        assert record["startup"]["retried"]["exit_code"] == 3, record["startup"]
        time.sleep(1.5)
        assert starts_of(tag, t1) == 2
    finally:
        remove_images(f"harness-test/{name}:")
