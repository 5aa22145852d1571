"""Pure: which bases have a stand-in, its name, what it warns about, its Dockerfile."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import standins
from harness.bisect_report import to_json, to_markdown
from harness.config import parse_config
from harness.report import result_rows
from harness.results import CommitRecord, ImageRecord, Machine, Result
from tests.bisect.test_report import a_run, size_result

HAVE = "3.11.2"
TAG_OK = re.compile(r"^[a-z0-9-]+/[a-z0-9-]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _plan(ref: str) -> standins.StandIn:
    found = standins.plan(ref, HAVE)
    assert found is not None, ref
    return found


@pytest.mark.parametrize(
    ("ref", "family", "tag", "wanted"),
    [
        ("python:3.10-slim", "python", "harness-standin/python:3.10-slim", "3.10"),
        (
            "python:3.11-slim-bookworm",
            "python",
            "harness-standin/python:3.11-slim-bookworm",
            "3.11",
        ),
        ("docker.io/library/python:3.11-slim@sha256:ab", "python", None, "3.11"),
        ("library/python:3.12.1-slim", "python", None, "3.12"),
        ("python:3.13.0rc1-slim", "python", None, "3.13"),
        ("python", "python", "harness-standin/python:latest", None),
        (
            "runpod/pytorch:2.1.0-py3.10-cuda11.8.0-devel-ubuntu22.04",
            "runpod/pytorch",
            "harness-standin/runpod-pytorch:2.1.0-py3.10-cuda11.8.0-devel-ubuntu22.04",
            "3.10",
        ),
        ("runpod/base:0.6.2-cuda12.1.0", "runpod/base", None, None),
        ("docker.io/runpod/base:0.4.0-py311", "runpod/base", None, "3.11"),
    ],
)
def test_family_tag_and_wanted_python(ref: str, family: str, tag: str | None, wanted) -> None:
    p = _plan(ref)
    assert (p.ref, p.family, p.python_wanted) == (ref, family, wanted)
    if tag:
        assert p.tag == tag
    assert TAG_OK.match(p.tag), p.tag


@pytest.mark.parametrize(
    "ref",
    [
        "registry.invalid:5000/x/y:1",
        "myregistry.example:5000/python:3.11-slim",  # another registry's "python" is not it
        "ubuntu:22.04",
        "python:3.11-windowsservercore-ltsc2022",
        "runpod/worker-comfyui:5.1.0",
        "pythonista:3.11",
    ],
)
def test_no_stand_in_outside_the_families(ref: str) -> None:
    assert standins.plan(ref, HAVE) is None


def test_same_minor_slim_has_no_warning() -> None:
    assert _plan("python:3.11-slim").warnings == ()
    assert _plan("python:3.11-slim-bookworm").warnings == ()


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("python:3.10-slim", ["3.10", "3.11.2", "closest"]),
        ("python:3.11", ["full image"]),
        ("python:3.12-alpine", ["3.12", "Alpine"]),
        ("python:3.11-slim-bullseye", ["bullseye"]),
        ("python", ["no Python minor", "full image"]),
        ("runpod/base:0.6.2-cuda12.1.0", ["no CUDA"]),
        ("runpod/pytorch:2.2.0-py3.10-cuda12.1.1-devel-ubuntu22.04", ["no CUDA", "torch", "3.10"]),
    ],
)
def test_warnings_name_what_the_stand_in_lacks(ref: str, words: list[str]) -> None:
    text = " | ".join(_plan(ref).warnings)
    for word in words:
        assert word in text, (word, text)


@given(
    minor=st.integers(6, 14),
    patch=st.one_of(st.none(), st.integers(0, 20)),
    suffix=st.sampled_from(["-slim", "-slim-bookworm"]),
)
def test_every_python_slim_minor_warns_exactly_when_it_differs(minor, patch, suffix) -> None:
    version = f"3.{minor}" + (f".{patch}" if patch is not None else "")
    p = _plan(f"python:{version}{suffix}")
    assert p.python_wanted == f"3.{minor}"
    assert bool(p.warnings) == (minor != 11)
    assert TAG_OK.match(p.tag)


@given(st.text(min_size=1, max_size=300))
def test_stand_in_tags_are_valid_docker_tags_for_any_tag_text(tag: str) -> None:
    assert TAG_OK.match(standins.standin_tag("runpod/base", tag))


def test_dockerfile_makes_python_and_pip_in_usr_local_and_labels_warnings() -> None:
    p = _plan("python:3.10-slim")
    text = standins.dockerfile(p, standins.ROOT_IMAGE, HAVE)
    assert text.splitlines()[1] == f"FROM {standins.ROOT_IMAGE}"
    assert "/usr/bin/python3 -m venv /usr/local" in text
    assert "PATH=/usr/local/sbin:/usr/local/bin:" in text and f"PYTHON_VERSION={HAVE}" in text
    label = re.search(rf'{standins.LABEL_WARNINGS}=("(?:[^"\\]|\\.)*")', text)
    assert label and json.loads(json.loads(label.group(1))) == list(p.warnings)
    # the recipe changes with the root image and with the text
    assert standins.recipe(text, "sha256:a") != standins.recipe(text, "sha256:b")


def test_config_stand_ins_and_ca_bundle_keys(tmp_path) -> None:
    cfg = parse_config("", tmp_path)
    assert cfg.build.stand_ins == "auto" and cfg.build.ca_bundle is None
    cfg = parse_config('[build]\nstand_ins = "off"\nca_bundle = "ca.pem"\n', tmp_path)
    assert cfg.build.stand_ins == "off" and cfg.path(cfg.build.ca_bundle) == tmp_path / "ca.pem"
    with pytest.raises(Exception, match="stand_ins"):
        parse_config('[build]\nstand_ins = "sometimes"\n', tmp_path)


def test_stand_in_warnings_reach_the_measure_record_and_the_bisect_reports() -> None:
    warning = _plan("python:3.10-slim").warnings[0]
    stand = {"ref": "python:3.10-slim", "image": "harness-standin/python:3.10-slim"}
    image = ImageRecord(built_ok=True, tag="t", stand_ins=[{**stand, "warnings": [warning]}])
    result = Result(machine=Machine(id="m"), commit=CommitRecord(sha="a" * 40), image=image)
    assert ("warning", warning) in result_rows(result)
    assert Result.from_json(result.model_dump_json()).image.stand_ins == image.stand_ins
    run = a_run(size_result())
    assert "warnings" not in to_json(run)  # no stand-in, no key: the report is as it was
    run.warnings = [warning]
    assert to_json(run)["warnings"] == [warning]
    assert f"- warning: {warning}" in to_markdown(run)
