"""Noisy-zoo benchmark: latency bisects on synthetic histories with log-normal request noise.

    PYTHONPATH=. .venv/bin/python -m tests.bisect.noisy_zoo --sigma 0.35 --shift 0.30 --runs 20

Each run makes a fresh 32-commit history of a small runpod worker (tests/synthetic.py) whose
requests sleep `delay * exp(sigma * N(0, 1))` (fresh noise in every container), with one commit at
a seeded random position that multiplies the delay by 1 + shift. On that history it runs
`harness bisect --check latency` (in process, fresh verdicts) and a person's plain
`git bisect run` script (docker build, docker run, `--plain-samples` timed requests after one
warm-up, bad when the median is over a fixed threshold: the geometric middle of the two ends'
medians, timed once before the clock starts),
and prints one JSON line per run and a Markdown table: right / wrong / not found, probes,
samples and wall time of each. `--load N` adds N busy processes for the length of the run.
A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.bisect import run_bisect
from harness.gitrepo import Repo
from harness.interrupts import sigterm_unwinds
from harness.judgement import Options
from harness.progress import quiet
from tests.synthetic import HANDLER_PY, WorkerRepo, harness_config, make_worker_repo, remove_images

NAME = f"nzoo{os.getpid()}"  # two benchmarks at once must not remove each other's images

# The synthetic handler with log-normal noise on the per-request sleep (knob `delay_sigma`).
NOISY_HANDLER_PY = HANDLER_PY.replace(
    "import json, os, sys, time\n",
    "import json, math, os, random, sys, time\n",
).replace(
    '    time.sleep(KNOBS["request_delay_s"])\n',
    '    time.sleep(KNOBS["request_delay_s"] * math.exp(KNOBS.get("delay_sigma", 0.0)'
    " * random.gauss(0.0, 1.0)))\n",
)
assert NOISY_HANDLER_PY.count("random.gauss") == 1, "tests/synthetic.py handler changed"

PLAIN_SCRIPT = r'''
"""A person's latency check for `git bisect run`: build, start, time, compare with a threshold."""
import json, os, statistics, subprocess, sys, time, urllib.request

THRESHOLD_S, SAMPLES, LOG, REPO = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
sha = subprocess.check_output(["git", "rev-parse", "HEAD"], text=True).strip()
tag = f"{REPO}:{sha[:12]}"
if subprocess.run(["docker", "build", "-q", "-t", tag, "."], capture_output=True).returncode:
    sys.exit(125)
cid = subprocess.check_output(["docker", "run", "-d", "-p", "127.0.0.1::8000", tag,
                               "--rp_serve_api", "--rp_api_host", "0.0.0.0",
                               "--rp_api_port", "8000"], text=True).strip()
try:
    port = subprocess.check_output(["docker", "port", cid, "8000/tcp"], text=True)
    url = "http://127.0.0.1:" + port.splitlines()[0].rsplit(":", 1)[1]
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/openapi.json", timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    body = json.dumps({"input": {"text": "hello"}}).encode()
    def once():
        req = urllib.request.Request(url + "/runsync", data=body,
                                     headers={"Content-Type": "application/json"})
        t0 = time.perf_counter()
        urllib.request.urlopen(req, timeout=60).read()
        return time.perf_counter() - t0
    once()  # warm-up
    median = statistics.median(once() for _ in range(SAMPLES))
finally:
    subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
with open(LOG, "a") as f:
    f.write(json.dumps({"sha": sha, "median_s": median, "samples": SAMPLES}) + "\n")
