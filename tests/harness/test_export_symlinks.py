"""Exported trees cannot reach the host: a property over committed trees with symlinks.

Each example commits a generated tree into a real temp git repo: files, and links that point at
host files and folders (absolute, relative escaping the export, to a path that does not exist
yet), at a Dockerfile path, or a symlinked context folder. Then the export and the Dockerfile
rewrite that `harness build` does run (`buildcontext.prepare_context`), and every file in the "host"
folder the links aim at must be byte for byte and mtime for mtime as before, with no new file.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.buildcontext import prepare_context
from harness.config import BuildConfig, Config
from harness.errors import HarnessError
from harness.gitrepo import Repo

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}
PATHS = ["Dockerfile", "sub", "sub/Dockerfile", "ctx", "ctx/Dockerfile", "ctx/x.txt", "a.txt"]
KINDS = ["file", "abs_file", "abs_dir", "abs_missing", "rel_file", "rel_dir", "inner"]
REWRITTEN = "FROM scratch\n# rewritten by the harness\n"


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder`: type, bytes and mtime (links: their target)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st_ = p.lstat()
            if p.is_symlink():
                body: bytes | str = os.readlink(p)
            elif p.is_file():
                body = p.read_bytes()
            else:
                body = "dir"
            out[str(p.relative_to(folder))] = (st_.st_mode, st_.st_mtime_ns, body)
    return out


def link_target(kind: str, host: Path, link_dir: Path) -> str:
    """Where a link of `kind`, extracted into `link_dir`, points."""
    return {
        "abs_file": str(host / "secret.txt"),
        "abs_dir": str(host / "dir"),
        "abs_missing": str(host / "created-by-harness"),
        "rel_file": os.path.relpath(host / "secret.txt", link_dir),
        "rel_dir": os.path.relpath(host / "dir", link_dir),
        "inner": "README",
    }[kind]


def commit_tree(repo: Path, dest: Path, host: Path, entries: dict[str, str]) -> str:
    """Write `entries` (path -> kind) into a new repo and commit; returns the sha."""
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README").write_text("tree under test\n")
    for path, kind in entries.items():
        parent = Path(path).parent
        if (
            any(
                (repo / q).is_symlink() or (repo / q).is_file()
                for q in [parent, *parent.parents]
                if str(q) != "."
            )
            or (repo / path).exists()
            or (repo / path).is_symlink()
        ):
            continue  # the parent is already a link or a file
        (repo / parent).mkdir(parents=True, exist_ok=True)
        if kind == "file":
            (repo / path).write_text(f"FROM scratch\n# {path}\n")
        else:
            os.symlink(link_target(kind, host, dest / parent), repo / path)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=GIT_ENV)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "t"], check=True, env=GIT_ENV)
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(
    entries=st.dictionaries(st.sampled_from(PATHS), st.sampled_from(KINDS), max_size=6),
    dockerfile=st.sampled_from(["Dockerfile", "sub/Dockerfile", "ctx/Dockerfile", "a.txt"]),
    context=st.sampled_from([".", "sub", "ctx"]),
)
def test_export_and_rewrite_never_touch_the_host(
    entries: dict[str, str], dockerfile: str, context: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="export-prop-") as tmp:
        base = Path(tmp)
        host = base / "host"
        (host / "dir").mkdir(parents=True)
        (host / "secret.txt").write_text("host secret\n")
        (host / "dir" / "Dockerfile").write_text("host dockerfile\n")
        (host / "dir" / "x.txt").write_text("host x\n")
        dest = base / "harness-tmp" / "src"
        sha = commit_tree(base / "repo", dest, host, entries)
        before = snapshot(host)
        repo_before = snapshot(base / "repo")
        cfg = Config(build=BuildConfig(dockerfile=dockerfile, context=context), base_dir=base)
        try:
            df_path, ctx_path = prepare_context(Repo(base / "repo"), sha, cfg, REWRITTEN, dest)
        except HarnessError as exc:
            assert exc.kind == "build", exc.one_line()
        else:
            assert not df_path.is_symlink() and df_path.read_text() == REWRITTEN
            assert df_path.resolve().is_relative_to(dest.resolve())
            assert ctx_path.is_dir() and ctx_path.resolve().is_relative_to(dest.resolve())
            for p in dest.rglob("*"):
                real = Path(os.path.realpath(p))
                assert real.is_relative_to(dest.resolve()) or not p.is_symlink(), p
        assert snapshot(host) == before
        assert snapshot(base / "repo") == repo_before


@pytest.fixture
def plain_repo(tmp_path: Path) -> tuple[Repo, str]:
    entries = {f"f{i}.txt": "file" for i in range(5)}
    sha = commit_tree(tmp_path / "repo", tmp_path / "out", tmp_path, entries)
    (tmp_path / "repo" / "big.bin").write_bytes(b"\0" * 200_000)
    subprocess.run(["git", "-C", str(tmp_path / "repo"), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path / "repo"), "commit", "-qm", "big"], check=True, env=GIT_ENV
    )
    return Repo(tmp_path / "repo"), sha


def test_export_is_bounded_in_bytes_and_members(plain_repo, tmp_path: Path) -> None:
    repo, first = plain_repo
    with pytest.raises(HarnessError, match="more than 100000 bytes") as info:
        repo.export("HEAD", tmp_path / "a", max_bytes=100_000)
    assert info.value.kind == "build"
    with pytest.raises(HarnessError, match="more than 3 files") as info:
        repo.export(first, tmp_path / "b", max_members=3)
    assert info.value.kind == "build"
    assert sorted(p.name for p in repo.export(first, tmp_path / "c").iterdir()) == [
        "README",
        *[f"f{i}.txt" for i in range(5)],
    ]


def test_an_absolute_link_in_the_tree_is_refused_by_name(tmp_path: Path) -> None:
    sha = commit_tree(tmp_path / "repo", tmp_path / "out", tmp_path, {"a.txt": "abs_file"})
    with pytest.raises(HarnessError, match=r"a\.txt") as info:
        Repo(tmp_path / "repo").export(sha, tmp_path / "out")
    assert info.value.kind == "build"
    assert not (tmp_path / "out" / "a.txt").is_symlink()
