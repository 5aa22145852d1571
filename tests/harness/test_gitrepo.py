"""harness.gitrepo against real git repositories in temp folders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.gitrepo import Repo

ENV = {
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "T",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, text=True, env=ENV
    ).stdout.strip()


def commit(path: Path, name: str, text: str) -> str:
    (path / name).parent.mkdir(parents=True, exist_ok=True)
    (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", f"change {name}")
    return git(path, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """main: c1 - c2 - m(merge of side: s1) - c4; side branches from c2."""
    p = tmp_path / "My Repo"
    p.mkdir()
    git(p, "init", "-q", "-b", "main")
    shas = {"c1": commit(p, "a.txt", "1"), "c2": commit(p, "ctx/b.txt", "2")}
    git(p, "checkout", "-q", "-b", "side")
    shas["s1"] = commit(p, "side.txt", "s")
    git(p, "checkout", "-q", "main")
    shas["c3"] = commit(p, "a.txt", "3")
    git(p, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    shas["m"] = git(p, "rev-parse", "HEAD")
    shas["c4"] = commit(p, "ctx/b.txt", "4")
    return p, shas


def test_resolve(repo) -> None:
    p, shas = repo
    r = Repo(p)
    info = r.resolve("HEAD")
    assert info.sha == shas["c4"]
    assert info.subject == "change ctx/b.txt"
    assert info.parents == (shas["m"],)
    assert info.author == "T <t@example.invalid>"
    assert r.resolve(shas["c1"][:8]).sha == shas["c1"]
    assert len(r.resolve("HEAD~1").parents) == 2
    assert r.name == "my-repo"


@pytest.mark.parametrize("rev", ["nope", "HEAD~99", "", "--all", "a" * 40])
def test_unknown_revision(repo, rev: str) -> None:
    with pytest.raises(HarnessError) as info:
        Repo(repo[0]).resolve(rev)
    assert info.value.kind == "bad_revision" and info.value.exit_code == 4


def test_not_a_repo(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as info:
        Repo(tmp_path)
    assert info.value.kind == "not_a_repo"
    with pytest.raises(HarnessError, match="not a folder"):
        Repo(tmp_path / "missing")


def test_first_parent_range(repo) -> None:
    p, shas = repo
    r = Repo(p)
    assert r.first_parent_range(shas["c1"], shas["c4"]) == [
        shas["c2"],
        shas["c3"],
        shas["m"],
        shas["c4"],
    ]  # s1 is on the side branch: not on the first-parent line
    assert r.first_parent_range(shas["c4"], shas["c4"]) == []
    with pytest.raises(HarnessError, match="not an ancestor"):
        r.first_parent_range(shas["c4"], shas["c1"])


def test_export_tree_and_changed_files(repo, tmp_path: Path) -> None:
    p, shas = repo
    r = Repo(p)
    dest = r.export(shas["c2"], tmp_path / "out")
    assert (dest / "a.txt").read_text() == "1"
    assert (dest / "ctx" / "b.txt").read_text() == "2"
    assert not (dest / "side.txt").exists()
    assert r.changed_files(shas["c4"]) == ["ctx/b.txt"]
    assert r.changed_files(shas["c1"]) == ["a.txt"]
    assert r.changed_files(shas["m"]) == ["side.txt"]
    # the context tree of ctx/ changes only when something under ctx/ does
    assert r.tree_of(shas["c2"], "ctx") == r.tree_of(shas["c3"], "ctx")
    assert r.tree_of(shas["c3"], "ctx") != r.tree_of(shas["c4"], "ctx")
    assert r.read_file(shas["c1"], "a.txt") == b"1"
    assert r.read_file(shas["c1"], "nope") is None


def test_worktree_index_and_head_untouched(repo, tmp_path: Path) -> None:
    p, shas = repo
    (p / "a.txt").write_text("dirty")
    before = git(p, "status", "--porcelain"), git(p, "rev-parse", "HEAD")
    r = Repo(p)
    r.export(shas["c1"], tmp_path / "o")
    r.first_parent_range(shas["c1"], "HEAD")
    assert (git(p, "status", "--porcelain"), git(p, "rev-parse", "HEAD")) == before
    assert (p / "a.txt").read_text() == "dirty"


def _cli_info(path: Path, rev: str) -> tuple:
    fmt = "%H%x00%T%x00%s%x00%an <%ae>%x00%cI%x00%P"
    sha = git(path, "rev-parse", "--verify", rev)  # `:/text^{commit}` would search for "^{commit}"
    out = git(path, "show", "-s", f"--format={fmt}", f"{sha}^{{commit}}")
    full, tree, subject, author, date, parents = out.split("\x00")
    return full, tree, subject, author, date, tuple(parents.split())


def test_commit_facts_match_git_itself(tmp_path: Path) -> None:
    """gitpython's reading of subject, author, date and parents is what `git show` prints,
    for a wrapped first paragraph, a non-UTC offset and a non-ASCII author."""
    p = tmp_path / "r"
    p.mkdir()
    git(p, "init", "-q", "-b", "main")
    commit(p, "a.txt", "1")
    (p / "a.txt").write_text("2")
    git(p, "add", "-A")
    env = {
        **ENV,
        "GIT_AUTHOR_NAME": "Zoë Ångström",
        "GIT_COMMITTER_DATE": "2024-02-29T23:59:58+05:30",
        "GIT_AUTHOR_DATE": "2001-01-01T00:00:00-08:00",
    }
    message = "fix: a subject that\nwraps onto a second line\n\nbody\n\nmore body"
    subprocess.run(["git", "-C", str(p), "commit", "-q", "-m", message], check=True, env=env)
    git(p, "tag", "-a", "v1", "-m", "annotated")
    r = Repo(p)
    for rev in ("HEAD", "HEAD~1", "v1", "main", ":/wraps onto"):
        info = r.resolve(rev)
        want = _cli_info(p, rev)
        assert (info.sha, info.tree, info.subject, info.author, info.date, info.parents) == want
    assert r.resolve(":/wraps onto").subject == "fix: a subject that wraps onto a second line"
    assert r.changed_files("HEAD") == ["a.txt"]


def test_renames_count_both_paths_and_a_bare_repo_reads(repo, tmp_path: Path) -> None:
    p, shas = repo
    git(p, "mv", "a.txt", "renamed.txt")
    git(p, "commit", "-q", "-m", "rename")
    assert Repo(p).changed_files("HEAD") == ["a.txt", "renamed.txt"]
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(p), str(bare)], check=True)
    r = Repo(bare)
    assert r.name == "bare.git"
    assert r.first_parent_range(shas["c1"], shas["c4"])[-1] == shas["c4"]
    assert r.read_file(shas["c1"], "a.txt") == b"1"
