"""A stored never-ready record from one attempt (before retries) is measured again, not served.

No Docker: the commit has no Dockerfile, so measuring it again stops at the build with its own
error; a record that shows its retry is served from the store as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import Config
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.measure import measure_commit, new_result
from harness.results import ResultStore, StartupRecord
from tests.gitutil import commit_files


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    path = tmp_path / "w"
    commit_files(path, {"README": "no Dockerfile here\n"})
    return Repo(path)


@pytest.mark.parametrize("retried", [None, {"exit_code": 3, "phase": "serve", "timed_out": False}])
def test_stored_never_ready(repo: Repo, tmp_path: Path, retried) -> None:
    cfg = Config(base_dir=tmp_path, requests={"payloads": [{"input": {}}]})
    store = ResultStore(tmp_path / "results", "m")
    result = new_result(repo, repo.resolve("HEAD"), cfg)
    result.startup = StartupRecord(ok=False, exit_code=3, phase="serve", retried=retried)
    result.error = {"kind": "never_ready", "message": "exited", "hint": "h", "exit_code": 7}
    store.save(result)
    with pytest.raises(HarnessError) as info:
        measure_commit(repo, "HEAD", cfg, store=store)
    if retried is None:  # one attempt only: measured again (here: no Dockerfile)
        assert info.value.kind == "build" and "no Dockerfile" in info.value.message
    else:
        assert info.value.kind == "never_ready" and info.value.message.startswith("(stored)")
