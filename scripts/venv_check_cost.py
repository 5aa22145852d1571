"""Boot's two ways to trust a reused venv, timed on the same venv, interleaved.

The old import check (torch, f5_tts, runpod in a subprocess of the venv's Python) against the
manifest check (the sizes of the sample of files `worker.manifest.make` records at seal time).
Usage: PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python scripts/venv_check_cost.py [VENV] [ROUNDS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from worker import manifest
from worker.piprun import import_check
from worker.venvs import DEFAULT_IMPORT_CHECK
from worker.volfs import VolumeFs


def main(venv: Path, rounds: int) -> None:
    fs = VolumeFs(Path("/tmp"))
    listing = manifest.make(venv, fs)  # in memory: nothing is written into the venv
    print(f"manifest: {len(listing['files'])} files, {len(listing['dists'])} distributions")
    for i in range(rounds):
        t = time.perf_counter()
        verdict = import_check(venv / "bin" / "python", DEFAULT_IMPORT_CHECK)
        imports = time.perf_counter() - t
        t = time.perf_counter()
        problem = manifest.problem(venv, fs, listing)
        sizes = time.perf_counter() - t
        print(
            f"round {i + 1}: import check {imports:.2f} s ({verdict.kind}); "
            f"manifest check {sizes * 1000:.0f} ms ({problem or 'ok'})",
            flush=True,
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0] if args else ".venv"), int(args[1]) if len(args) > 1 else 2)
