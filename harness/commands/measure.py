"""`harness measure [REV]`: build, run and time one commit; print a table or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands.common import (
    ConfigOpt,
    RepoOpt,
    SamplesOpt,
    TrustOpt,
    command_config,
    handle_errors,
    out,
    progress,
)
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.measure import measure_commit
from harness.report import layers_table, phases_table, result_table


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def measure(
        rev: Annotated[str, typer.Argument(help="commit, tag or branch")] = "HEAD",
        repo: RepoOpt = Path("."),
        config: ConfigOpt = None,
        trust_repo_config: TrustOpt = False,
        as_json: Annotated[bool, typer.Option("--json", help="print the result record")] = False,
        samples: SamplesOpt = None,
        force: Annotated[bool, typer.Option("--force", help="measure even if stored")] = False,
    ) -> None:
        """Measure REV: image size and layers, start-up, first and warm /runsync latency."""
        cfg = command_config(config, repo, trust_repo_config)
        r = Repo(repo)
        try:
            with progress() as say:
                result = measure_commit(r, rev, cfg, samples=samples, force=force, progress=say)
        except HarnessError as exc:
            if as_json and exc.partial is not None:
                print(exc.partial.to_json())
            raise
        if as_json:
            print(result.to_json())
        else:
            out.print(result_table(result))
            if result.startup.phase_times:
                out.print(phases_table(result))
            out.print(layers_table(result))
