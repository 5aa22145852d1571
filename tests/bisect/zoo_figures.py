"""Figures for docs/bisect.md: bisect a 32-commit zoo per check (real Docker), and repeat the
latency bisect with fresh verdicts to see how often it names the right commit.

    PYTHONPATH=. .venv/bin/python -m tests.bisect.zoo_figures [--commits 32] [--repeats 5]

Each check starts with no zoo images (so `built` counts real builds) and an empty verdict cache.
Prints one JSON line per run and a Markdown table at the end. Removes its images when done.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from harness.bisect import run_bisect
from harness.gitrepo import Repo
from harness.judgement import Options
from tests.synthetic import harness_config, remove_images
from tests.zoo import make_zoo


def startup_end(zoo) -> int:
    """A bad end past the import error whose first interior probe is the unbuildable commit."""
    broken = zoo.position("build")
    return max(b for b in range(len(zoo.line)) if 1 + (b - 1) // 2 == broken)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--checks", default="build,startup,size,latency,cold,all")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="zoo-figures-"))
    rows = []
    try:
        zoo = make_zoo(tmp, commits=args.commits)
        repo = Repo(zoo.repo.path)
        ranges = {
            "build": (zoo.line[zoo.position("build")], ("build",)),
            "startup": (zoo.line[startup_end(zoo)], ("startup",)),
            "size": (zoo.before_startup, ("size",)),
            "latency": (zoo.before_startup, ("latency",)),
            "cold": (zoo.before_startup, ("cold",)),
            "all": (zoo.before_startup, ("build", "startup", "size", "latency", "cold")),
        }
        plan = [(c, False) for c in args.checks.split(",")]
        plan += [("latency", True)] * (args.repeats if "latency" in args.checks else 0)
        for n, (name, repeat) in enumerate(plan):
            if not repeat:
                remove_images("harness-test/zoo")  # cold builds for this check
            results = tmp / f"results-{n}"
            cfg = harness_config(zoo.repo, results_dir=results)
            bad, checks = ranges[name]
            t0 = time.monotonic()
            run = run_bisect(repo, zoo.good, bad, cfg, checks=checks, options=Options(force=True))
            wall = time.monotonic() - t0
            named = {r.check: r.first_bad for r in run.checks if r.status == "found"}
            expected = {c: zoo.culprits[c] for c in checks if zoo.culprits[c] in run.commits[1:]}
            # The range may hold a culprit whose metric the bad end no longer shows (build).
            expected = {c: s for c, s in expected.items() if c != "build" or name == "build"}
            row = {
                "run": f"{name}{' (repeat)' if repeat else ''}",
                "commits": len(run.commits),
                "probes": sum(len(r.probes) for r in run.checks),
                "skips": sum(1 for r in run.checks for p in r.probes if str(p.verdict) == "skip"),
                "built": len(run.built),
                "measured": len(run.measured),
                "wall_s": round(wall, 1),
                "right": named == expected,
                "named": {c: zoo.line.index(s) for c, s in named.items()},
                "expected": {c: zoo.line.index(s) for c, s in expected.items()},
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        remove_images("harness-test/zoo")
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n| run | commits | probes | skips | images built | commits measured | wall s | right |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['run']} | {r['commits']} | {r['probes']} | {r['skips']} | {r['built']} | "
            f"{r['measured']} | {r['wall_s']} | {'yes' if r['right'] else 'NO'} |"
        )


if __name__ == "__main__":
    main()
