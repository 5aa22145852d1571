"""Read-only access to the repository under test, through gitpython.

Nothing here touches the worktree, the index, HEAD or a bisect in progress: commits are read by
object name and exported into a folder the caller owns. History (revisions, the first-parent
range, changed files, file contents, trees) is read with gitpython's object model; the export
is `git archive` (plumbing gitpython has no object API for), unpacked with tarfile.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import git
from git.exc import BadName, BadObject, GitCommandError, InvalidGitRepositoryError, NoSuchPathError
from gitdb.exc import ODBError

from harness.errors import HarnessError

# What gitpython raises for a name that is not a commit (bad syntax, missing, not a commit).
# rev-parse through the CLI fallback exits non-zero (GitCommandError) for the same cases.
_UNRESOLVED = (BadName, BadObject, ODBError, ValueError, IndexError, TypeError, GitCommandError)


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


def _subject(message: str | bytes) -> str:
    """git's %s: the first paragraph of the message, its lines joined with spaces."""
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    first = text.strip("\n").split("\n\n", 1)[0]
    return " ".join(line.strip() for line in first.splitlines() if line.strip())


def _info(commit: git.Commit) -> CommitInfo:
    return CommitInfo(
        sha=commit.hexsha,
        tree=commit.tree.hexsha,
        subject=_subject(commit.message),
        author=f"{commit.author.name} <{commit.author.email}>",
        date=commit.committed_datetime.isoformat(),
        parents=tuple(p.hexsha for p in commit.parents),
    )


class Repo:
    """A git repository at `path` (any folder inside a worktree, or a bare repository)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).resolve()
        if not self.path.is_dir():
            raise HarnessError(
                f"{self.path} is not a folder", "not_a_repo", "pass --repo PATH to a git repository"
            )
        try:
            self._git = git.Repo(self.path, search_parent_directories=True)
        except (InvalidGitRepositoryError, NoSuchPathError):
            raise HarnessError(
                f"{self.path} is not a git repository",
                "not_a_repo",
                "pass --repo PATH to a git repository (or run inside one)",
            ) from None

    @property
    def name(self) -> str:
        """A docker-safe short name for tags: the top folder's name, lower case."""
        top = self._git.working_tree_dir
        raw = Path(top).name if top else self.path.name
        safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in raw.lower()).strip("._-")
        return safe or "repo"

    def _commit(self, rev: str) -> git.Commit:
        if not rev or rev.startswith("-"):
            raise HarnessError(
                f"bad revision {rev!r}", "bad_revision", "pass a commit, tag or branch"
            )
        try:
            found = self._git.rev_parse(f"{rev}^{{commit}}")
        except _UNRESOLVED:
            found = self._rev_parse_cli(rev)
        if not isinstance(found, git.Commit):
            raise HarnessError(
                f"unknown revision {rev!r} in {self.path}",
                "bad_revision",
                "check `git log --oneline` for a commit, tag or branch that exists",
            )
        return found

    def _rev_parse_cli(self, rev: str) -> git.Commit | None:
        """git's own parser, for the revision syntax gitpython's lacks (`:/text`, `@{u}` ...)."""
        try:
            sha = self._git.git.rev_parse("--verify", "--quiet", "--end-of-options", rev).strip()
            return self._git.commit(sha)  # peels a tag; a tree or blob raises: not a commit
        except _UNRESOLVED:
            return None

    def resolve(self, rev: str) -> CommitInfo:
        """Full commit facts for `rev` (branch, tag, sha, HEAD~2 ...)."""
        return _info(self._commit(rev))

    def first_parent_range(self, good: str, bad: str) -> list[str]:
        """Commits after `good` up to `bad` on bad's first-parent line, oldest first."""
        g, b = self._commit(good), self._commit(bad)
        if not self._git.is_ancestor(g, b):
            raise HarnessError(
                f"{good} is not an ancestor of {bad}",
                "bad_revision",
                "pass an older good commit that is on the bad commit's history",
            )
        walk = self._git.iter_commits(f"{g.hexsha}..{b.hexsha}", first_parent=True)
        return [c.hexsha for c in walk][::-1]

    def tree_of(self, sha: str, folder: str = ".") -> str:
        """The git tree id of `folder` at commit `sha` (the build context's content hash)."""
        tree = self._commit(sha).tree
        folder = folder.strip("/")
        if folder in ("", "."):
            return tree.hexsha
        try:
            sub = tree / folder
        except KeyError:
            sub = None
        if not isinstance(sub, git.Tree):
            raise HarnessError(
                f"no folder {folder!r} at {sha[:12]}",
                "build",
                "check build.context in harness.toml",
            )
        return sub.hexsha

    def read_file(self, sha: str, path: str) -> bytes | None:
        """A file's bytes at commit `sha`, or None when it does not exist there."""
        try:
            blob = self._commit(sha).tree / path.strip("/")
        except KeyError:
            return None
        if not isinstance(blob, git.Blob):
            return None
        return blob.data_stream.read()

    def export(self, sha: str, dest: Path) -> Path:
        """Write the tree of `sha` into `dest` (created) with `git archive`; returns `dest`."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        commit = self._commit(sha)
        data = self._git.git.archive("--format=tar", commit.hexsha, stdout_as_string=False)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="tar")
        return dest

    def changed_files(self, sha: str) -> list[str]:
        """Paths changed by `sha` against its first parent (all files for a root commit)."""
        commit = self._commit(sha)
        if not commit.parents:
            return sorted(item.path for item in commit.tree.traverse() if item.type != "tree")
        paths: set[str] = set()
        for diff in commit.parents[0].diff(commit):
            paths.update(p for p in (diff.a_path, diff.b_path) if p)
        return sorted(paths)
