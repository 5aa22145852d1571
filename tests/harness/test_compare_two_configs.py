"""`harness compare A B --config-b`: B built and run with its own config (pure parts; the real
run, Dockerfile vs Dockerfile.baked, is in docs/container.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.abtest import run_abtest
from harness.config import parse_config
from harness.errors import HarnessError
from harness.gitrepo import Repo
from tests.gitutil import commit_files


def test_config_b_sharing_the_tag_prefix_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """The same commit built from two Dockerfiles under one tag: B's build would retag A's."""
    commit_files(tmp_path / "repo", {"Dockerfile": "FROM scratch\n"})
    cfg = parse_config("", tmp_path)
    cfg_b = parse_config('[build]\ndockerfile = "Dockerfile.baked"\n', tmp_path)
    with pytest.raises(HarnessError) as err:
        run_abtest(Repo(tmp_path / "repo"), "HEAD", "HEAD", cfg, config_b=cfg_b)
    assert err.value.kind == "config" and "tag_prefix" in str(err.value)
