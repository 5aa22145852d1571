"""`harness compare A B`: is B worse than A? A and B are revisions or baseline names.

Reports (Markdown, JSON, one HTML page) go to results/compare-<A12>-<B12>.*."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from harness.abtest import run_abtest
from harness.commands.common import (
    ConfigOpt,
    EngineOpt,
    FormatOpt,
    RepoOpt,
    SamplesOpt,
    TrustOpt,
    command_config,
    command_engines,
    err,
    handle_errors,
    out,
    output_format,
    progress,
)
from harness.compare_report import write_compare_reports
from harness.config import load_config
from harness.errors import HarnessError
from harness.formats import render_scorecard
from harness.gitrepo import Repo
from harness.report import scorecard_table


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def compare(
        a: Annotated[str, typer.Argument(help="baseline: a revision or a baseline name")],
        b: Annotated[str, typer.Argument(help="candidate: a revision or a baseline name")],
        repo: RepoOpt = Path("."),
        config: ConfigOpt = None,
        trust_repo_config: TrustOpt = False,
        samples: SamplesOpt = None,
        markdown: Annotated[bool, typer.Option("--markdown", help="= --format markdown")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="= --format json")] = False,
        fmt: FormatOpt = None,
        engine: EngineOpt = None,
        config_b: Annotated[
            Path | None,
            typer.Option(
                "--config-b",
                help="build and run B with this config instead (e.g. the same commit with "
                "another Dockerfile: harness.baked.toml); its build.tag_prefix must differ",
            ),
        ] = None,
        cold_volume: Annotated[
            bool,
            typer.Option(
                "--cold-volume",
                help="also each side's first-ever start on a fresh, empty volume (A, then B)",
            ),
        ] = False,
    ) -> None:
        """Compare B against A; exit code 3 when anything is worse or a hard limit is crossed."""
        chosen = output_format(fmt, json=as_json, markdown=markdown)
        cfg = command_config(config, repo, trust_repo_config, engine)
        cfg_b = load_config(config_b) if config_b is not None else None
        target = command_engines(cfg, engine)[0]
        with progress() as say:
            card = run_abtest(
                Repo(repo),
                a,
                b,
                cfg,
                samples=samples,
                progress=say,
                engine=target,
                config_b=cfg_b,
                cold_volume=cold_volume,
            )
        line = f"harness compare {shlex.quote(a)} {shlex.quote(b)} --repo {shlex.quote(str(repo))}"
        if config_b is not None:
            line += f" --config-b {shlex.quote(str(config_b))}"
        reproduce = [line + (" --cold-volume" if cold_volume else "")]
        paths = write_compare_reports(card, cfg.path(cfg.measure.results_dir), reproduce=reproduce)
        if chosen is not None:
            print(render_scorecard(card, chosen), end="")
        else:
            out.print(scorecard_table(card))
        err.print(f"reports: {', '.join(str(p) for p in paths.values())}", soft_wrap=True)
        if card.worse:
            bad = ", ".join(r.metric for r in card.rows if r.verdict == "worse")
            raise HarnessError(
                f"{b} is worse than {a}: {bad}",
                "regression",
                "see the table; fix the regression or record a new baseline",
            )
