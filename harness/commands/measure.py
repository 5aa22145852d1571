"""`harness measure [REV]`: build, run and time one commit; print a table or an export format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.coldstart import cold_line
from harness.commands.common import (
    ConfigOpt,
    EngineOpt,
    FormatOpt,
    RepoOpt,
    SamplesOpt,
    TrustOpt,
    command_config,
    command_engines,
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
from harness.soak import render_table
from harness.soakrun import soak_commit


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
        soak: Annotated[
            int,
            typer.Option(
                "--soak",
                min=0,
                help="instead: N requests of the soak mix; memory and warm latency over time "
                "(table, JSON record and chart in <results_dir>/soak/)",
            ),
        ] = 0,
        cold_volume: Annotated[
            bool,
            typer.Option(
                "--cold-volume",
                help="also one start on a fresh, empty volume first (the first-ever start; its "
                "install time apart), recorded as cold_start; gated by limits.cold_ready_hard_s",
            ),
        ] = False,
        engine: EngineOpt = None,
    ) -> None:
        """Measure REV: image size and layers, start-up, first and warm /runsync latency."""
        chosen = output_format(fmt, json=as_json)
        cfg = command_config(config, repo, trust_repo_config, engine)
        target = command_engines(cfg, engine)[0]
        r = Repo(repo)
        if soak:
            with progress() as say:
                _, rec, path = soak_commit(r, rev, cfg, soak, progress=say, engine=target)
            out.print(render_table(rec["summary"]))
            out.print(f"record {path}, chart {path.with_suffix('.png')}")
            return
        try:
            with progress() as say:
                result = measure_commit(
                    r,
                    rev,
                    cfg,
                    samples=samples,
                    force=force,
                    progress=say,
                    cold_volume=cold_volume,
                    engine=target,
                )
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
            if result.cold_start is not None:
                out.print(cold_line(result.cold_start))
            out.print(layers_table(result))
