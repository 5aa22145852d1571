"""Soak the reference worker locally: `python -m worker --rp_serve_api` on 127.0.0.1, offline.

Sends N requests of harness.soak's seeded mix through runpod's local API and, after each one,
reads the worker's resident memory (/proc/PID/status VmRSS) and, when nvidia-smi answers, its
CUDA memory. Prints the table and writes the JSON record and the chart (PNG) to --out.

    .venv/bin/python scripts/soak.py --requests 1000
    .venv/bin/python scripts/soak.py --requests 300 --env MALLOC_ARENA_MAX=2 --label arenas2

`harness measure --soak N` runs the same mix against a worker image in its container.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localworker import local_worker  # noqa: E402

from harness import soak  # noqa: E402
from harness.soakrun import process_cpu_seconds  # noqa: E402
from worker.guard import rss_bytes as proc_rss_bytes  # noqa: E402


def rss_bytes(pid: int) -> int | None:
    return proc_rss_bytes(Path(f"/proc/{pid}/status"))


def cuda_bytes(pid: int) -> int | None:
    """This process's GPU memory from nvidia-smi (None without a GPU)."""
    if not shutil.which("nvidia-smi"):
        return None
    with contextlib.suppress(Exception):
        out = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10,
        ).stdout  # fmt: skip
        for line in out.splitlines():
            p, mib = (x.strip() for x in line.split(","))
            if int(p) == pid:
                return int(mib) * 2**20
    return None


def post(url: str, body: dict[str, Any]) -> tuple[bool, float, dict[str, Any] | None]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as resp:
        doc = json.loads(resp.read())
    seconds = time.perf_counter() - t0
    output = doc.get("output") if isinstance(doc, dict) else None
    timings = output.get("timings") if isinstance(output, dict) else None
    return doc.get("status") == "COMPLETED", seconds, timings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--volume", default="", help="WORKER_VOLUME (default: a temp dir)")
    ap.add_argument("--out", default=str(ROOT / "results" / "soak"))
    ap.add_argument("--label", default="local")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the worker")
    args = ap.parse_args()

    volume = args.volume or tempfile.mkdtemp(prefix="soak-volume-")
    extra = dict(kv.split("=", 1) for kv in args.env)
    flac = (ROOT / "worker" / "voices" / "default.flac").read_bytes()
    mix = soak.soak_mix(args.requests, args.seed, flac=flac)
    with local_worker(volume, extra) as worker:
        url, proc = worker.url, worker.proc
        ready_rss = rss_bytes(proc.pid)
        t0 = time.monotonic()
        samples = soak.run_soak(
            lambda body: post(f"{url}/runsync", body),
            lambda: (rss_bytes(proc.pid), cuda_bytes(proc.pid)),
            mix,
            progress=lambda m: print(m, file=sys.stderr, flush=True),
            cpu=lambda: process_cpu_seconds(proc.pid),
        )
        wall = time.monotonic() - t0
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "label": args.label,
        "target": "local worker (python -m worker --rp_serve_api)",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "measured_at": stamp,
        "requests": args.requests,
        "seed": args.seed,
        "env": extra,
        "ready_rss_mb": round(ready_rss / 2**20, 1) if ready_rss else None,
        "wall_s": round(wall, 1),
    }
    rec = soak.record(samples, meta)
    out = Path(args.out)
    path = soak.write_record(out / f"soak-{args.label}-{stamp}.json", rec)
    title = f"soak {args.label}: {args.requests} requests, seed {args.seed}"
    chart = soak.write_chart(samples, out / f"soak-{args.label}-{stamp}.png", title)
    print(soak.render_table(rec["summary"]))
    print(f"ready RSS {meta['ready_rss_mb']} MB; {wall:.0f} s; record {path}; chart {chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
