"""The one atomic writer, and that every file the harness keeps goes through it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.atomic import write_atomic

HARNESS = Path(__file__).resolve().parents[2] / "harness"
# Writes allowed outside harness/atomic.py: the Dockerfile rewritten inside the build's own
# temporary export (not a file the harness keeps), as a new file never followed through a link;
# a stand-in base's Dockerfile in its own temporary build context; a chart drawn into memory.
ALLOWED = {("buildcontext.py", "open"), ("buildcontext.py", "fdopen")}
ALLOWED |= {("bases.py", "write_text"), ("charts.py", "savefig")}
WRITERS = {"write_text", "write_bytes", "savefig", "replace", "rename", "dump", "fdopen", "open"}


def _writes(path: Path) -> set[tuple[str, str]]:
    """(file, method) for each call that can write a file, ignoring urlopen/tarfile readers."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, owner = node.func.attr, node.func.value
            if name not in WRITERS:
                continue
            if isinstance(owner, ast.Name) and owner.id in ("tarfile", "urllib", "json"):
                continue  # tarfile.open / json.dump(s) of a string
            if name == "replace" and not (isinstance(owner, ast.Name) and owner.id == "os"):
                continue  # str.replace
            if name == "open" and not (isinstance(owner, ast.Name) and owner.id == "os"):
                continue  # urllib.request.urlopen-like readers
            found.add((path.name, name))
    return found


def test_only_the_atomic_writer_writes_kept_files() -> None:
    writes = set().union(*(_writes(p) for p in HARNESS.rglob("*.py") if p.name != "atomic.py"))
    # savefig into a BytesIO is fine: the bytes then go through write_atomic
    assert writes - ALLOWED == set()


@given(st.lists(st.binary(max_size=64) | st.text(max_size=64), min_size=1, max_size=5))
def test_the_last_write_wins_whole(tmp_path_factory, contents) -> None:
    folder = tmp_path_factory.mktemp("atomic")
    target = folder / "sub" / "record.json"
    for data in contents:
        assert write_atomic(target, data) == target
    last = contents[-1]
    assert target.read_bytes() == (last.encode() if isinstance(last, str) else last)
    assert [p.name for p in target.parent.iterdir()] == ["record.json"]


def test_a_failed_replace_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep").write_text("old")
    with pytest.raises(OSError):
        write_atomic(target, "new")  # a rename over a non-empty folder fails
    assert (target / "keep").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]
