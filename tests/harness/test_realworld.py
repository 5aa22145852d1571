"""Issue 11's real-world patterns against the harness (real Docker, real runpod local API).

One five-commit history (tests/realworld.py), each image built once and reused by every test:
a CMD-only image, `USER appuser` and a root-owned volume, a SyntaxError, a traceback followed by
exit 0, a Dockerfile parse error; plus custom checks, the runtime CA bundle and GPU requests.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config import CA_BUNDLE_TARGET, DEFAULT_RUN_ARGS, load_config
from harness.container import container_kwargs
from harness.dockercli import engine
from harness.errors import EXIT_CODES
from harness.gitrepo import Repo
from harness.images import build_image
from tests.realworld import History, make_history, write_config
from tests.synthetic import CA_BUNDLE, remove_images

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]
runner = CliRunner()
PERMISSION = "PermissionError: [Errno 13] Permission denied: '/runpod-volume/f5tts"
COMPILES = "python -c \"compile(open('handler.py').read(), 'handler.py', 'exec')\""


@pytest.fixture(scope="module")
def hist(tmp_path_factory: pytest.TempPathFactory):
    name = f"realworld-{uuid.uuid4().hex[:8]}"
    history = make_history(tmp_path_factory.mktemp("realworld"), name)
    write_config(history, "base")
    yield history
    remove_images(f"harness-test/{name}:")


def cli(history: History, config: str, *args: str):
    cfg = history.path.parent / f"{config}.harness.toml"
    return runner.invoke(app, [*args, "--repo", str(history.path), "--config", str(cfg)])


def stored(history: History, sha: str) -> dict:
    cfg = load_config(history.path.parent / "base.harness.toml")
    folder = cfg.path(cfg.measure.results_dir)
    return json.loads(next(folder.glob(f"*/{sha}.json")).read_text())


def test_a_cmd_only_image_runs_its_cmd_with_the_runpod_flags(hist) -> None:
    r = cli(hist, "base", "measure", hist.shas["cmd_only"])
    assert r.exit_code == 0, r.output
    doc = stored(hist, hist.shas["cmd_only"])
    assert doc["startup"]["argv"] == ["python", "handler.py", *DEFAULT_RUN_ARGS]
    assert doc["latency"]["ok"]


def test_appuser_and_a_root_owned_volume_fail_the_first_request_with_its_line(hist) -> None:
    r = cli(hist, "base", "measure", hist.shas["appuser"])
    assert r.exit_code == EXIT_CODES["request"], r.output
    assert f"came back FAILED: {PERMISSION}" in r.output
    doc = stored(hist, hist.shas["appuser"])
    assert doc["error"]["cause"] == doc["latency"]["cause"]
    assert doc["latency"]["cause"].startswith(PERMISSION)


def test_a_traceback_then_exit_0_is_told_by_its_exception_line(hist) -> None:
    r = cli(hist, "base", "measure", hist.shas["exit0"])
    assert r.exit_code == EXIT_CODES["never_ready"], r.output
    assert "exited with code 0 (retried once" in r.output
    assert f"(log: {PERMISSION}" in r.output and "line: })" not in r.output
    assert stored(hist, hist.shas["exit0"])["startup"]["cause"].startswith(PERMISSION)


def test_a_dockerfile_parse_error_is_told_by_the_parser_line(hist) -> None:
    r = cli(hist, "base", "measure", hist.shas["parse_error"])
    assert r.exit_code == EXIT_CODES["build"], r.output
    doc = stored(hist, hist.shas["parse_error"])
    assert "unknown instruction: RUNN" in doc["image"]["cause"]
    assert doc["error"]["cause"] == doc["image"]["cause"]


def test_bisect_startup_and_a_custom_command_together(hist) -> None:
    """Both find the SyntaxError commit; the reports quote its line and the command's output."""
    r = cli(
        hist,
        "base",
        "bisect",
        "--good",
        hist.shas["cmd_only"],
        "--bad",
        hist.shas["syntax"],
        "--check",
        "startup,cmd",
        "--check-cmd",
        COMPILES,
        "--json",
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout[r.stdout.index("{") :])
    assert {c["check"]: c["first_bad"] for c in data["culprits"]} == {
        "startup": hist.shas["syntax"],
        "cmd": hist.shas["syntax"],
    }
    for culprit in data["culprits"]:
        assert culprit["evidence"]["culprit_cause"].startswith("SyntaxError: ")
    cmd = next(c for c in data["culprits"] if c["check"] == "cmd")
    assert "SyntaxError" in cmd["evidence"]["culprit_output"]
    assert "--check-cmd" in cmd["reproduce"]
    md = Path(data["reports"]["md"]).read_text()
    assert "telling line: `SyntaxError: " in md and "last output lines" in md


