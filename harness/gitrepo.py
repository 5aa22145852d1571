"""Read-only access to the repository under test, through gitpython.

Nothing here touches the worktree, the index, HEAD or a bisect in progress: commits are read by
object name and exported into a folder the caller owns. History (revisions, the first-parent
range, changed files, file contents, trees) is read with gitpython's object model; the export
is `git archive` (plumbing gitpython has no object API for), streamed into tarfile's `data`
filter within bounds.
"""

from __future__ import annotations

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


EXPORT_MAX_BYTES = 8 * 1024**3  # file content of one exported tree
EXPORT_MAX_MEMBERS = 500_000  # files, folders and links of one exported tree


class _Budget:
    """tarfile filter for exports: counts members and bytes against the bounds, then applies
    tarfile's `data` filter (no absolute or escaping paths or links, no devices, no setuid)."""

    def __init__(self, sha: str, max_bytes: int, max_members: int) -> None:
        self.sha = sha
        self.max_bytes = max_bytes
        self.max_members = max_members
        self.bytes = 0
        self.members = 0

    def __call__(self, member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        self.members += 1
        self.bytes += max(member.size, 0)
        hint = "the harness exports trees of bounded size; build that commit by hand"
        if self.members > self.max_members:
            raise HarnessError(
                f"the tree of {self.sha[:12]} has more than {self.max_members} files", "build", hint
            )
        if self.bytes > self.max_bytes:
            raise HarnessError(
                f"the tree of {self.sha[:12]} holds more than {self.max_bytes} bytes", "build", hint
            )
        try:
            return tarfile.data_filter(member, dest)
        except tarfile.FilterError as exc:
            target = f" -> {member.linkname}" if member.issym() or member.islnk() else ""
            raise HarnessError(
                f"{member.name}{target} at {self.sha[:12]} is refused: {exc}",
                "build",
                "the harness exports no link that points outside the tree "
                "(a commit must not reach the host)",
            ) from None


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

    def symlink_on_path(self, sha: str, parts: tuple[str, ...]) -> str | None:
        """The first prefix of the path `parts` that is a symlink at `sha` (None: no link)."""
        obj: git.Object = self._commit(sha).tree
        for i, part in enumerate(parts):
            if not isinstance(obj, git.Tree):
                return None
            try:
                obj = obj / part
            except KeyError:
                return None
            if isinstance(obj, git.Blob) and obj.mode == git.Blob.link_mode:
                return "/".join(parts[: i + 1])
        return None

    def read_file(self, sha: str, path: str) -> bytes | None:
        """A file's bytes at commit `sha`, or None when it does not exist there."""
        try:
            blob = self._commit(sha).tree / path.strip("/")
        except KeyError:
            return None
        if not isinstance(blob, git.Blob):
            return None
        return blob.data_stream.read()

    def export(
        self,
        sha: str,
        dest: Path,
        *,
        max_bytes: int = EXPORT_MAX_BYTES,
        max_members: int = EXPORT_MAX_MEMBERS,
    ) -> Path:
        """Write the tree of `sha` into `dest` (created) with `git archive`; returns `dest`.

        The archive is streamed from git (never held whole) and unpacked with tarfile's `data`
        filter, so no member lands outside `dest` and no link points out of it (such a tree is
        refused, kind build, naming the link). More than `max_members` entries or `max_bytes`
        of content is refused before the member that crosses the bound is written.
        """
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        commit = self._commit(sha)
        budget = _Budget(commit.hexsha, max_bytes, max_members)
        handle = self._git.git.archive("--format=tar", commit.hexsha, as_process=True)
        proc = handle.proc
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                tar.extractall(dest, filter=budget)
        except tarfile.TarError as exc:
            raise HarnessError(
                f"could not unpack the tree of {commit.hexsha[:12]} ({exc})",
                "build",
                "check `git archive` on that commit",
            ) from None
        finally:
            if proc.poll() is None:
                proc.kill()  # stopped early (a bound, an error): git need not finish the stream
            proc.wait()
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
