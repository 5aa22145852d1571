"""Shared CLI plumbing: options, the one `--config` default, the error wrapper, progress."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from harness.config import Config, load_config
from harness.container import remove_session_containers
from harness.engines import Engine, engines_from_config, select
from harness.errors import HarnessError
from harness.formats import FORMATS
from harness.gpus import require_gpu_runtime
from harness.interrupts import Terminated, sigterm_unwinds
from harness.progress import Progress

out = Console()
err = Console(stderr=True)

RepoOpt = Annotated[
    Path, typer.Option("--repo", help="git repository of the worker (default: current folder)")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="harness.toml (default: ./harness.toml if present, else the defaults)"
    ),
]
TrustOpt = Annotated[
    bool,
    typer.Option(
        "--trust-repo-config",
        help="use the harness.toml inside --repo (it can act on this host: docs/harness.md)",
    ),
]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="run on the engine of this name in harness.toml's engines list (default: the "
        "first; none configured: the local engine)",
    ),
]
CONFIG_FILE = "harness.toml"
SamplesOpt = Annotated[
    int | None, typer.Option("--samples", min=1, help="warm requests (default: config, 10)")
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="json | github-action-benchmark | bmf | markdown (default: a table; docs/harness.md)",
    ),
]


def output_format(fmt: str | None, **aliases: bool) -> str | None:
    """The chosen export format: `--format`, or the one an alias flag (`json=True`) names;
    None for the table. Two different choices, or an unknown name, are a usage error."""
    chosen = {name for name, on in aliases.items() if on}
    if fmt is not None:
        if fmt not in FORMATS:
            raise typer.BadParameter(
                f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format"
            )
        chosen.add(fmt)
    if len(chosen) > 1:
        raise typer.BadParameter(f"choose one output format, not {' and '.join(sorted(chosen))}")
    return chosen.pop() if chosen else None


def command_engines(cfg: Config, name: str | None) -> list[Engine]:
    """The engines a command runs on: `--engine NAME` (an unknown name: HarnessError(config)
    listing the configured ones), else every configured engine (none configured: the local)."""
    return select(engines_from_config(cfg), name)


def command_config(
    config: Path | None, repo: Path, trust_repo_config: bool = False, engine: str | None = None
) -> Config:
    """The config of every command: `--config`, else (with `--trust-repo-config`) the
    harness.toml of the repository under test, else ./harness.toml, else the defaults.

    The repository's own file only when asked for: a config chooses the docker CLI, host
    mounts, secrets, network and environment, so a repository named with --repo (perhaps
    someone else's) does not get to choose them. When that repository has its own harness.toml
    and it is not the one in use, say so on stderr and how to use it.
    """
    own = Path(repo).expanduser().resolve() / CONFIG_FILE
    if config is None and trust_repo_config:
        if not own.is_file():
            raise HarnessError(
                f"--trust-repo-config: no harness.toml in {own.parent}",
                "config",
                "drop --trust-repo-config, or pass --config PATH",
            )
        config = own
    cfg = load_config(config)
    chosen = command_engines(cfg, engine)  # an unknown --engine fails before anything runs
    if cfg.run.gpus is not None:  # before any build: an engine that cannot give GPUs refuses
        for target in chosen:
            require_gpu_runtime(cfg.run.gpus, target.client().info())
    used = Path(config).resolve() if config is not None else Path.cwd().resolve() / CONFIG_FILE
    if own.is_file() and own != used:
        err.print(
            f"harness: note: {own} is not used (pass --config {own} or --trust-repo-config to"
            " use it; a config can act on this host, see docs/harness.md)",
            markup=False,
            highlight=False,
            style="dim",
        )
    return cfg


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a HarnessError into one line on stderr and its exit code; SIGTERM and Ctrl-C
    unwind (see `stoppable`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with stoppable():
                return fn(*args, **kwargs)
        except HarnessError as exc:
            err.print(exc.one_line(), markup=False, highlight=False, soft_wrap=True)
            if exc.partial is not None and getattr(exc.partial, "commit", None) is not None:
                err.print(f"partial result for {exc.partial.commit.sha[:12]} stored", style="dim")
            raise typer.Exit(exc.exit_code) from None

    return wrapper


@contextlib.contextmanager
def stoppable() -> Iterator[None]:
    """Run a command so that Ctrl-C and SIGTERM remove its containers and builds on the way out
    (every `finally` runs; containers this process labelled are removed as a last resort), then
    exit 128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM."""
    with sigterm_unwinds():
        try:
            yield
        except KeyboardInterrupt as exc:
            left = remove_session_containers()
            what = "SIGTERM" if isinstance(exc, Terminated) else "interrupted"
            err.print(
                f"harness: stopped ({what}); its containers are removed"
                + (f" ({left} found by label)" if left else ""),
                markup=False,
                highlight=False,
            )
            raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None


@contextlib.contextmanager
def progress(enabled: bool = True) -> Iterator[Progress]:
    """A rich status line on stderr; yields the callback measure/build call with each step
    (and with each phase line of a starting worker). Not a terminal (CI logs): one plain
    `harness: ...` line a step, never wrapped."""
    if not enabled or not err.is_terminal:

        def plain(text: str) -> None:
            if enabled:
                err.print(
                    f"harness: {text}", highlight=False, markup=False, style="dim", soft_wrap=True
                )

        yield plain
        return
    with err.status("harness") as status:
        yield lambda text: status.update(f"harness: {escape(text[:120])}")
