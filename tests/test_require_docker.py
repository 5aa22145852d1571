"""CI's rule: with HARNESS_TESTS_REQUIRE_DOCKER=1 a run with Docker tests and no engine fails."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py").read_text()
DOCKER_TEST = """
import pytest

@pytest.mark.docker
def test_needs_docker():
    pytest.skip("no Docker engine")
"""


@pytest.fixture
def dead_engine(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no-such-docker.sock")
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers =\n    docker: needs Docker\n")
    pytester.makepyfile(test_one=DOCKER_TEST)
    return pytester


def test_required_engine_missing_fails_the_run(
    dead_engine: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_TESTS_REQUIRE_DOCKER", "1")
    result = dead_engine.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*HARNESS_TESTS_REQUIRE_DOCKER=1 and the Docker engine*"])


def test_without_the_requirement_docker_tests_may_skip(
    dead_engine: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARNESS_TESTS_REQUIRE_DOCKER", raising=False)
    result = dead_engine.runpytest_subprocess()
    result.assert_outcomes(skipped=1)
