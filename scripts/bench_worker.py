"""Latency figures of the reference worker, from process start, through runpod's local API.

Starts `python -m worker --rp_serve_api` on 127.0.0.1 (offline), and prints one JSON object:
time to the `ready` line, the first request after ready, p50/p95 of the warm requests, and the
worker's peak RSS (resource.getrusage of the finished child).

    .venv/bin/python scripts/bench_worker.py --nfe 16 --requests 20
    WORKER_MODEL=/tmp/base/model.safetensors WORKER_VOCAB=/tmp/base/vocab.txt \
      WORKER_VOCODER=/tmp/base/vocos .venv/bin/python scripts/bench_worker.py --nfe 8 --requests 0
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.phases import parse_line  # noqa: E402

TEXT = "The quick brown fox jumps over the lazy dog near the river."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict) -> tuple[float, dict]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as resp:
        out = json.loads(resp.read())
    if out.get("status") != "COMPLETED":
        raise SystemExit(f"request failed: {str(out)[:500]}")
    return time.perf_counter() - t0, out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nfe", type=int, default=16)
    ap.add_argument("--requests", type=int, default=20, help="warm requests after the first")
    ap.add_argument("--text", default=TEXT)
    ap.add_argument("--volume", default="", help="WORKER_VOLUME (default: a temp dir)")
    args = ap.parse_args()

    volume = args.volume or tempfile.mkdtemp(prefix="bench-volume-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")}
    env.update(WORKER_VOLUME=volume, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "--rp_serve_api", "--rp_api_host", "127.0.0.1",
         "--rp_api_port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    phases: dict[str, dict] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            record = parse_line(line)
            if record:
                phases[record["phase"]] = record
                if record["status"] == "fail":
                    raise SystemExit(f"start-up failed: {record}")
                if record["phase"] == "ready":
                    break
        ready_s = time.perf_counter() - t0
        # keep reading the worker's output: a full pipe would block the worker
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                urllib.request.urlopen(f"{url}/openapi.json", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        body = {"input": {"text": args.text, "nfe_step": args.nfe, "seed": 7}}
        first, out = post(f"{url}/runsync", body)
        warm = [post(f"{url}/runsync", body)[0] for _ in range(args.requests)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = {
        "model": phases["model"]["model"],
        "parameters": phases["model"]["parameters"],
        "device": phases["device"]["device"],
        "nfe": args.nfe,
        "audio_s": out["output"]["duration_s"],
        "time_to_ready_s": round(ready_s, 2),
        "imports_ms": phases["imports"]["elapsed_ms"],
        "first_request_s": round(first, 3),
        "warm_requests": len(warm),
        "p50_s": round(statistics.median(warm), 3) if warm else None,
        "p95_s": round(percentile(warm, 0.95), 3) if warm else None,
        "first_over_p50": round(first / statistics.median(warm), 2) if warm else None,
        "peak_rss_mb": round(peak_kb / 1024),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
