"""Long-life safety against the real runpod local API: job timeout, memory ceiling, SIGTERM.

Each worker is `python -m worker --rp_serve_api` on 127.0.0.1 (offline, tiny model). The job
that must outlast a limit is 1,900 characters at nfe 64 (minutes on a CPU); the one that must
fit is a few words at nfe 4 (under a second idle, a few seconds on a crowded machine): the
limits sit far from both.
"""

from __future__ import annotations

import asyncio
import json
import queue
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from runpod.serverless.modules import rp_job

from tests.worker.served import Served, http_json
from worker.deadline import Deadline
from worker.guard import REFRESH_KEY, MemoryGuard
from worker.handler import error_of
from worker.lifecycle import Lifecycle
from worker.phases import parse_line
from worker.serving import guarded

pytestmark = [pytest.mark.torch]
STARTUP_S = 900  # importing f5_tts on 2 cores shared with a dozen busy processes took over 240 s

LONG = {
    "text": " ".join(["The long report goes on, sentence after sentence, and never ends."] * 28),
    "nfe_step": 64,
    "seed": 1,
}
SHORT = {"text": "Hello there.", "nfe_step": 4, "seed": 1}


class Worker(Served):
    """A local-API worker with extra settings that can be sent jobs in the background."""

    def __init__(self, volume: Path, tmp: Path, **env: str) -> None:
        super().__init__(volume, tmp / "audit.log", startup_s=STARTUP_S, **env)

    def runsync(self, body: dict) -> dict:
        return http_json(self.url("/runsync"), {"input": body}, timeout=600)[1]

    def in_background(self, body: dict) -> queue.Queue:
        """POST /runsync on a thread; the queue gets the answer or the exception."""
        answers: queue.Queue = queue.Queue()

        def go() -> None:
            try:
                answers.put(self.runsync(body))
            except Exception as exc:  # the worker may exit mid-request
                answers.put(exc)

        threading.Thread(target=go, daemon=True).start()
        return answers

    def exit_code(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.seen.extend(iter_queue(self.lines))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def iter_queue(q: queue.Queue) -> list[str]:
    time.sleep(0.5)  # the pump thread's last lines
    out = []
    while not q.empty():
        out.append(q.get())
    return out


def phase_records(lines: list[str]) -> list[dict]:
    return [r for r in map(parse_line, lines) if r]


@pytest.fixture(scope="module")
def api_volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("longlife-volume")


@pytest.fixture(scope="module")
def limited(api_volume: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A worker with a job timeout and a memory ceiling every job is above."""
    w = Worker(
        api_volume,
        tmp_path_factory.mktemp("limited"),
        WORKER_JOB_TIMEOUT_S="30",
        WORKER_MEMORY_CEILING_MB="1",
    )
    try:
        w.wait_ready()
        yield w
    finally:
        w.stop()


@pytest.mark.slow
def test_a_job_over_the_timeout_fails_clearly_and_the_worker_serves_on(limited: Worker):
    body = limited.runsync(LONG)
    assert body["status"] == "FAILED", str(body)[:500]
    error = json.loads(body["error"])
    assert error["code"] == "job_timeout" and "WORKER_JOB_TIMEOUT_S" in error["message"], error
    after = limited.runsync(SHORT)
    assert after["status"] == "COMPLETED", str(after)[:500]


@pytest.mark.slow
def test_above_the_memory_ceiling_the_output_asks_runpod_for_a_refresh(limited: Worker):
    body = limited.runsync(SHORT)
    assert body["status"] == "COMPLETED" and REFRESH_KEY not in body["output"]  # runpod took it
    line = limited.wait_line(lambda ln: (parse_line(ln) or {}).get("status") == "refresh", 30)
    record = parse_line(line)
    assert record["phase"] == "serve" and record["rss_mb"] > record["ceiling_mb"] == 1.0


def test_runpod_turns_the_refresh_request_into_stop_pod(handler):
    """runpod's own run_job (what queue mode calls) reads the key the guard adds."""
    served = guarded(handler, Lifecycle(5), Deadline(0), MemoryGuard(1))
    result = asyncio.run(rp_job.run_job(served, {"id": "j1", "input": SHORT}))
    assert result["stopPod"] is True and REFRESH_KEY not in result["output"]
    below = guarded(handler, Lifecycle(5), Deadline(0), MemoryGuard(1e6))
    result = asyncio.run(rp_job.run_job(below, {"id": "j2", "input": SHORT}))
    assert "stopPod" not in result and "audio_base64" in result["output"]


def test_the_deadline_stops_the_model_mid_job_and_the_next_job_runs(handler, engine):
    deadline = Deadline(0.05)
    hook = deadline.attach(engine.model.transformer)
    try:
        served = guarded(handler, Lifecycle(5), deadline, MemoryGuard(0))
        error = error_of(served({"id": "j1", "input": LONG}))
        assert error is not None and error["code"] == "job_timeout", error
        deadline.limit_s = 600
        assert error_of(served({"id": "j2", "input": SHORT})) is None
    finally:
        hook.remove()


@pytest.mark.slow
def test_sigterm_mid_job_lets_it_finish_then_exits_with_a_stop_line(api_volume: Path, tmp_path):
    w = Worker(api_volume, tmp_path, WORKER_SIGTERM_GRACE_S="300")
    try:
        w.wait_ready()
        assert w.runsync(SHORT)["status"] == "COMPLETED"  # runpod's handler is chained from now
        answer = w.in_background({**SHORT, "nfe_step": 32, "text": "One, two, three, four."})
        w.wait_line(lambda ln: "Started." in ln, 60)  # runpod's log line: the job is running
        w.proc.send_signal(signal.SIGTERM)
        body = answer.get(timeout=300)
        assert isinstance(body, dict) and body["status"] == "COMPLETED", str(body)[:500]
        code = w.exit_code(120)
        last = phase_records(w.seen)[-1]
        assert code == 0, "".join(w.seen)[-3000:]
        assert (last["phase"], last["status"], last["job"]) == ("serve", "stopped", "finished")
        assert last["signal"] == "SIGTERM" and last["finished_after_s"] <= 300
    finally:
        w.stop()


@pytest.mark.slow
def test_sigterm_with_a_job_past_the_grace_period_exits_18_saying_so(api_volume: Path, tmp_path):
    w = Worker(api_volume, tmp_path, WORKER_SIGTERM_GRACE_S="1")
    try:
        w.wait_ready()
        assert w.runsync(SHORT)["status"] == "COMPLETED"  # runpod's handler is chained from now
        answer = w.in_background(LONG)
        w.wait_line(lambda ln: "Started." in ln, 60)
        w.proc.send_signal(signal.SIGTERM)
        code = w.exit_code(300)
        last = phase_records(w.seen)[-1]
        assert code == 18, "".join(w.seen)[-3000:]
        assert (last["phase"], last["status"], last["exit_code"]) == ("serve", "fail", 18)
        assert last["details"]["job"] == "abandoned" and "WORKER_SIGTERM_GRACE_S" in last["remedy"]
        assert not isinstance(answer.get(timeout=30), dict)  # the client saw the worker go
    finally:
        w.stop()


def test_sigterm_taken_by_another_thread_still_starts_the_grace_timer():
    """The kernel may hand SIGTERM to any thread; while the main thread waits for a job's worker
    thread, Python would run the handler only after the job, so the grace must not depend on it.
    """
    exits: list[int] = []
    ended = threading.Event()
    lc = Lifecycle(0.2, exit_now=lambda code: (exits.append(code), ended.set()))
    old_handler = signal.getsignal(signal.SIGTERM)
    old_fd = signal.set_wakeup_fd(-1)
    try:
        lc.install()
        signal.signal(signal.SIGTERM, lambda *_: None)  # runpod's own, installed after ours

        def kill_this_thread() -> None:
            time.sleep(0.5)  # the main thread is waiting by now
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

        with lc.job("j1"):
            threading.Thread(target=kill_this_thread).start()
            ended.wait(60)  # the main thread is blocked here, as while f5_tts's thread runs
        assert exits == [18], "the grace timer did not start while the job ran"
    finally:
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGTERM, old_handler)
