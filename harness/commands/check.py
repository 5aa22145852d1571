"""`harness check [REV] --check C [--good REF]`: one verdict with `git bisect run` exit codes.

0 good, 1 bad, 125 skip (cannot be judged), 128 + the harness error code for the harness's own
failures (git aborts a `git bisect run` on those). REV defaults to HEAD, so
`git bisect run harness check --check size --good v1.0` works as is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from harness.bisect import CHECK_EXIT, CHECK_HARNESS_FAILURE, check_commit
from harness.commands.common import (
    ConfigOpt,
    EngineOpt,
    TrustOpt,
    command_config,
    command_engines,
    stoppable,
)
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.judgement import ALL_CHECKS, CMD, Options


def check_command(
    rev: Annotated[str, typer.Argument(help="the commit to judge")] = "HEAD",
    check: Annotated[
        str | None,
        typer.Option(
            help=f"one of {', '.join(ALL_CHECKS)} (default: cmd with --check-cmd, else startup)"
        ),
    ] = None,
    good: Annotated[str | None, typer.Option(help="reference for size/latency/cold")] = None,
    repo: Annotated[Path, typer.Option(help="the git repository")] = Path("."),
    config: ConfigOpt = None,
    trust_repo_config: TrustOpt = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the verdict as JSON")] = False,
    threshold: Annotated[float, typer.Option(help="latency: worse by more than this")] = 0.2,
    size_threshold: Annotated[float, typer.Option(help="size: larger by more than this")] = 0.1,
    force: Annotated[bool, typer.Option(help="ignore a cached verdict")] = False,
    check_cmd: Annotated[
        str | None,
        typer.Option(
            help="cmd: run `sh -c CMD` in the commit's image; 0 good, 125 skip, 1-127 bad"
        ),
    ] = None,
    check_cmd_timeout: Annotated[
        float, typer.Option(help="cmd: seconds before the command is killed (counts as bad)")
    ] = 600.0,
    engine: EngineOpt = None,
) -> None:
    """Judge one commit: exit 0 good, 1 bad, 125 skip, >= 128 harness failure."""
    check = check or (CMD if check_cmd else "startup")
    if check not in ALL_CHECKS:
        typer.echo(f"error: unknown check {check!r}; use one of {', '.join(ALL_CHECKS)}", err=True)
        raise typer.Exit(CHECK_HARNESS_FAILURE)
    try:
        r = Repo(repo)
        cfg = command_config(config, repo, trust_repo_config, engine)
        options = Options(
            threshold=threshold,
            size_threshold=size_threshold,
            force=force,
            check_cmd=check_cmd,
            check_cmd_timeout_s=check_cmd_timeout,
            engines=(command_engines(cfg, engine)[0],),
        )
        with stoppable():  # Ctrl-C / SIGTERM: 130 / 143, which abort a `git bisect run`
            judgement = check_commit(r, rev, check, cfg, good=good, options=options)
    except ValueError as exc:  # bad option values
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(CHECK_HARNESS_FAILURE) from None
    except HarnessError as exc:
        typer.echo(exc.one_line(), err=True)
        raise typer.Exit(CHECK_HARNESS_FAILURE + exc.exit_code) from None
    if json_out:
        sys.stdout.write(json.dumps(judgement.to_json(), default=str) + "\n")
    else:
        line = f"{check} {judgement.sha[:12]}: {judgement.verdict} - {judgement.reason}"
        Console().print(line, markup=False)
    raise typer.Exit(CHECK_EXIT[judgement.verdict])


def register(app: typer.Typer) -> None:
    app.command("check")(check_command)


if __name__ == "__main__":  # `python -m harness.commands.check`, e.g. under `git bisect run`
    _app = typer.Typer(add_completion=False)
    _app.command()(check_command)
    _app()
