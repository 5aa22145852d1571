"""`harness bisect --good REV --bad REV`: find the commit that broke build, start-up, size or
latency on the first-parent line, without touching the worktree, index, HEAD or a git bisect."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from harness.bisect import run_bisect
from harness.bisect_report import print_table, write_reports
from harness.commands.common import (
    ConfigOpt,
    TrustOpt,
    command_config,
    command_engines,
    stoppable,
)
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.judgement import ALL_CHECKS, CHECKS, CMD, Options

CHECK_CHOICES = (*ALL_CHECKS, "all")


def parse_checks(value: str, check_cmd: str | None = None) -> tuple[str, ...]:
    """'all' or one check name (or a comma list) -> the checks to bisect, with a clear error.

    'all' includes cmd when a command is given; cmd without a command is an error."""
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    if names == ["all"]:
        return (*CHECKS, CMD) if check_cmd else CHECKS
    if CMD in names and not check_cmd:
        raise typer.BadParameter("the cmd check needs --check-cmd 'CMD'")
    bad = [n for n in names if n not in ALL_CHECKS]
    if bad or not names:
        raise typer.BadParameter(
            f"unknown check {', '.join(bad) or repr(value)}; use one of {', '.join(CHECK_CHOICES)}"
        )
    return tuple(dict.fromkeys(names))


def bisect_command(
    good: Annotated[str, typer.Option("--good", help="a commit where the check passes")],
    bad: Annotated[str, typer.Option("--bad", help="a later commit where it fails")],
    check: Annotated[
        str | None,
        typer.Option(
            help=f"one of {', '.join(CHECK_CHOICES)}, or a comma list (default: cmd with "
            "--check-cmd, else all)"
        ),
    ] = None,
    repo: Annotated[Path, typer.Option(help="the git repository to bisect")] = Path("."),
    config: ConfigOpt = None,
    trust_repo_config: TrustOpt = False,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    threshold: Annotated[float, typer.Option(help="latency: worse by more than this")] = 0.2,
    size_threshold: Annotated[float, typer.Option(help="size: larger by more than this")] = 0.1,
    samples: Annotated[int, typer.Option(help="latency: first batch per side")] = 6,
    max_samples: Annotated[int, typer.Option(help="latency: most samples per side")] = 24,
    cold_floor_s: Annotated[
        float, typer.Option(help="cold: a first request slower by less is not a regression")
    ] = 0.25,
    force: Annotated[bool, typer.Option(help="ignore cached verdicts")] = False,
    confidence: Annotated[
        float, typer.Option(help="latency: name a commit only at this posterior probability")
    ] = 0.95,
    warm_candidates: Annotated[
        int,
        typer.Option(
            help="latency: keep this many candidates' containers running for a revisit "
            "(besides the two ends; 0: a fresh container every visit)"
        ),
    ] = 2,
    check_cmd: Annotated[
        str | None,
        typer.Option(help="cmd: run `sh -c CMD` in each image; 0 good, 125 skip, 1-127 bad"),
    ] = None,
    check_cmd_timeout: Annotated[
        float, typer.Option(help="cmd: seconds before the command is killed (counts as bad)")
    ] = 600.0,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="probe on the engine of this name only (harness.toml's engines list; default: "
            "every configured engine; none configured: the local engine)",
        ),
    ] = None,
) -> None:
    """Bisect GOOD..BAD; exit 0 with a culprit, 20 no regression, 21 undecided, 22 good end bad."""
    checks = parse_checks(check or (CMD if check_cmd else "all"), check_cmd)
    try:
        options = Options(
            threshold=threshold,
            size_threshold=size_threshold,
            samples=samples,
            max_samples=max_samples,
            cold_floor_s=cold_floor_s,
            force=force,
            confidence=confidence,
            warm_candidates=warm_candidates,
            check_cmd=check_cmd,
            check_cmd_timeout_s=check_cmd_timeout,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    err = Console(stderr=True)
    try:
        with stoppable():  # Ctrl-C / SIGTERM: containers removed, exit 130 / 143
            r = Repo(repo)
            cfg = command_config(config, repo, trust_repo_config, engine)
            options = replace(options, engines=tuple(command_engines(cfg, engine)))
            run = run_bisect(r, good, bad, cfg, checks=checks, options=options, progress=err.print)
            paths = write_reports(run, cfg.path(cfg.measure.results_dir))
    except HarnessError as exc:
        typer.echo(exc.one_line(), err=True)
        raise typer.Exit(exc.exit_code) from None
    if json_out:
        data = json.loads(paths["json"].read_text())
        data["reports"] = {k: str(v) for k, v in paths.items()}
        sys.stdout.write(json.dumps(data) + "\n")
    else:
        print_table(run, Console())
        Console().print(f"reports: {', '.join(str(p) for p in paths.values())}")
    raise typer.Exit(run.exit_code)


def register(app: typer.Typer) -> None:
    app.command("bisect")(bisect_command)
