"""Pure Dockerfile logic and the image cache key."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness import dockerfile as df
from harness.images import cache_key

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


def test_secret_contents_are_not_part_of_the_key() -> None:
    # the key takes ids only: the signature has no place for contents (a CA rotation must
    # not rebuild every image); two configs with the same ids give one key
    assert cache_key(**{**KEY_ARGS, "secret_ids": ("ca",)}) == cache_key(**KEY_ARGS)