def test_check_cmd_reads_exit_codes_as_git_bisect_run_and_is_cached(hist) -> None:
    sha = hist.shas["cmd_only"]
    echo = 'echo "env=$HARNESS_TEST_ENV"; test -d /runpod-volume && exit 3'

    def check(cmd: str, *extra: str):
        return cli(hist, "base", "check", sha, "--check-cmd", cmd, "--json", *extra)

    first = check(echo)
    assert first.exit_code == 1, first.output
    found = json.loads(first.stdout)
    assert found["verdict"] == "bad" and not found["cached"]
    assert found["figures"]["output_tail"] == "env=from-config"  # the config's env and mounts
    again = check(echo)
    assert again.exit_code == 1 and json.loads(again.stdout)["cached"]
    assert check("exit 0").exit_code == 0
    assert check("exit 125").exit_code == 125
    slow = check("sleep 30", "--check-cmd-timeout", "1")
    assert slow.exit_code == 1 and "still running" in json.loads(slow.stdout)["reason"]
    killed = check("sh -c 'kill -9 $$'")  # 137: the check itself failed; git bisect run aborts
    assert killed.exit_code == 128 + EXIT_CODES["check_cmd"], killed.output
    assert "exited 137" in killed.output


def test_run_ca_bundle_is_mounted_read_only_with_its_variables(hist) -> None:
    write_config(hist, "ca", ca_bundle=CA_BUNDLE)
    probe = (
        f'test "$SSL_CERT_FILE" = {CA_BUNDLE_TARGET} && test "$PIP_CERT" = "$SSL_CERT_FILE" && '
        'test "$REQUESTS_CA_BUNDLE" = "$PIP_CERT" && test "$CURL_CA_BUNDLE" = "$PIP_CERT" && '
        'grep -q "BEGIN CERTIFICATE" "$PIP_CERT" && ! touch "$PIP_CERT" 2>/dev/null'
    )
    r = cli(hist, "ca", "check", hist.shas["cmd_only"], "--check-cmd", probe)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [
        ("all", {"Count": -1, "DeviceIDs": None}),
        (2, {"Count": 2, "DeviceIDs": None}),
        ("device=0,1", {"Count": 0, "DeviceIDs": ["0", "1"]}),
    ],
)
def test_the_gpu_request_reaches_docker(hist, gpus, expected) -> None:
    """Created, never started: this host has no GPU and no NVIDIA runtime."""
    cfg = load_config(write_config(hist, "gpu", gpus=gpus))
    tag = build_image(Repo(hist.path), hist.shas["cmd_only"], cfg).tag
    client = engine()
    kwargs, _ = container_kwargs(client, tag, cfg, f"harness-gpu-{uuid.uuid4().hex[:8]}")
    kwargs.pop("detach")
    container = client.containers.create(tag, **kwargs)
    try:
        requests = container.attrs["HostConfig"]["DeviceRequests"]
    finally:
        container.remove(force=True)
    assert len(requests) == 1
    assert requests[0]["Capabilities"] == [["gpu"]]
    assert {
        "Count": requests[0]["Count"],
        "DeviceIDs": requests[0]["DeviceIDs"] or None,
    } == expected


def test_gpus_without_the_nvidia_runtime_fail_before_any_build(hist) -> None:
    write_config(hist, "gpu", gpus="all")
    r = cli(hist, "gpu", "measure", hist.shas["parse_error"])  # a build would exit 6
    assert r.exit_code == EXIT_CODES["config"], r.output
    assert "NVIDIA Container Toolkit" in r.output and "no NVIDIA container runtime" in r.output
