"""Soak: one worker, N requests from a seeded mix; memory and warm latency over time.

The mix follows the reference worker's request contract (worker/schema.py): text of three
lengths, speeds, nfe steps, the default voice and custom voices (WAV made here, FLAC when the
caller has one), output formats, and bad inputs the worker must refuse and survive. Every
PROBE_EVERY-th request is the same fixed probe (same text, nfe and seed), so its latency is
comparable across the run whatever the mix drew around it: that is the warm-latency series.

`run_soak` drives any `send` (one POST /runsync) and `memory` (one reading); `summarize` gives
per-window figures and the change over the second half (a Theil-Sen line, robust to the
occasional slow request); `render_table` / `write_chart` present them. Pure apart from the chart.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import random
import statistics
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import theilslopes

from harness.atomic import write_atomic
from harness.charts import pyplot, to_png

PROBE_EVERY = 5
PROBE = {"text": "The quick brown fox jumps over the lazy dog.", "nfe_step": 16, "seed": 7}
SHORT = [
    "Hello there.",
    "Good morning, how are you today?",
    "Please hold the line.",
    "This is a short test.",
]
MEDIUM = [
    "The train leaves at seven. Bring a coat, because the evening will be cold. We meet at "
    "the north gate.",
    "Speech synthesis turns written words into sound. This worker runs it on demand, one "
    "request at a time, and keeps serving.",
]
LONG = (
    "A long request is split into chunks at sentence boundaries. Each chunk is synthesised in "
    "turn, seeded from the request seed, and the pieces are joined with a short cross-fade. "
    "The worker keeps its model warm between requests, so the first request after start-up is "
    "as fast as the rest. Memory that is freed after a request should come back to the "
    "allocator, and the next request should reuse it rather than ask the system for more."
)
REF_TEXT = "A short reference voice for testing."
BAD: list[dict[str, Any]] = [
    {"text": ""},
    {"text": "Too many steps.", "nfe_step": 999},
    {"text": "An unknown field.", "voice": "nobody"},
    {"text": "Broken audio.", "ref_audio_base64": "not base64!!", "ref_text": "x"},
    {"text": "Too fast.", "speed": 9.0},
]


def tone_wav(seconds: float = 2.0, sr: int = 16_000, seed: int = 0) -> bytes:
    """A voiced-like 16-bit mono WAV (standard library writer), different per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 80 * rng.random()
    x = 0.3 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    x += 0.01 * rng.standard_normal(len(t))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def soak_mix(n: int, seed: int = 0, flac: bytes | None = None) -> list[tuple[str, dict[str, Any]]]:
    """`n` (kind, runsync body) pairs drawn from the mix with `seed`; same seed, same list."""
    rng = random.Random(seed)
    wavs = [_b64(tone_wav(1.5 + i, seed=i)) for i in range(3)]
    kinds = ["short", "medium", "long", "custom_wav", "bad"] + (["custom_flac"] if flac else [])
    weights = [30, 25, 10, 15, 10] + ([10] if flac else [])
    out: list[tuple[str, dict[str, Any]]] = []
    for i in range(n):
        if i % PROBE_EVERY == 0:
            out.append(("probe", {"input": dict(PROBE)}))
            continue
        kind = rng.choices(kinds, weights)[0]
        if kind == "bad":
            out.append((kind, {"input": dict(rng.choice(BAD))}))
            continue
        body: dict[str, Any] = {
            "text": rng.choice(SHORT) if kind in ("short", "custom_wav", "custom_flac") else "",
            "speed": rng.choice([0.8, 1.0, 1.0, 1.2, 1.5]),
            "nfe_step": rng.choice([8, 16, 16, 32]),
            "seed": rng.randrange(2**31),
            "output_format": rng.choice(["wav", "wav", "flac"]),
        }
        if kind == "medium":
            body["text"] = rng.choice(MEDIUM)
        elif kind == "long":
            body["text"], body["nfe_step"] = LONG, rng.choice([8, 16])
        elif kind == "custom_wav":
            body.update(ref_audio_base64=rng.choice(wavs), ref_text=REF_TEXT)
        elif kind == "custom_flac" and flac is not None:
            body.update(ref_audio_base64=_b64(flac), ref_text=REF_TEXT)
        if rng.random() < 0.2:
            body["remove_silence"] = True
        out.append((kind, {"input": body}))
    return out


@dataclasses.dataclass
class SoakSample:
    i: int
    kind: str
    ok: bool  # COMPLETED
    expected: bool  # the outcome the mix expects (bad inputs fail)
    seconds: float  # round trip of POST /runsync
    rss_bytes: int | None  # after the request
    cuda_bytes: int | None = None
    server_ms: float | None = None  # the worker's own timings.total_ms
    cpu_s: float | None = None  # CPU seconds the worker used during the request (all threads)


Send = Callable[[dict[str, Any]], tuple[bool, float, dict[str, Any] | None]]
Memory = Callable[[], tuple[int | None, int | None]]
CpuClock = Callable[[], float | None]  # the worker's cumulative CPU seconds, None when unreadable


