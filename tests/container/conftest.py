"""Fixtures for container tests: the real image, temp volumes (root-owned files), clean-up."""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.container import dockerrun


@pytest.fixture(scope="session")
def image() -> Iterator[str]:
    if not dockerrun.docker_available():
        pytest.skip("no Docker engine: run scripts/setup-docker.sh")
    given = os.environ.get("F5TTS_TEST_IMAGE")  # e.g. an image of an older commit, to see a
    if given:  # new row fail on the code it guards
        yield given
        dockerrun.remove_all()
        return
    tag = f"f5tts-worker-test:{uuid.uuid4().hex[:8]}"
    dockerrun.build_image(tag)
    yield tag
    dockerrun.remove_all()
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


@pytest.fixture
def volume() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="f5c-vol-"))
    yield path
    dockerrun.rm_root_owned(path)


@pytest.fixture(autouse=True)
def _no_leftover_containers(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "image" in request.fixturenames:
        dockerrun.remove_all()
