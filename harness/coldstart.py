"""`harness measure --cold-volume`: one start on a fresh, empty volume (the first-ever start).

The mount whose target is the worker's volume (run.env WORKER_VOLUME, else /runpod-volume) is
swapped for a new empty folder next to it for that one start; the install time comes from the
worker's own `venv` lines (`step: installed, seconds`), so it is told apart from the rest of the
start. The folder is removed afterwards. No retry: a second try would not start cold.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from harness.config import Config
from harness.container import start_worker
from harness.engines import LOCAL, Engine
from harness.errors import HarnessError
from harness.progress import Progress, quiet
from harness.results import ColdStartRecord

DEFAULT_VOLUME = "/runpod-volume"


def volume_target(config: Config) -> str:
    return config.run.env.get("WORKER_VOLUME", DEFAULT_VOLUME)


def cold_config(config: Config, fresh: Path) -> Config:
    """`config` with the volume's mount pointing at `fresh`."""
    target = volume_target(config)
    mounts = list(config.run.mounts)
    i = next((i for i, m in enumerate(mounts) if m.target == target), None)
    if i is None:
        raise HarnessError(
            f"no [[run.mounts]] entry has target {target} (the worker's volume)",
            "config",
            "mount the volume in harness.toml, or set run.env WORKER_VOLUME to its target",
        )
    mounts[i] = mounts[i].model_copy(update={"source": str(fresh), "read_only": False})
    run = config.run.model_copy(update={"mounts": mounts})
    return config.model_copy(update={"run": run})


def install_seconds(records: list[dict[str, Any]]) -> float | None:
    """The install's seconds from the worker's `venv installed` line (None: nothing built)."""
    for r in records:
        if r.get("phase") == "venv" and r.get("step") == "installed":
            seconds = r.get("seconds")
            return float(seconds) if isinstance(seconds, int | float) else None
    return None


def venv_seconds(rows: list[dict[str, Any]]) -> float | None:
    """The venv phase on Docker's clock: the `volume ok` line to the `venv ok` line."""
    at = {(r["phase"], r["status"]): r.get("at_s") for r in rows}
    start, end = at.get(("volume", "ok")), at.get(("venv", "ok"))
    return round(end - start, 3) if start is not None and end is not None else None


def measure_cold(
    tag: str, config: Config, progress: Progress = quiet, *, engine: Engine = LOCAL
) -> ColdStartRecord:
    """Start `tag` once on a fresh, empty volume and wait until ready (or it fails)."""
    target = volume_target(config)
    current = next((m for m in config.run.mounts if m.target == target), None)
    parent = config.path(current.source).parent if current else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix="cold-volume-", dir=parent))
    try:
        cold = cold_config(config, fresh)
        progress(f"cold start of {tag} on an empty volume {fresh}")
        with start_worker(tag, cold, wait=False, progress=progress, engine=engine) as worker:
            worker.wait_ready(cold.run.ready_timeout_s)
            ph = worker.phases
            rec = ColdStartRecord(
                ok=worker.ready,
                exit_code=worker.exit_code,
                phase=worker.phase,
                ready_s=round(worker.ready_s, 3) if worker.ready_s is not None else None,
                worker_ready_s=ph.ready_s,
                install_s=install_seconds(ph.records),
                venv_s=venv_seconds(worker.phase_times),
                phase_times=worker.phase_times,
            )
            if not worker.ready:
                rec.error = ph.cause or ("timed out" if worker.timed_out else "never ready")
        return rec
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
        if fresh.exists():
            progress(f"could not remove {fresh} (files made in the container); remove it by hand")


def cold_line(rec: ColdStartRecord) -> str:
    """One line for the table output."""
    if not rec.ok:
        return f"cold start (empty volume): FAILED in {rec.phase} (exit {rec.exit_code}): " + str(
            rec.error
        )
    venv = f"the venv phase {rec.venv_s if rec.venv_s is not None else '?'} s"
    if rec.install_s is None:  # e.g. a baked image: its venv came with it
        return f"cold start (empty volume): ready in {rec.ready_s:.1f} s, nothing installed, {venv}"
    return (
        f"cold start (empty volume): ready in {rec.ready_s:.1f} s, of which the install "
        f"{rec.install_s} s and {venv}"
    )