def _cpu_delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else round(after - before, 6)


def run_soak(
    send: Send,
    memory: Memory,
    mix: list[tuple[str, dict[str, Any]]],
    progress: Callable[[str], None] = lambda _: None,
    cpu: CpuClock = lambda: None,
) -> list[SoakSample]:
    """Send each body in turn; after each, read memory. Stops early only on a transport error.

    `cpu` gives the worker's CPU time: a request's CPU seconds hardly change when other jobs
    share the cores, where its round trip can triple, so the CPU series shows the worker's own
    drift on a busy machine (docs/worker.md, "Soak")."""
    samples: list[SoakSample] = []
    for i, (kind, body) in enumerate(mix):
        cpu0 = cpu()
        ok, seconds, timings = send(body)
        cpu_s = _cpu_delta(cpu0, cpu())
        rss, cuda = memory()
        server = (timings or {}).get("total_ms")
        samples.append(SoakSample(i, kind, ok, kind != "bad", seconds, rss, cuda, server, cpu_s))
        if (i + 1) % 25 == 0 or i + 1 == len(mix):
            mb = f"{rss / 2**20:.0f} MB" if rss else "?"
            progress(f"soak {i + 1}/{len(mix)}: rss {mb}, last {seconds * 1000:.0f} ms")
    return samples


def _change(points: list[tuple[int, float]], x0: int, x1: int) -> dict[str, float] | None:
    """Theil-Sen line through `points`: per 100 requests and from request x0 to x1, also as %
    of its value at x0."""
    if len(points) < 4:
        return None
    xs, ys = zip(*points, strict=True)
    slope, intercept, _, _ = theilslopes(ys, xs)
    start = intercept + slope * x0
    span = slope * (x1 - x0)
    return {
        "per_100": round(slope * 100, 6),
        "start": round(start, 6),
        "change": round(span, 6),
        "change_pct": round(100 * span / start, 2) if start else float("nan"),
    }


