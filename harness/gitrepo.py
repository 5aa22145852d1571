"""Read-only access to the repository under test through the git CLI.

Nothing here touches the worktree, the index, HEAD or a bisect in progress: commits are read by
object name and exported with `git archive` into a folder the caller owns.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    subject: str
    author: str
    date: str  # ISO 8601 committer date
    parents: tuple[str, ...]

    @property
    def short(self) -> str:
        return self.sha[:12]


class Repo:
    """A git repository at `path` (any folder inside a worktree, or a bare repository)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).resolve()
        if not self.path.is_dir():
            raise HarnessError(
                f"{self.path} is not a folder", "not_a_repo", "pass --repo PATH to a git repository"
            )
        proc = self._run("rev-parse", "--git-dir", check=False)
        if proc.returncode != 0:
            raise HarnessError(
                f"{self.path} is not a git repository",
                "not_a_repo",
                "pass --repo PATH to a git repository (or run inside one)",
            )

    @property
    def name(self) -> str:
        """A docker-safe short name for tags: the top folder's name, lower case."""
        top = self._run("rev-parse", "--show-toplevel", check=False).stdout.strip()
        raw = Path(top).name if top else self.path.name
        safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in raw.lower()).strip("._-")
        return safe or "repo"

    def _run(self, *args: str, check: bool = True, binary: bool = False):
        proc = subprocess.run(
            ["git", "-C", str(self.path), *args], capture_output=True, text=not binary
        )
        if check and proc.returncode != 0:
            err = proc.stderr if not binary else proc.stderr.decode(errors="replace")
            raise HarnessError(f"git {' '.join(args)}: {err.strip()}", "bad_revision")
        return proc

    def resolve(self, rev: str) -> CommitInfo:
        """Full commit facts for `rev` (branch, tag, sha, HEAD~2 ...)."""
        if not rev or rev.startswith("-"):
            raise HarnessError(
                f"bad revision {rev!r}", "bad_revision", "pass a commit, tag or branch"
            )
        proc = self._run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if proc.returncode != 0:
            raise HarnessError(
                f"unknown revision {rev!r} in {self.path}",
                "bad_revision",
                "check `git log --oneline` for a commit, tag or branch that exists",
            )
        sha = proc.stdout.strip()
        fmt = "%H%x00%T%x00%s%x00%an <%ae>%x00%cI%x00%P"
        out = self._run("show", "-s", f"--format={fmt}", sha).stdout.rstrip("\n")
        full, tree, subject, author, date, parents = out.split("\x00")
        return CommitInfo(full, tree, subject, author, date, tuple(parents.split()))

    def first_parent_range(self, good: str, bad: str) -> list[str]:
        """Commits after `good` up to `bad` on bad's first-parent line, oldest first."""
        g, b = self.resolve(good).sha, self.resolve(bad).sha
        if self._run("merge-base", "--is-ancestor", g, b, check=False).returncode != 0:
            raise HarnessError(
                f"{good} is not an ancestor of {bad}",
                "bad_revision",
                "pass an older good commit that is on the bad commit's history",
            )
        out = self._run("rev-list", "--first-parent", "--reverse", f"{g}..{b}").stdout
        return out.split()

    def tree_of(self, sha: str, folder: str = ".") -> str:
        """The git tree id of `folder` at commit `sha` (the build context's content hash)."""
        folder = folder.strip("/")
        spec = f"{sha}^{{tree}}" if folder in ("", ".") else f"{sha}:{folder}"
        proc = self._run("rev-parse", "--verify", "--quiet", spec, check=False)
        if proc.returncode != 0:
            raise HarnessError(
                f"no folder {folder!r} at {sha[:12]}",
                "build",
                "check build.context in harness.toml",
            )
        return proc.stdout.strip()

    def read_file(self, sha: str, path: str) -> bytes | None:
        """A file's bytes at commit `sha`, or None when it does not exist there."""
        proc = self._run("show", f"{sha}:{path.lstrip('/')}", check=False, binary=True)
        return proc.stdout if proc.returncode == 0 else None

    def export(self, sha: str, dest: Path) -> Path:
        """Write the tree of `sha` into `dest` (created) with `git archive`; returns `dest`."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        proc = self._run("archive", "--format=tar", sha, binary=True)
        with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
            tar.extractall(dest, filter="tar")
        return dest

    def changed_files(self, sha: str) -> list[str]:
        """Paths changed by `sha` against its first parent (all files for a root commit)."""
        info = self.resolve(sha)
        if info.parents:
            out = self._run(
                "diff", "-z", "--name-only", "--no-renames", info.parents[0], info.sha
            ).stdout
        else:
            out = self._run("ls-tree", "-z", "-r", "--name-only", info.sha).stdout
        return sorted({p for p in out.split("\0") if p})
