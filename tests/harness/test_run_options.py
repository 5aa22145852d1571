"""Pure parts of issue 11's run options: CMD-aware argv, GPU requests, nvidia-smi, the cmd check's
exit codes and its cache key. The Docker side is in test_realworld.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.config import DEFAULT_RUN_ARGS, parse_config
from harness.customcheck import cmd_verdict
from harness.errors import EXIT_CODES, HarnessError
from harness.gpus import (
    GpuInventory,
    device_tag,
    has_nvidia_runtime,
    parse_gpus,
    parse_nvidia_smi,
    require_gpu_runtime,
)
from harness.judgement import Options
from harness.runargv import container_argv
from harness.search import Verdict
from harness.verdicts import VerdictCache

word = st.text(st.characters(whitelist_categories=["L", "N"]), min_size=1, max_size=8)
argv = st.lists(word, max_size=4)


@given(argv, argv, argv)
def test_args_follow_the_entrypoint_else_the_cmd(entrypoint, cmd, args) -> None:
    """Docker replaces CMD with the arguments: an image without ENTRYPOINT keeps its CMD."""
    got = container_argv(entrypoint, cmd, args)
    assert got.entrypoint is None
    if entrypoint:
        assert got.command == args and got.argv == entrypoint + args
    else:
        assert got.command == cmd + args == got.argv


@given(st.one_of(st.none(), argv), st.one_of(st.none(), argv), argv, argv.filter(bool))
def test_run_command_replaces_both(entrypoint, cmd, args, command) -> None:
    got = container_argv(entrypoint, cmd, args, command)
    assert got.entrypoint == command[:1] and got.command == command[1:]
    assert got.argv == command


def test_a_cmd_only_worker_gets_the_runpod_flags_after_its_program() -> None:
    got = container_argv(None, ["python", "handler.py"], DEFAULT_RUN_ARGS)
    assert got.argv == ["python", "handler.py", *DEFAULT_RUN_ARGS]


@given(st.integers(min_value=-300, max_value=600))
def test_cmd_exit_codes_read_as_git_bisect_run_reads_them(code: int) -> None:
    verdict = cmd_verdict(code)
    if code == 0:
        assert verdict is Verdict.GOOD
    elif code == 125:
        assert verdict is Verdict.SKIP
    elif 1 <= code <= 127:
        assert verdict is Verdict.BAD
    else:
        assert verdict is None  # the check itself failed: the bisect stops


@given(word, word)
def test_the_cmd_verdict_cache_key_holds_the_command(a: str, b: str) -> None:
    cache = VerdictCache(Path("/nonexistent"), "fp")
    key = [
        cache.path("cmd", "a" * 40, "a" * 40, Options(check_cmd=c).params("cmd")) for c in (a, b)
    ]
    assert (key[0] == key[1]) == (a == b)


@pytest.mark.parametrize(
    ("spec", "count", "ids"),
    [
        ("all", -1, ()),
        (2, 2, ()),
        ("3", 3, ()),
        ("device=0,1", 0, ("0", "1")),
        ("device=GPU-3a1b", 0, ("GPU-3a1b",)),
    ],
)
def test_gpu_forms(spec, count, ids) -> None:
    req = parse_gpus(spec)
    assert (req.count, req.device_ids) == (count, ids)
    docker = req.to_docker()
    assert docker["capabilities"] == [["gpu"]]
    assert docker.get("device_ids", []) == list(ids)


@pytest.mark.parametrize("spec", ["", "none", 0, -1, True, 1.5, "device=", "device=0,,1", "gpu=0"])
def test_bad_gpu_forms_are_config_errors(spec, tmp_path) -> None:
    value = f'"{spec}"' if isinstance(spec, str) else str(spec).lower()
    with pytest.raises(HarnessError) as info:
        parse_config(f"[run]\ngpus = {value}\n", tmp_path)
    assert info.value.kind == "config" and "run.gpus" in info.value.message


def test_the_nvidia_runtime_check_names_the_toolkit() -> None:
    runc = {"Runtimes": {"runc": {"path": "runc"}}, "DefaultRuntime": "runc"}
    require_gpu_runtime(None, runc)  # no GPUs asked for: nothing to check
    with pytest.raises(HarnessError) as info:
        require_gpu_runtime("all", runc)
    assert info.value.exit_code == EXIT_CODES["config"] == 10
    assert "NVIDIA Container Toolkit" in info.value.hint and "runc" in info.value.message
    assert has_nvidia_runtime({"Runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}})
    require_gpu_runtime(1, {"Runtimes": {"runc": {}, "nvidia": {}}})


def test_nvidia_smi_inventory_and_the_baseline_device() -> None:
    inv = parse_nvidia_smi("NVIDIA A100-SXM4-80GB, 550.54.15\nNVIDIA A100-SXM4-80GB, 550.54.15\n")
    assert (inv.count, inv.model, inv.driver) == (2, "NVIDIA A100-SXM4-80GB", "550.54.15")
    assert device_tag("all", inv) == "2 x NVIDIA A100-SXM4-80GB (driver 550.54.15), run.gpus=all"
    assert parse_nvidia_smi("") == GpuInventory() and GpuInventory().model is None
    assert device_tag(1, GpuInventory()).endswith("run.gpus=1")