def _quarters(
    half: list[SoakSample], value: Callable[[SoakSample], float | None]
) -> tuple[list[float], list[float]]:
    """The successful probes' values in the 3rd and in the 4th quarter (`half` is the 2nd half)."""
    parts = half[: len(half) // 2], half[len(half) // 2 :]
    q3, q4 = (
        [v for s in part if s.kind == "probe" and s.ok and (v := value(s)) is not None]
        for part in parts
    )
    return q3, q4


def _drift(q3: list[float], q4: list[float]) -> float | None:
    """The 4th quarter's median against the 3rd's, in %."""
    if not q3 or not q4:
        return None
    return round(100 * (statistics.median(q4) / statistics.median(q3) - 1), 2)


def summarize(samples: list[SoakSample], windows: int = 10) -> dict[str, Any]:
    """Per-window table rows and the second-half change of RSS, CUDA memory and probe latency."""
    n = len(samples)
    rows = []
    size = max(1, n // windows)
    for w in range(0, n, size):
        part = samples[w : w + size]
        probes = [s.seconds for s in part if s.kind == "probe" and s.ok]
        probe_cpu = [s.cpu_s for s in part if s.kind == "probe" and s.ok and s.cpu_s is not None]
        rss = [s.rss_bytes for s in part if s.rss_bytes]
        cuda = [s.cuda_bytes for s in part if s.cuda_bytes is not None]
        rows.append(
            {
                "requests": f"{w + 1}-{w + len(part)}",
                "rss_mb": round(rss[-1] / 2**20, 1) if rss else None,
                "cuda_mb": round(cuda[-1] / 2**20, 1) if cuda else None,
                "probe_p50_ms": round(statistics.median(probes) * 1000, 1) if probes else None,
                "probe_cpu_p50_ms": round(statistics.median(probe_cpu) * 1000, 1)
                if probe_cpu
                else None,
                "mix_p50_ms": round(statistics.median([s.seconds for s in part if s.ok]) * 1000, 1)
                if any(s.ok for s in part)
                else None,
                "unexpected": sum(s.ok != s.expected for s in part),
            }
        )
    half = samples[n // 2 :]
    rss = [(s.i, s.rss_bytes / 2**20) for s in half if s.rss_bytes]
    cuda = [(s.i, s.cuda_bytes / 2**20) for s in half if s.cuda_bytes is not None]
    probes = [(s.i, s.seconds * 1000) for s in half if s.kind == "probe" and s.ok]
    probe_cpu = [
        (s.i, s.cpu_s * 1000) for s in half if s.kind == "probe" and s.ok and s.cpu_s is not None
    ]
    q3, q4 = _quarters(half, lambda s: s.seconds)
    c3, c4 = _quarters(half, lambda s: s.cpu_s)
    all_rss = [s.rss_bytes for s in samples if s.rss_bytes]
    return {
        "requests": n,
        "unexpected": sum(s.ok != s.expected for s in samples),
        "rss_first_mb": round(all_rss[0] / 2**20, 1) if all_rss else None,
        "rss_mid_mb": round(rss[0][1], 1) if rss else None,
        "rss_last_mb": round(all_rss[-1] / 2**20, 1) if all_rss else None,
        "windows": rows,
        "second_half": {
            "rss_mb": _change(rss, n // 2, n - 1),
            "cuda_mb": _change(cuda, n // 2, n - 1),
            "probe_ms": _change(probes, n // 2, n - 1),
            "probe_p50_q3_ms": round(statistics.median(q3) * 1000, 1) if q3 else None,
            "probe_p50_q4_ms": round(statistics.median(q4) * 1000, 1) if q4 else None,
            "probe_p50_drift_pct": _drift(q3, q4),
            "probe_cpu_ms": _change(probe_cpu, n // 2, n - 1),
            "probe_cpu_p50_q3_ms": round(statistics.median(c3) * 1000, 1) if c3 else None,
            "probe_cpu_p50_q4_ms": round(statistics.median(c4) * 1000, 1) if c4 else None,
            "probe_cpu_p50_drift_pct": _drift(c3, c4),
        },
    }


def render_table(summary: dict[str, Any]) -> str:
    """A markdown table of the windows and the second-half lines."""
    head = (
        "| requests | RSS MB | CUDA MB | probe p50 ms | probe CPU p50 ms | mix p50 ms"
        " | unexpected |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    for r in summary["windows"]:
        cells = [r["requests"], r["rss_mb"], r["cuda_mb"], r["probe_p50_ms"],
                 r.get("probe_cpu_p50_ms"), r["mix_p50_ms"]]  # fmt: skip
        lines.append("| " + " | ".join("-" if c is None else str(c) for c in cells) + f" | "
                     f"{r['unexpected']} |")  # fmt: skip
    h = summary["second_half"]
    for name, key, unit in (("RSS", "rss_mb", "MB"), ("CUDA", "cuda_mb", "MB"),
                            ("probe latency", "probe_ms", "ms"),
                            ("probe CPU time", "probe_cpu_ms", "ms")):  # fmt: skip
        c = h.get(key)
        if c:
            lines.append(
                f"\nsecond half, {name}: {c['change']:+.1f} {unit} ({c['change_pct']:+.2f}%), "
                f"{c['per_100']:+.2f} {unit} per 100 requests (Theil-Sen)"
            )
    if h["probe_p50_drift_pct"] is not None:
        lines.append(
            f"\nprobe p50, 3rd vs 4th quarter: {h['probe_p50_q3_ms']} -> {h['probe_p50_q4_ms']} ms "
            f"({h['probe_p50_drift_pct']:+.2f}%)"
        )
    if h.get("probe_cpu_p50_drift_pct") is not None:
        lines.append(
            f"\nprobe CPU p50, 3rd vs 4th quarter: {h['probe_cpu_p50_q3_ms']} -> "
            f"{h['probe_cpu_p50_q4_ms']} ms ({h['probe_cpu_p50_drift_pct']:+.2f}%)"
        )
    return "\n".join(lines) + "\n"


def write_chart(samples: list[SoakSample], path: Path, title: str) -> Path:
    """RSS (and CUDA memory) and probe latency against the request number, as a PNG."""
    fig, (top, bottom) = pyplot().subplots(2, 1, sharex=True, figsize=(9, 6))
    pts = [(s.i, s.rss_bytes / 2**20) for s in samples if s.rss_bytes]
    if pts:
        top.plot(*zip(*pts, strict=True), label="RSS")
    cuda = [(s.i, s.cuda_bytes / 2**20) for s in samples if s.cuda_bytes is not None]
    if cuda:
        top.plot(*zip(*cuda, strict=True), label="CUDA")
    top.set_ylabel("MB")
    top.legend(loc="lower right")
    probes = [(s.i, s.seconds * 1000) for s in samples if s.kind == "probe" and s.ok]
    if probes:
        bottom.plot(*zip(*probes, strict=True), ".", markersize=3, label="probe round trip")
    probe_cpu = [
        (s.i, s.cpu_s * 1000) for s in samples if s.kind == "probe" and s.ok and s.cpu_s is not None
    ]
    if probe_cpu:
        bottom.plot(*zip(*probe_cpu, strict=True), ".", markersize=3, label="probe CPU time")
    bottom.set_ylabel("ms")
    bottom.set_xlabel("request")
    bottom.legend(loc="upper right")
    for ax in (top, bottom):
        ax.axvline(len(samples) // 2, color="grey", linewidth=0.8, linestyle="--")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, to_png(fig, dpi=100))


def record(samples: list[SoakSample], meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON record: what ran (meta), the summary and every sample."""
    return {
        "soak_format": 1,
        **meta,
        "summary": summarize(samples),
        "samples": [dataclasses.asdict(s) for s in samples],
    }


def write_record(path: Path, rec: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, json.dumps(rec, indent=1) + "\n")
