"""`harness measure [REV]`: build, run and time one commit; print a table or an export format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands.common import (
    ConfigOpt,
    FormatOpt,
    RepoOpt,
    SamplesOpt,
    TrustOpt,
    command_config,
    handle_errors,
    out,
    output_format,
    progress,
)
from harness.errors import HarnessError
from harness.formats import render_result
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
        as_json: Annotated[bool, typer.Option("--json", help="= --format json")] = False,
        fmt: FormatOpt = None,
        samples: SamplesOpt = None,
        force: Annotated[bool, typer.Option("--force", help="measure even if stored")] = False,
    ) -> None:
        """Measure REV: image size and layers, start-up, first and warm /runsync latency."""
        chosen = output_format(fmt, json=as_json)
        cfg = command_config(config, repo, trust_repo_config)
        r = Repo(repo)
        try:
            with progress() as say:
                result = measure_commit(r, rev, cfg, samples=samples, force=force, progress=say)
        except HarnessError as exc:
            if chosen is not None and exc.partial is not None:
                print(render_result(exc.partial, chosen), end="")
            raise
        if chosen is not None:
            print(render_result(result, chosen), end="")
        else:
            out.print(result_table(result))
            if result.startup.phase_times:
                out.print(phases_table(result))
            out.print(layers_table(result))
