"""Integration (real Docker, real git): a public-style worker repo builds with no hand-made base.

The repo has what public RunPod workers have: `Dockerfile.runpod`, `FROM python:3.10-slim`
(Docker Hub does not answer here), `RUN pip install` with no build secret, `USER appuser`, CMD
only. With `build.ca_bundle` the pip step reaches the index through the TLS proxy, and the
bundle's bytes land in no layer and no history line. A base from a registry that does not answer
is refused before any build, and `harness bases` lists every FROM of the range.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from harness.commands import bases as bases_command
from harness.config import parse_config
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.images import build_image
from tests.synthetic import CA_BUNDLE, remove_images

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

DOCKERFILE = """\
FROM python:3.10-slim
RUN useradd --create-home appuser
WORKDIR /app
RUN pip install --no-cache-dir --disable-pip-version-check six==1.17.0
COPY handler.py /app/
USER appuser
RUN grep -c harness-ca-probe "$PIP_CERT" > /tmp/ca-seen && python -c "import six"
CMD ["python", "handler.py"]
"""
MAPPED = "example.invalid/mapped:1"


def _git(path: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env |= {"GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()


def _commit(path: Path, message: str, dockerfile: str) -> str:
    (path / "Dockerfile.runpod").write_text(dockerfile)
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", message)
    return _git(path, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def public_repo(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("public")
    repo = root / f"f5-worker-{uuid.uuid4().hex[:8]}"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "handler.py").write_text("print('a handler')\n")
    shas = {"pip": _commit(repo, "python 3.10 + pip install", DOCKERFILE)}
    shas["mapped"] = _commit(repo, "a mapped base", f'FROM {MAPPED}\nCMD ["python3"]\n')
    shas["dead"] = _commit(repo, "private registry", "FROM registry.invalid:5000/x/y:1\n")
    marker = f"harness-ca-probe-{uuid.uuid4().hex}"
    bundle = root / "bundle.pem"  # the host's CA bundle, plus a line found nowhere else
    bundle.write_bytes(Path(CA_BUNDLE).read_bytes() + f"\n# {marker}\n".encode())
    config_path = root / "harness.toml"
    config_path.write_text(
        "[build]\n"
        'dockerfile = "Dockerfile.runpod"\n'
        'tag_prefix = "harness-test"\n'
        f'ca_bundle = "{bundle}"\n'
        f'base_images = {{ "{MAPPED}" = "local/python:3.11-slim-bookworm" }}\n'
    )
    cfg = parse_config(config_path.read_text(), root, origin=str(config_path))
    yield repo, shas, cfg, config_path, marker
    remove_images(f"harness-test/{repo.name}:")


def _contains(cmd: list[str], needle: bytes) -> bool:
    """Whether the output of `cmd` holds `needle` (streamed; chunks overlap by the needle)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    tail, found = b"", False
    while chunk := proc.stdout.read(1 << 20):
        if needle in tail + chunk:
            found = True
        tail = chunk[-len(needle) :]
    assert proc.wait() == 0, cmd
    return found


def test_python_slim_stand_in_with_pip_through_the_ca_bundle(public_repo) -> None:
    repo, shas, cfg, _, marker = public_repo
    info = build_image(Repo(repo), shas["pip"], cfg)
    assert [s["ref"] for s in info.stand_ins] == ["python:3.10-slim"]
    assert info.stand_ins[0]["image"] == "harness-standin/python:3.10-slim"
    assert any("3.10" in w and "3.11" in w for w in info.warnings), info.warnings
    script = (
        "for n in python python3 pip pip3; do command -v $n; done; "
        "python -c 'import six; print(six.__file__)'; "
        "cat /tmp/ca-seen; echo ${PIP_CERT:-no-pip-cert}"
    )
    run = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", info.tag, "sh", "-c", script],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert run[:4] == [f"/usr/local/bin/{n}" for n in ("python", "python3", "pip", "pip3")]
    assert run[4] == "/usr/local/lib/python3.11/site-packages/six.py"
    assert run[5] == "1"  # the step under USER appuser read the bundle (mode 0444)
    assert run[6] == "no-pip-cert"  # the variables were for the steps only
    # the bundle's bytes: in no layer, in no history line
    assert not _contains(["docker", "save", info.tag], marker.encode())
    assert not _contains(["docker", "history", "--no-trunc", info.tag], marker.encode())
    # the probe is seen when it is there: the same search finds the marker in a file that has it
    assert _contains(["cat", str(cfg.build.ca_bundle)], marker.encode())


def test_mapping_wins_and_an_unanswering_registry_is_refused_before_building(public_repo) -> None:
    repo, shas, cfg, _, _ = public_repo
    mapped = build_image(Repo(repo), shas["mapped"], cfg)
    assert mapped.stand_ins == [] and "local/python:3.11-slim-bookworm" in mapped.base_images
    with pytest.raises(HarnessError) as caught:
        build_image(Repo(repo), shas["dead"], cfg)
    err = caught.value
    assert err.kind == "build" and err.exit_code == 6
    assert "registry.invalid:5000/x/y:1" in err.message and "cannot be pulled" in err.message
    assert "build.base_images" in err.hint


def test_bases_command_lists_every_from_of_the_range(public_repo) -> None:
    repo, shas, _, config_path, _ = public_repo
    app = typer.Typer()
    bases_command.register(app)
    app.command("noop")(lambda: None)  # two commands: typer keeps the command name
    args = ["bases", "--range", f"{shas['pip']}..{shas['dead']}", "--json", "--make"]
    result = CliRunner().invoke(app, [*args, "--repo", str(repo), "--config", str(config_path)])
    assert result.exit_code == 6, result.output  # one base is missing
    doc = json.loads(result.stdout)
    rows = {row["ref"]: row for row in doc["bases"]}
    assert doc["commits"] == 3 and doc["dockerfile"] == "Dockerfile.runpod"
    assert rows["python:3.10-slim"]["status"] == "stand-in" and rows["python:3.10-slim"]["made"]
    assert rows["python:3.10-slim"]["warnings"]
    assert rows[MAPPED]["status"] == "mapped"
    assert rows["registry.invalid:5000/x/y:1"]["status"] == "missing"
    assert rows["registry.invalid:5000/x/y:1"]["first"] == shas["dead"]
