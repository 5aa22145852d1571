"""`harness bases [--range A..B] [--make] [--json]`: every FROM across a range and where it comes
from (local / mapped / pullable / stand-in / missing). Exit 6 (build) while any base is missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.bases import survey, survey_commits
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
from harness.dockercli import engine
from harness.errors import EXIT_CODES
from harness.gitrepo import Repo

_STYLE = {
    "local": "green",
    "pullable": "green",
    "mapped": "cyan",
    "stand-in": "yellow",
    "missing": "bold red",
}


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def bases(
        range_: Annotated[
            str | None,
            typer.Option(
                "--range", help="A..B: A and each first-parent commit after it (default: HEAD)"
            ),
        ] = None,
        make: Annotated[
            bool, typer.Option("--make", help="make the stand-ins that are not made yet")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
        repo: RepoOpt = Path("."),
        config: ConfigOpt = None,
        trust_repo_config: TrustOpt = False,
    ) -> None:
        """List the base images the Dockerfile names across commits, and what builds use."""
        cfg = command_config(config, repo, trust_repo_config)
        r = Repo(repo)
        shas = survey_commits(r, range_)
        with progress(not as_json) as say:
            rows, no_dockerfile = survey(engine(), r, shas, cfg, make=make, progress=say)
        missing = [row for row in rows if row.status.status == "missing"]
        if as_json:
            doc = {
                "dockerfile": cfg.build.dockerfile,
                "stand_ins": cfg.build.stand_ins,
                "commits": len(shas),
                "bases": [
                    {
                        **row.status.as_dict(),
                        "commits": len(row.commits),
                        "first": row.commits[0],
                        "last": row.commits[-1],
                    }
                    for row in rows
                ],
                "no_dockerfile": no_dockerfile,
            }
            print(json.dumps(doc, indent=2))
        else:
            table = Table(title=f"bases of {cfg.build.dockerfile} in {len(shas)} commit(s)")
            for col in ("base (FROM)", "status", "builds from", "commits", "note"):
                table.add_column(col, overflow="fold")
            for row in rows:
                st = row.status
                span = row.commits[0][:8]
                if len(row.commits) > 1:
                    span += f"..{row.commits[-1][:8]}"
                note = st.detail
                if st.status == "stand-in":
                    note = ("made" if st.made else "made at first use") + f"; {note}"
                if st.warnings:
                    note += f"; {len(st.warnings)} warning(s) below"
                table.add_row(
                    st.ref,
                    f"[{_STYLE.get(st.status, '')}]{st.status}[/]",
                    st.image or "-",
                    f"{len(row.commits)} ({span})",
                    note,
                )
            out.print(table)
            for row in rows:
                for warning in row.status.warnings:
                    out.print(f"warning: {warning}", markup=False, highlight=False)
            if no_dockerfile:
                err.print(
                    f"{len(no_dockerfile)} commit(s) have no {cfg.build.dockerfile} (another"
                    " name? set build.dockerfile in harness.toml)",
                    markup=False,
                )
        if missing:
            if not as_json:
                err.print(
                    f"{len(missing)} base(s) missing: map them in build.base_images, or make them"
                    " available to the engine",
                    markup=False,
                )
            raise typer.Exit(EXIT_CODES["build"])
