"""`harness build REV`: build (or reuse) the image for one commit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands.common import (
    ConfigOpt,
    RepoOpt,
    TrustOpt,
    command_config,
    err,
    handle_errors,
    out,
    progress,
)
from harness.gitrepo import Repo
from harness.images import build_image
from harness.scorecard import fmt_bytes


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def build(
        rev: Annotated[str, typer.Argument(help="commit, tag or branch")] = "HEAD",
        repo: RepoOpt = Path("."),
        config: ConfigOpt = None,
        trust_repo_config: TrustOpt = False,
    ) -> None:
        """Build the worker image for REV from `git archive` (reused when its cache key matches)."""
        cfg = command_config(config, repo, trust_repo_config)
        r = Repo(repo)
        with progress() as say:
            info = build_image(r, rev, cfg, progress=say)
        how = f"built in {info.build_s:.1f} s" if info.built else "reused (cache key match)"
        out.print(f"{info.tag}  {info.id[:19]}  {fmt_bytes(info.size_bytes)}  {how}")
        for stand in info.stand_ins:
            err.print(f"stand-in: {stand['ref']} -> {stand['image']}", markup=False)
        for warning in info.warnings:
            err.print(f"warning: {warning}", markup=False, highlight=False)
