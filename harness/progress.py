"""The one progress type: a callback that takes one line of text (commands print it on stderr)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """The progress callback that says nothing (the default everywhere)."""
