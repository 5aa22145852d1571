"""The build context of one commit on disk: exported, its Dockerfile rewritten, never the host.

A commit is untrusted input: its tree may hold links to host files. The export (gitrepo) refuses
links that leave the tree; here the Dockerfile and the context folder are refused when any part
of their path is a link or leaves the export, and the rewritten Dockerfile is written as a new
file (the committed entry unlinked, the new one created with O_EXCL | O_NOFOLLOW), so nothing is
ever written through a link.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from harness.config import Config
from harness.errors import HarnessError
from harness.gitrepo import Repo

LINK_HINT = "the harness builds no Dockerfile or context reached through a symlink (it could "
LINK_HINT += "point at a host file); commit the real file or folder"


def relative_parts(value: str, key: str) -> tuple[str, ...]:
    """`value` (a path in the repository) as parts; absolute or `..` paths are config errors."""
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise HarnessError(
            f"{key} = {value!r} leaves the repository",
            "config",
            f"set {key} in harness.toml to a path inside the repository",
        )
    return tuple(p for p in path.parts if p not in ("", "."))


def refuse_links(repo: Repo, sha: str, config: Config) -> None:
    """Refuse (kind build) a Dockerfile or context that is, or lies under, a committed link."""
    bc = config.build
    for key, value in (("build.dockerfile", bc.dockerfile), ("build.context", bc.context)):
        link = repo.symlink_on_path(sha, relative_parts(value, key))
        if link is not None:
            raise HarnessError(
                f"{key} {value!r} at {sha[:12]} goes through the symlink {link!r}",
                "build",
                LINK_HINT,
            )


def _checked(root: Path, value: str, key: str, sha: str) -> Path:
    """root/value after checking that no part of it is a link and it stays inside root."""
    path = root
    for part in relative_parts(value, key):
        path = path / part
        if path.is_symlink():
            raise HarnessError(
                f"{key} {value!r} at {sha[:12]}: {path.relative_to(root)} is a symlink",
                "build",
                LINK_HINT,
            )
    if not path.resolve().is_relative_to(root.resolve()):
        raise HarnessError(f"{key} {value!r} leaves the export", "build", LINK_HINT)
    return path


def _write_new(path: Path, text: str) -> None:
    """`text` into a new file at `path`: the old entry is removed, never followed."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def prepare_context(
    repo: Repo, sha: str, config: Config, dockerfile_text: str, dest: Path
) -> tuple[Path, Path]:
    """Export commit `sha` into `dest` and write `dockerfile_text` over its Dockerfile.

    Returns (Dockerfile path, context folder), both inside `dest`. A Dockerfile that is not a
    regular file, or a context that is not a folder, at that commit is a build error.
    """
    bc = config.build
    refuse_links(repo, sha, config)
    root = repo.export(sha, dest)
    dockerfile = _checked(root, bc.dockerfile, "build.dockerfile", sha)
    context = _checked(root, bc.context, "build.context", sha)
    if not stat.S_ISREG(dockerfile.lstat().st_mode if dockerfile.exists() else 0):
        raise HarnessError(
            f"build.dockerfile {bc.dockerfile!r} at {sha[:12]} is not a file",
            "build",
            "check build.dockerfile in harness.toml, or pick a commit that has one",
        )
    if not context.is_dir():
        raise HarnessError(
            f"build.context {bc.context!r} at {sha[:12]} is not a folder",
            "build",
            "check build.context in harness.toml",
        )
    _write_new(dockerfile, dockerfile_text)
    return dockerfile, context
