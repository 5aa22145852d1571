"""How much of a torch request's cost moves with other jobs on the cores: wall time or CPU time.

Runs a 40-matmul loop (torch, its default threads) alone and beside N busy-loop processes, under
each OpenMP wait policy, and prints the p50 of wall and CPU time per loop. The soak reads the
worker's CPU time per request for this reason (docs/worker.md, "Soak").

    .venv/bin/python scripts/cpu_under_load.py --burners 3
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time

LOOP = """
import statistics, sys, time, torch
x = torch.randn(512, 512)
def once():
    w, c = time.perf_counter(), time.process_time()
    for _ in range(40):
        x @ x
    return time.perf_counter() - w, time.process_time() - c
for _ in range(3):
    once()
runs = [once() for _ in range(30)]
print(statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
"""


def burn(stop_at: float) -> None:
    while time.monotonic() < stop_at:
        pass


def measure(policy: str, burners: int) -> tuple[float, float]:
    """(wall p50, CPU p50) in seconds of the loop in a fresh process beside `burners` busy loops."""
    stop_at = time.monotonic() + 120
    procs = [multiprocessing.Process(target=burn, args=(stop_at,)) for _ in range(burners)]
    for p in procs:
        p.start()
    try:
        env = {**os.environ, "OMP_WAIT_POLICY": policy}
        out = subprocess.run([sys.executable, "-c", LOOP], env=env, capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    finally:
        for p in procs:
            p.terminate()
            p.join()
    wall, cpu = (float(v) for v in out.split())
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--burners", type=int, default=3)
    args = ap.parse_args()
    print("| OMP_WAIT_POLICY | burners | wall p50 ms | CPU p50 ms |")
    print("|---|---:|---:|---:|")
    for policy in ("ACTIVE", "PASSIVE"):
        for burners in (0, args.burners):
            wall, cpu = measure(policy, burners)
            print(f"| {policy} | {burners} | {wall * 1000:.1f} | {cpu * 1000:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
