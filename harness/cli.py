"""The `harness` command: one module per command under harness/commands (registration only)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Build, measure, compare and bisect RunPod worker images per git commit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

from harness.commands import baseline  # noqa: E402

baseline.register(app)
from harness.commands import build  # noqa: E402

build.register(app)
from harness.commands import measure  # noqa: E402

measure.register(app)
from harness.commands import compare  # noqa: E402

compare.register(app)

from harness.commands import bisect  # noqa: E402

bisect.register(app)
from harness.commands import check  # noqa: E402

check.register(app)
from harness.commands import bases  # noqa: E402

bases.register(app)

if __name__ == "__main__":
    app()
