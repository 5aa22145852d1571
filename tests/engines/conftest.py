"""Fixtures of the engine-pool tests: one second, real dockerd per test session.

Other test packages use it by importing the fixture: `from tests.engines.conftest import dockerd2`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engines.dockerd2 import SecondDockerd, why_not


@pytest.fixture(scope="session")
def dockerd2() -> Iterator[SecondDockerd]:
    """A second dockerd (its own socket, data root, exec root, bridge), started once per session
    and torn down at the end; skips when it cannot run here (not root, dockerd missing).

    `dockerd2.engine` is its harness Engine ("second"), `dockerd2.endpoint` its unix:// URL,
    `dockerd2.load_from_local(tag, ...)` copies images from the first engine,
    `dockerd2.kill()` kills it mid-run (it stops answering), `dockerd2.restart()` brings it
    back on the same data root (a test that kills it should restart it for the tests after)."""
    reason = why_not()
    if reason is not None:
        pytest.skip(f"second dockerd: {reason}")
    engine = SecondDockerd()
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()
