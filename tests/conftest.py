"""Suite-wide: the second-engine fixture (`dockerd2`), and the rule that where a Docker engine is
required (CI sets HARNESS_TESTS_REQUIRE_DOCKER=1), a missing or silent engine fails the run at
collection instead of letting the Docker tests skip and the run pass."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import docker
import pytest
from docker.errors import DockerException

if TYPE_CHECKING:
    from tests.engines.dockerd2 import SecondDockerd

REQUIRE_DOCKER = "HARNESS_TESTS_REQUIRE_DOCKER"


def engine_problem() -> str | None:
    """None when a Docker engine answers a ping, else why it does not."""
    try:
        client = docker.from_env(timeout=15)
        try:
            client.ping()
        finally:
            client.close()
    except (DockerException, OSError) as exc:
        return str(exc) or type(exc).__name__
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(REQUIRE_DOCKER) != "1":
        return
    if not any(item.get_closest_marker("docker") for item in items):
        return
    problem = engine_problem()
    if problem is not None:
        raise pytest.UsageError(
            f"{REQUIRE_DOCKER}=1 and the Docker engine does not answer ({problem}): "
            "start it with scripts/setup-docker.sh"
        )


@pytest.fixture(scope="session")
def dockerd2() -> Iterator[SecondDockerd]:
    """A second dockerd (its own socket, data root, exec root, bridge), started once per session
    (the engine tests and the pool bisect share it) and torn down at the end; skips when it
    cannot run here (not root, dockerd missing).

    `dockerd2.engine` is its harness Engine ("second"), `dockerd2.endpoint` its unix:// URL,
    `dockerd2.load_from_local(tag, ...)` copies images from the first engine,
    `dockerd2.kill()` kills it mid-run (it stops answering), `dockerd2.restart()` brings it
    back on the same data root (a test that kills it should restart it for the tests after)."""
    # imported here: tests/test_require_docker.py runs this file's text alone, outside the repo
    from tests.engines.dockerd2 import SecondDockerd, why_not

    reason = why_not()
    if reason is not None:
        pytest.skip(f"second dockerd: {reason}")
    engine = SecondDockerd()
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()