sys.exit(1 if median > THRESHOLD_S else 0)
'''


@dataclass
class NoisyRepo(WorkerRepo):
    """A synthetic worker repo whose handler adds log-normal noise to each request."""

    def write(self) -> None:
        super().write()
        (self.path / "handler.py").write_text(NOISY_HANDLER_PY)


def make_history(
    tmp: Path, *, commits: int, delay: float, sigma: float, shift: float, culprit: int, name: str
) -> tuple[WorkerRepo, list[str]]:
    """A first-parent history of `commits` commits; line[culprit] multiplies the delay."""
    plain = make_worker_repo(tmp, name=name)  # builds the runpod base once per machine
    repo = NoisyRepo(plain.path, knobs={**plain.knobs, "delay_sigma": sigma})
    line = [repo.commit("healthy noisy worker", request_delay_s=delay)]
    for i in range(1, commits):
        if i == culprit:
            line.append(repo.commit("perf: heavier work", request_delay_s=delay * (1 + shift)))
        else:
            line.append(repo.commit(f"docs: note {i}", files={"notes.txt": f"{i}\n"}))
    return repo, line


def _busy() -> None:
    while True:
        pass


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_harness(
    repo: WorkerRepo, line: list[str], results: Path, verbose: bool = False
) -> dict[str, Any]:
    cfg = harness_config(repo, results_dir=results)
    t0 = time.monotonic()
    run = run_bisect(
        Repo(repo.path),
        line[0],
        line[-1],
        cfg,
        checks=("latency",),
        options=Options(force=True),
        progress=_stderr if verbose else quiet,
    )
    wall = time.monotonic() - t0
    (result,) = run.checks
    judged = [*result.probes, *([result.confirmation] if result.confirmation else [])]
    samples = sum(
        len(p.figures.get("candidate_s") or []) + len(p.figures.get("reference_s") or [])
        for p in judged
    )
    extra = result.search or {}
    samples = extra.get("samples_total", samples)
    named = result.first_bad if result.status == "found" else None
    timings = [p.figures["timing"] for p in result.probes if "timing" in p.figures]
    return {
        "named": named,
        "status": result.status,
        "probes": len(result.probes),
        "samples": samples,
        "wall_s": round(wall, 1),
        "containers": extra.get("containers"),
        # where the visits' time went: waiting for images, starting containers, sampling
        "visits_s": {
            k: round(sum(t.get(k, 0.0) for t in timings), 1)
            for k in ("image_s", "start_s", "sampling_s")
        },
    }


def _plain_median(clone: Path, script: Path, sha: str, samples: int, log: Path) -> float:
    """The plain script's median at `sha` (threshold 0: only the figure matters)."""
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", sha], check=True)
    subprocess.run(
        [sys.executable, str(script), "0", str(samples), str(log), f"plain-{NAME}"],
        cwd=clone,
        capture_output=True,
    )
    return json.loads(log.read_text().splitlines()[-1])["median_s"]


def run_plain(repo: WorkerRepo, line: list[str], tmp: Path, samples: int) -> dict[str, Any]:
    """`git bisect run` with the plain script. Its threshold is what a person would pick after
    timing both ends once (before the clock starts): the geometric middle of their medians."""
    clone = tmp / "plain-clone"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    script, log = tmp / "plain_check.py", tmp / "plain.log"
    script.write_text(PLAIN_SCRIPT)
    calibration = tmp / "plain-calibration.log"
    ends = [_plain_median(clone, script, sha, 9, calibration) for sha in (line[0], line[-1])]
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "main"], check=True)
    threshold_s = math.sqrt(ends[0] * ends[1])
    git = ["git", "-C", str(clone)]
    t0 = time.monotonic()
    subprocess.run(
        [*git, "bisect", "start", "--first-parent", line[-1], line[0]],
        check=True,
        capture_output=True,
    )
    proc = subprocess.run(
        [
            *git,
            "bisect",
            "run",
            sys.executable,
            str(script),
            str(threshold_s),
            str(samples),
            str(log),
            f"plain-{NAME}",
        ],
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - t0
    subprocess.run([*git, "bisect", "reset"], capture_output=True)
    found = re.search(r"^([0-9a-f]{40}) is the first bad commit", proc.stdout, re.M)
    probes = log.read_text().count("\n") if log.exists() else 0
    out = subprocess.run(
        ["docker", "images", "-q", f"plain-{NAME}"], capture_output=True, text=True
    ).stdout.split()
    if out:
        subprocess.run(["docker", "rmi", "-f", *out], capture_output=True)
    return {
        "named": found.group(1) if found else None,
        "status": "found" if found else "not_found",
        "probes": probes,
        "samples": probes * (samples + 1),
        "wall_s": round(wall, 1),
        "threshold_ms": round(threshold_s * 1000, 1),
    }


def _outcome(named: str | None, truth: str) -> str:
    return "not_found" if named is None else ("right" if named == truth else "wrong")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sigma", type=float, default=0.35)
    ap.add_argument("--shift", type=float, default=0.30)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--commits", type=int, default=32)
    ap.add_argument("--delay", type=float, default=0.2, help="good request time, seconds")
    ap.add_argument("--plain-samples", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--load", type=int, default=0, help="busy processes during the runs")
    ap.add_argument("--verbose", action="store_true", help="the harness's progress to stderr")
    ap.add_argument("--only", choices=("both", "harness", "plain"), default="both")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    busy = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(args.load)]
    for p in busy:
        p.start()
    rows: list[dict[str, Any]] = []
    try:
        for r in range(args.runs):
            culprit = rng.randrange(1, args.commits)
            tmp = Path(tempfile.mkdtemp(prefix="noisy-zoo-"))
            try:
                repo, line = make_history(
                    tmp,
                    commits=args.commits,
                    delay=args.delay,
                    sigma=args.sigma,
                    shift=args.shift,
                    culprit=culprit,
                    name=NAME,
                )
                row: dict[str, Any] = {"run": r, "culprit": culprit}
                tools = ("harness", "plain") if args.only == "both" else (args.only,)
                for tool in tools:
                    if tool == "harness":
                        got = run_harness(repo, line, tmp / "results", args.verbose)
                    else:
                        got = run_plain(repo, line, tmp, args.plain_samples)
                    got["outcome"] = _outcome(got["named"], line[culprit])
                    got["named"] = line.index(got["named"]) if got["named"] else None
                    row[tool] = got
                rows.append(row)
                print(json.dumps(row), flush=True)
            finally:
                remove_images(f"harness-test/{NAME}")
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        for p in busy:
            p.kill()
    print_table(rows, args)


def print_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\nsigma {args.sigma}, shift +{args.shift:.0%}, {len(rows)} runs, {args.commits} "
        f"commits, delay {args.delay * 1000:.0f} ms, load {args.load}, seed {args.seed}\n"
    )
    print(
        "| tool | right | wrong | not found | median probes | median samples | "
        "median wall s | wall s per run |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for tool in ("harness", "plain"):
        got = [row[tool] for row in rows if tool in row]
        if not got:
            continue
        count = {k: sum(g["outcome"] == k for g in got) for k in ("right", "wrong", "not_found")}
        print(
            f"| {tool} | {count['right']} | {count['wrong']} | {count['not_found']} | "
            f"{statistics.median(g['probes'] for g in got):g} | "
            f"{statistics.median(g['samples'] for g in got):g} | "
            f"{statistics.median(g['wall_s'] for g in got):g} | "
            f"{' '.join(str(g['wall_s']) for g in got)} |"
        )
    both = [row for row in rows if "harness" in row and "plain" in row]
    if both:
        ratio = statistics.median(r["harness"]["wall_s"] for r in both) / max(
            statistics.median(r["plain"]["wall_s"] for r in both), 1e-9
        )
        print(f"\nmedian wall, harness / plain: {ratio:.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    with sigterm_unwinds():  # a stopped benchmark removes its containers and images
        main()
