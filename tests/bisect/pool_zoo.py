"""Benchmark: bisect 32-commit zoo histories on one engine and on two (the local engine and a
second dockerd on this machine), and compare rounds, wall time and culprits.

    PYTHONPATH=. .venv/bin/python -m tests.bisect.pool_zoo [--engines 1,2] [--runs 2]

Each run makes a fresh zoo (tests/zoo.py) and bisects it once per exact check (build up to the
unbuildable commit, startup and size over the whole line) with each engine count, every time
with no zoo images on either engine (BuildKit's layer cache stays) and fresh verdicts. Prints
one JSON line per bisect and a Markdown table. Needs root (it starts the second dockerd);
removes its images and the second engine when done.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.bisect import run_bisect
from harness.engines import LOCAL
from harness.gitrepo import Repo
from harness.judgement import Options
from harness.ksection import round_bound
from tests.engines.dockerd2 import SecondDockerd
from tests.synthetic import RUNPOD_BASE, harness_config, remove_images
from tests.zoo import Zoo, make_zoo

CHECKS = ("build", "startup", "size")


def _ranges(zoo: Zoo) -> dict[str, str]:
    """check -> the bad end its bisect uses (the good end is the zoo's first commit); the build
    check ends at the unbuildable commit (the next one fixes it), the others span the line."""
    return {"build": zoo.culprits["build"], "startup": zoo.bad, "size": zoo.bad}


def _clean(name: str, second: SecondDockerd | None) -> None:
    remove_images(f"harness-test/{name}")
    if second is None:
        return
    with contextlib.closing(second.client()) as client:
        for image in client.images.list():
            if any(t.startswith(f"harness-test/{name}:") for t in image.tags):
                client.images.remove(image.id, force=True)


def bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    counts = [int(c) for c in args.engines.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="pool-zoo-"))
    second = SecondDockerd("bench") if max(counts) > 1 else None
    rows: list[dict[str, Any]] = []
    try:
        if second is not None:
            second.start()
            second.load_from_local(RUNPOD_BASE)
        for run_no in range(args.runs):
            name = f"poolbench{run_no}"
            zoo = make_zoo(tmp / f"run{run_no}", commits=args.commits, name=name)
            named_by_one: dict[str, str | None] = {}
            for count in counts:
                engines = (LOCAL,) if second is None or count == 1 else (LOCAL, second.engine)
                for check, bad in _ranges(zoo).items():
                    _clean(name, second)
                    cfg = harness_config(zoo.repo, results_dir=tmp / f"results-{run_no}-{count}")
                    options = Options(engines=engines, force=True)
                    t0 = time.monotonic()
                    run = run_bisect(
                        Repo(zoo.repo.path), zoo.good, bad, cfg, checks=(check,), options=options
                    )
                    wall = time.monotonic() - t0
                    (result,) = run.checks
                    if count == counts[0]:
                        named_by_one[check] = result.first_bad
                    skips = sum(1 for p in result.probes if p.verdict == "skip")
                    row = {
                        "run": run_no,
                        "engines": count,
                        "check": check,
                        "commits": len(run.commits),
                        "rounds": result.rounds,
                        "round_bound": round_bound(len(run.commits), count, skips),
                        "probes": len(result.probes),
                        "skips": skips,
                        "wall_s": round(wall, 1),
                        "culprit": run.commits.index(result.first_bad)
                        if result.first_bad
                        else None,
                        "right": result.first_bad == zoo.culprits[check],
                        "same_as_first": result.first_bad == named_by_one[check],
                        "dropped": run.engines["dropped"],
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
            _clean(name, second)
    finally:
        if second is not None:
            second.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| run | engines | check | commits | rounds (bound) | probes | skips | wall s | culprit "
        "| right | same as first engine count |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['run']} | {r['engines']} | {r['check']} | {r['commits']} | {r['rounds']} "
            f"(<= {r['round_bound']}) | {r['probes']} | {r['skips']} | {r['wall_s']} | "
            f"#{r['culprit']} | {'yes' if r['right'] else 'NO'} | "
            f"{'yes' if r['same_as_first'] else 'NO'} |"
        )
    totals = {}
    for count in sorted({r["engines"] for r in rows}):
        mine = [r for r in rows if r["engines"] == count]
        totals[count] = (sum(r["rounds"] for r in mine), sum(r["wall_s"] for r in mine))
    out.append("")
    out += [f"- {c} engine(s): {rd} rounds, {w:.0f} s in all" for c, (rd, w) in totals.items()]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engines", default="1,2", help="engine counts to compare: 1, 2 or 1,2")
    ap.add_argument("--runs", type=int, default=2, help="fresh zoo histories")
    ap.add_argument("--commits", type=int, default=32)
    args = ap.parse_args()
    print(table(bench(args)))


if __name__ == "__main__":
    main()
