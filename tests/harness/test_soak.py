"""harness/soak.py: the seeded mix, the second-half figures, the table and the chart (no torch)."""

from __future__ import annotations

import io
import json
import os
import time
import wave
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.soak import (
    BAD,
    PROBE,
    PROBE_EVERY,
    SoakSample,
    record,
    render_table,
    run_soak,
    soak_mix,
    summarize,
    tone_wav,
    write_chart,
)
from harness.soakrun import container_cpu_seconds, process_cpu_seconds


def test_the_mix_is_seeded_and_holds_every_kind():
    a, b = soak_mix(400, seed=3, flac=b"fLaC-bytes"), soak_mix(400, seed=3, flac=b"fLaC-bytes")
    assert a == b and a != soak_mix(400, seed=4, flac=b"fLaC-bytes")
    kinds = {k for k, _ in a}
    assert kinds == {"probe", "short", "medium", "long", "custom_wav", "custom_flac", "bad"}
    assert all(body == {"input": PROBE} for k, body in a[::PROBE_EVERY])
    assert all(body["input"] in BAD for k, body in a if k == "bad")
    assert "custom_flac" not in {k for k, _ in soak_mix(400, seed=3)}


def test_the_wav_reference_is_a_real_wav():
    with wave.open(io.BytesIO(tone_wav(1.0, 16_000)), "rb") as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (1, 16_000, 16_000)


def samples(n: int, rss0: float, growth_mb: float, probe_s: float, drift: float) -> list:
    """RSS flat in the first half, then rising by growth_mb; probe latency scaled by drift."""
    out = []
    for i in range(n):
        late = max(0, i - n // 2) / max(1, n - 1 - n // 2)
        kind = "probe" if i % PROBE_EVERY == 0 else "short"
        seconds = probe_s * (1 + drift * late) if kind == "probe" else 0.2
        rss = int((rss0 + growth_mb * late) * 2**20)
        out.append(SoakSample(i, kind, True, True, seconds, rss))
    return out


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(80, 600),
    rss0=st.floats(200, 4000),
    growth=st.floats(-100, 500),
    drift=st.floats(-0.3, 0.5),
)
def test_second_half_change_recovers_a_linear_trend(n, rss0, growth, drift):
    half = summarize(samples(n, rss0, growth, 0.5, drift))["second_half"]
    assert abs(half["rss_mb"]["change"] - growth) <= 1e-3 * max(1.0, abs(growth)) + 2**-19
    assert abs(half["rss_mb"]["change_pct"] - 100 * growth / rss0) < 0.05
    assert abs(half["probe_ms"]["change_pct"] - 100 * drift) < 0.5
    assert half["probe_p50_drift_pct"] * drift >= 0  # same sign as the drift


def test_table_record_and_chart(tmp_path: Path):
    data = samples(100, 1000, 50, 0.4, 0.0)
    data[3].ok = False  # an unexpected failure is counted
    rec = record(data, {"label": "t"})
    assert rec["summary"]["unexpected"] == 1 and len(rec["samples"]) == 100
    json.dumps(rec)  # the record is plain JSON
    table = render_table(rec["summary"])
    assert table.startswith("| requests |") and "second half, RSS: +50.0 MB (+5.00%)" in table
    png = write_chart(data, tmp_path / "c.png", "t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cpu_time_is_the_workers_own_share_of_each_request():
    """run_soak takes the CPU clock around each send, so the sample holds that request's CPU."""
    clock = iter([10.0, 10.25, 10.25, 10.75])
    got = run_soak(
        lambda body: (True, 1.0, {"total_ms": 900.0}),
        lambda: (2**30, None),
        soak_mix(2, seed=0),
        cpu=lambda: next(clock),
    )
    assert [s.cpu_s for s in got] == [0.25, 0.5]
    assert run_soak(lambda b: (True, 1.0, None), lambda: (1, None), soak_mix(1))[0].cpu_s is None


@settings(max_examples=30, deadline=None)
@given(n=st.integers(80, 600), drift=st.floats(-0.3, 0.5), load=st.floats(1.0, 4.0))
def test_cpu_drift_is_read_apart_from_a_busy_machines_round_trips(n, drift, load):
    """Round trips that triple when other jobs arrive must not show as the worker's CPU drift."""
    data = samples(n, 1000, 0, 0.5, drift)
    for s in data:
        s.cpu_s = s.seconds  # the worker's own cost, drifting by `drift`
        s.seconds *= load if s.i >= n // 2 + (n - n // 2) // 2 else 1.0  # the machine, late on
    half = summarize(data)["second_half"]
    assert abs(half["probe_cpu_ms"]["change_pct"] - 100 * drift) < 0.5
    assert half["probe_cpu_p50_drift_pct"] * drift >= 0
    assert "probe CPU p50, 3rd vs 4th quarter" in render_table(summarize(data))


def test_container_cpu_seconds_reads_cgroup_v1_and_v2(tmp_path: Path):
    v1 = tmp_path / "v1" / "cpuacct" / "docker" / "abc"
    v1.mkdir(parents=True)
    (v1 / "cpuacct.usage").write_text("2500000000\n")
    assert container_cpu_seconds("abc", tmp_path / "v1") == 2.5
    v2 = tmp_path / "v2" / "system.slice" / "docker-abc.scope"
    v2.mkdir(parents=True)
    (v2 / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\n")
    assert container_cpu_seconds("abc", tmp_path / "v2") == 1.5
    assert container_cpu_seconds("gone", tmp_path / "v2") is None


def test_local_cpu_seconds_counts_this_process():
    before = process_cpu_seconds(os.getpid())
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    assert process_cpu_seconds(os.getpid()) - before >= 0.2
    assert process_cpu_seconds(2**22 + 12345) is None  # no such process
