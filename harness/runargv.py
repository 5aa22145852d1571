"""Pure: what a worker container runs, from the image's ENTRYPOINT/CMD and the run config.

Docker replaces an image's CMD with whatever arguments `docker run` gets. An image with an
ENTRYPOINT (the reference worker) takes `run.args` as its arguments; an image with only a CMD
(`CMD ["python", "handler.py"]`, common in worker repositories) would lose its program, so there
`run.args` are appended to the CMD. `run.command` replaces ENTRYPOINT and CMD both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ContainerArgv:
    entrypoint: list[str] | None  # None: keep the image's ENTRYPOINT
    command: list[str]  # what `docker run` is given after the image
    argv: list[str]  # what the container runs, whole (recorded in the result)


def container_argv(
    image_entrypoint: Sequence[str] | None,
    image_cmd: Sequence[str] | None,
    args: Sequence[str],
    command: Sequence[str] | None = None,
) -> ContainerArgv:
    """The override to pass to Docker and the argv that results from it."""
    if command:
        return ContainerArgv([command[0]], list(command[1:]), list(command))
    entrypoint = list(image_entrypoint or [])
    if entrypoint:
        return ContainerArgv(None, list(args), entrypoint + list(args))
    whole = list(image_cmd or []) + list(args)
    return ContainerArgv(None, whole, whole)
