"""`harness measure/compare --engine second` on a real second dockerd (tests/engines/dockerd2.py):
the image is built on that engine (its base moved there with save | load), the worker runs
there, and the record names the engine and carries its machine facts."""

from __future__ import annotations

import json
import os
import uuid
from contextlib import closing
from pathlib import Path

import docker
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.results import Result
from tests.engines.dockerd2 import SecondDockerd
from tests.synthetic import RUNPOD_BASE, harness_config, make_worker_repo

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]
runner = CliRunner()


def add_engines(config_path: Path, engines: dict[str, str]) -> None:
    """Append one [[engines]] table per name -> endpoint to a harness.toml."""
    text = "".join(
        f'\n[[engines]]\nname = "{name}"\nendpoint = "{endpoint}"\n'
        for name, endpoint in engines.items()
    )
    config_path.write_text(config_path.read_text() + text)


def test_measure_and_compare_on_the_second_engine(dockerd2: SecondDockerd, tmp_path) -> None:
    name = f"eng-{uuid.uuid4().hex[:8]}"
    repo = make_worker_repo(tmp_path, name=name, files={"session.txt": name})
    first = repo.head
    second = repo.commit("code-only change", files={"extra.py": "# not copied\n"})
    cfg = harness_config(repo, measure={"samples": 3})
    assert repo.config_path is not None
    add_engines(repo.config_path, {"local": "default", "second": dockerd2.endpoint})
    args = ["--repo", str(repo.path), "--config", str(repo.config_path), "--engine", "second"]

    r = runner.invoke(app, ["measure", second, "--json", *args])
    assert r.exit_code == 0, r.output
    doc = Result.model_validate_json(r.stdout[r.stdout.index("{") :])

    engine = doc.engine
    assert engine is not None
    assert (engine.name, engine.endpoint_kind, engine.endpoint) == (
        "second",
        "unix",
        dockerd2.endpoint,
    )
    with closing(dockerd2.client()) as there, closing(docker.from_env()) as here:
        info = there.info()
        assert engine.engine_id == info["ID"] != here.info()["ID"]
        assert engine.cpus == info["NCPU"] == os.cpu_count()
        assert engine.memory_bytes == info["MemTotal"] > 0
        assert engine.os and engine.arch and engine.server_version
        # built on the second engine (its base moved there), never on the first
        tag = doc.image.tag
        assert tag is not None and doc.image.built
        assert there.images.get(tag).id == doc.image.id
        assert dockerd2.has_image(RUNPOD_BASE)
        assert not here.images.list(name=tag)
    assert doc.startup.ok and doc.latency.ok

    # stored in the second engine's own folder, not the local engine's
    stored = list(cfg.path(cfg.measure.results_dir).glob(f"engine-second-*/{second}.json"))
    assert len(stored) == 1
    assert json.loads(stored[0].read_text())["engine"]["name"] == "second"

    r = runner.invoke(app, ["compare", first, second, "--json", *args])
    assert r.exit_code in (0, 3), r.output
    card = json.loads(r.stdout[r.stdout.index("{") :])
    assert card["engines"] == ["second", "second"] and card["same_engine"]
    rows = {row["metric"]: row for row in card["rows"]}
    assert rows["warm latency p50"]["detail"].startswith("ratio ")  # one engine: compared
