"""Live start-up progress: phase lines formatted, each shown once, and (Docker) shown while the
worker is still starting."""

from __future__ import annotations

import contextlib
import json
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.commands.common import progress
from harness.container import start_worker
from harness.gitrepo import Repo
from harness.images import build_image
from harness.livelog import LiveLog, format_phase
from tests.synthetic import harness_config, make_worker_repo, remove_images


def test_format_venv_install_progress() -> None:
    record = {
        "phase": "venv",
        "status": "progress",
        "elapsed_ms": 15321,
        "step": "install",
        "installer": "pip",
        "packages": 120,
        "cache": "/runpod-volume/uv-cache",
    }
    assert format_phase(record) == "[venv] progress step=install installer=pip packages=120"
    line = {"phase": "venv", "status": "progress", "collected": 31, "total": 120,
            "last": "Collecting torch==2.4.0"}  # fmt: skip
    assert (
        format_phase(line)
        == '[venv] progress collected=31 total=120 last="Collecting torch==2.4.0"'
    )


def test_format_failure_and_long_values() -> None:
    record = {"phase": "imports", "status": "fail", "exit_code": 14, "cause": "x" * 500}
    text = format_phase(record)
    assert text.startswith("[imports] fail cause=") and text.endswith(" exit_code=14")
    assert len(text) < 140  # long values are cut


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


class GrowingLog:
    """A container whose log grows between reads, honouring `since` as Docker does (>=)."""

    def __init__(self, lines: list[tuple[float, str]]) -> None:
        self.lines = lines
        self.visible = 0

    def logs(self, **kwargs: Any) -> bytes:
        since = kwargs.get("since", 0.0)
        rows = [f"{_stamp(t)} {text}" for t, text in self.lines[: self.visible] if t >= since]
        return ("\n".join(rows) + "\n").encode()


@given(
    st.lists(
        st.tuples(st.floats(0.0, 3.0), st.booleans()), min_size=1, max_size=30
    ),  # (gap to the previous line in s, is it a phase line)
    st.lists(st.integers(0, 5), min_size=1, max_size=12),  # lines appearing between reads
)
def test_each_phase_line_shown_once_in_order(
    gaps: list[tuple[float, bool]], steps: list[int]
) -> None:
    t = 1_764_000_000.0
    lines, phases = [], []
    for i, (gap, is_phase) in enumerate(gaps):
        t += round(gap, 6)
        text = json.dumps({"phase": f"p{i}", "status": "ok"}) if is_phase else f"pip| line {i}"
        lines.append((t, text))
        if is_phase:
            phases.append(f"[p{i}] ok")
    container = GrowingLog(lines)
    seen: list[str] = []
    live = LiveLog(container, seen.append)
    for step in [*steps, len(lines)]:
        container.visible = min(len(lines), container.visible + step)
        live.poll(force=True)
    assert seen == phases


def test_no_progress_when_the_log_cannot_be_read() -> None:
    class Gone:
        def logs(self, **kwargs: Any) -> bytes:
            raise RuntimeError("no such container")

    seen: list[str] = []
    LiveLog(Gone(), seen.append).poll(force=True)
    assert seen == []


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_phase_line_shown_before_ready(tmp_path) -> None:
    name = f"live-{uuid.uuid4().hex[:8]}"
    repo = make_worker_repo(tmp_path, name=name, startup_sleep_s=4.0, files={"s.txt": name})
    cfg = harness_config(repo)
    try:
        tag = build_image(Repo(repo.path), repo.head, cfg).tag
        shown: list[tuple[str, bool]] = []  # (line, did the API answer when it was shown)
        holder: dict[str, Any] = {}

        def answers() -> bool:
            worker = holder.get("w")
            if worker is None or worker.host_port is None:
                return False
            url = f"{worker.base_url}/openapi.json"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200
            return False

        def progress(text: str) -> None:
            shown.append((text, answers()))

        with start_worker(tag, cfg, wait=False, progress=progress) as worker:
            holder["w"] = worker
            assert worker.wait_ready(cfg.run.ready_timeout_s)
    finally:
        remove_images(f"harness-test/{name}:")
    texts = [text for text, _ in shown]
    assert texts.count("[imports] ok") == 1 and texts.count("[ready] ok") == 1, texts
    assert texts.index("[imports] ok") < texts.index("[ready] ok")
    assert dict(shown)["[imports] ok"] is False  # shown during the start-up sleep, not after


def test_plain_progress_lines_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """In CI logs each phase line is one `harness: [phase] status ...` line, never wrapped."""
    record = {"phase": "venv", "status": "progress", "collected": 3, "total": 120,
              "last": "Collecting " + "nvidia-cudnn-cu12 " * 4}  # fmt: skip
    with progress() as say:
        say(format_phase(record))
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"harness: {format_phase(record)}"]


def test_format_the_install_tickers_line() -> None:
    """The worker's ticker line (every 15 s while pip or uv runs): seconds and bytes on disk."""
    line = {"phase": "venv", "status": "progress", "step": "installing", "installer": "uv",
            "elapsed_s": 45.1, "collected": 0, "total": 120, "last": "",
            "venv_bytes": 2_345_000_000, "cache_bytes": 512_000}  # fmt: skip
    assert format_phase(line) == (
        "[venv] progress step=installing installer=uv collected=0 total=120 elapsed_s=45.1 "
        'venv_bytes=2.35GB cache_bytes=512.00KB last=""'
    )
