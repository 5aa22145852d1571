"""`harness baseline record [REV] --name NAME`: store a measured commit as a named baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness import baselines
from harness.commands.common import (
    ConfigOpt,
    EngineOpt,
    RepoOpt,
    SamplesOpt,
    TrustOpt,
    command_config,
    command_engines,
    handle_errors,
    out,
    progress,
)
from harness.config import Config
from harness.gitrepo import Repo
from harness.gpus import device_tag, gpu_inventory
from harness.measure import measure_commit


def default_name(config: Config) -> str:
    """reference-gpu when the config runs workers on GPUs (run.gpus), else reference-cpu."""
    return "reference-gpu" if config.run.gpus is not None else "reference-cpu"


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Named baselines (baselines/<name>.json, committed).")
    app.add_typer(group, name="baseline")

    @group.command("record")
    @handle_errors
    def record(
        rev: Annotated[str, typer.Argument(help="commit, tag or branch")] = "HEAD",
        name: Annotated[
            str | None, typer.Option("--name", help="default: reference-cpu / reference-gpu")
        ] = None,
        repo: RepoOpt = Path("."),
        config: ConfigOpt = None,
        trust_repo_config: TrustOpt = False,
        samples: SamplesOpt = None,
        force: Annotated[bool, typer.Option("--force", help="re-measure even if stored")] = False,
        engine: EngineOpt = None,
    ) -> None:
        """Measure REV (or reuse its stored result) and write baselines/NAME.json."""
        cfg = command_config(config, repo, trust_repo_config, engine)
        target = command_engines(cfg, engine)[0]
        name = baselines.check_name(name or default_name(cfg))
        with progress() as say:
            result = measure_commit(
                Repo(repo), rev, cfg, samples=samples, force=force, progress=say, engine=target
            )
        device = None
        if cfg.run.gpus is not None:
            device = device_tag(cfg.run.gpus, gpu_inventory())
        path = baselines.save(cfg.path(cfg.measure.baselines_dir), name, result, device=device)
        on = f" on {device}" if device else ""
        out.print(f"baseline {name}: {result.commit.sha[:12]}{on} -> {path}")
