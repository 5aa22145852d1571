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
import resource
import statistics
import tempfile
import time
import urllib.request

from localworker import local_worker

TEXT = "The quick brown fox jumps over the lazy dog near the river."


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
    with local_worker(volume) as worker:
        url, phases, ready_s = worker.url, worker.phases, worker.ready_s
        body = {"input": {"text": args.text, "nfe_step": args.nfe, "seed": 7}}
        first, out = post(f"{url}/runsync", body)
        warm = [post(f"{url}/runsync", body)[0] for _ in range(args.requests)]
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
