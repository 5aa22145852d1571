"""Pure Dockerfile logic and the image cache key."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import dockerfile as df
from harness.config import parse_config
from harness.gitrepo import Repo
from harness.images import cache_key, image_key

MAP = {"python:3.11-slim": "local/python:3.11-slim-bookworm"}


def test_arg_default_naming_a_mapped_image_is_passed_mapped() -> None:
    text = "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n"
    assert df.mapped_build_args(text, {}, MAP) == {"BASE_IMAGE": MAP["python:3.11-slim"]}
    # an explicit arg wins, and is mapped itself when it names a mapped image
    assert df.mapped_build_args(text, {"BASE_IMAGE": "other:1"}, MAP) == {"BASE_IMAGE": "other:1"}
    assert df.mapped_build_args("FROM x\n", {"B": "python:3.11-slim"}, MAP) == {
        "B": MAP["python:3.11-slim"]
    }


def test_literal_from_is_rewritten_and_nothing_else() -> None:
    text = (
        "FROM --platform=linux/amd64 python:3.11-slim AS build\nRUN echo python:3.11-slim\n"
        "FROM debian:12\n"
    )
    out = df.rewrite_from(text, MAP)
    assert out.splitlines() == [
        "FROM --platform=linux/amd64 local/python:3.11-slim-bookworm AS build",
        "RUN echo python:3.11-slim",
        "FROM debian:12",
    ]


def test_base_refs_substitutes_args_and_skips_stages_and_scratch() -> None:
    text = (
        "ARG BASE=python:3.11-slim\nFROM ${BASE} AS deps\nFROM deps AS app\nFROM scratch\n"
        "FROM $OTHER\n"
    )
    assert df.base_refs(text, {"OTHER": "busybox:1"}) == ["python:3.11-slim", "busybox:1"]


KEY_ARGS = {
    "dockerfile": b"FROM x\n",
    "context_tree": "a" * 40,
    "build_args": {"A": "1"},
    "base_ids": {"x": "sha256:1"},
    "secret_ids": ["ca"],
}


def test_cache_key_is_deterministic_and_order_free() -> None:
    k = cache_key(**KEY_ARGS)
    assert k == cache_key(**KEY_ARGS)
    assert len(k) == 64
    two = {**KEY_ARGS, "build_args": {"A": "1", "B": "2"}, "secret_ids": ["ca", "npm"]}
    swapped = {**KEY_ARGS, "build_args": {"B": "2", "A": "1"}, "secret_ids": ["npm", "ca"]}
    assert cache_key(**two) == cache_key(**swapped)


@given(
    field=st.sampled_from(sorted(KEY_ARGS)),
    text=st.text(min_size=1, max_size=20),
)
def test_cache_key_changes_with_every_input(field: str, text: str) -> None:
    changed = dict(KEY_ARGS)
    value = KEY_ARGS[field]
    if isinstance(value, bytes):
        changed[field] = value + text.encode()
    elif isinstance(value, str):
        changed[field] = value + text
    elif isinstance(value, dict):
        changed[field] = {**value, "Z" + text: text}
    else:
        changed[field] = [*value, "Z" + text]
    assert cache_key(**changed) != cache_key(**KEY_ARGS)


def _repo(tmp_path: Path) -> Repo:
    path = tmp_path / "w"
    path.mkdir()
    (path / "Dockerfile").write_text("FROM x\n")
    env = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(path), *env, "commit", "-qm", "x"], check=True)
    return Repo(path)


def _key(repo: Repo, config_dir: Path, secrets: dict[str, str]) -> str:
    config = parse_config(
        "[build.secrets]\n" + "".join(f'{k} = "{v}"\n' for k, v in secrets.items()), config_dir
    )
    return image_key(repo, "HEAD", config, b"FROM x\n", {}, {"x": "sha256:1"})


@given(
    first=st.binary(max_size=64),
    second=st.binary(max_size=64),
    sid=st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
)
@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_secret_contents_are_not_part_of_the_key(tmp_path: Path, first, second, sid) -> None:
    """Two secret files with different contents under one id give one key (a CA rotation must
    not rebuild every image); a different id, or no secret, is a different key.
    """
    repo = _repo(tmp_path) if not (tmp_path / "w").exists() else Repo(tmp_path / "w")
    a, b = tmp_path / "a.pem", tmp_path / "b.pem"
    a.write_bytes(first)
    b.write_bytes(second)
    assert _key(repo, tmp_path, {sid: str(a)}) == _key(repo, tmp_path, {sid: str(b)})
    assert _key(repo, tmp_path, {sid: str(a)}) != _key(repo, tmp_path, {sid + "x": str(a)})
    assert _key(repo, tmp_path, {sid: str(a)}) != _key(repo, tmp_path, {})
