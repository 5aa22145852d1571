"""Suite-wide rule: where a Docker engine is required (CI sets HARNESS_TESTS_REQUIRE_DOCKER=1), a
missing or silent engine fails the run at collection instead of letting the Docker tests skip and
the run pass."""

from __future__ import annotations

import os

import docker
import pytest
from docker.errors import DockerException

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
