"""A container Docker cannot start (its program is not in the image): a start-up that failed,
with Docker's reason as the telling line, not an APIError crash (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cause import telling_line
from harness.config import Config
from harness.container import start_worker
from tests.synthetic import RUNPOD_BASE, ensure_runpod_base


@pytest.mark.docker
@pytest.mark.timeout(120)
def test_a_missing_program_is_a_failed_start_with_dockers_reason(tmp_path: Path) -> None:
    ensure_runpod_base()
    cfg = Config(base_dir=tmp_path, run={"command": ["no-such-program"], "ready_timeout_s": 30})
    with start_worker(RUNPOD_BASE, cfg) as worker:
        assert not worker.ready and not worker.timed_out
        assert worker.exit_code == 127
        assert "executable file not found" in worker.log_tail
    assert "no-such-program" in telling_line(worker.log_tail)
