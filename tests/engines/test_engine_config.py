"""[[engines]] in harness.toml, the pool built from it, and what an engine's record means (pure)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.config import parse_config
from harness.endpoints import check_endpoint, endpoint_kind
from harness.enginefacts import facts_from_info, store_folder
from harness.engines import LOCAL, Engine, TLSFiles, engines_from_config, select
from harness.errors import HarnessError
from harness.judgement import Options
from harness.results import (
    CommitRecord,
    EngineRecord,
    LatencyRecord,
    Machine,
    Result,
    StartupRecord,
)
from harness.scorecard import score

POOL = """
[[engines]]
name = "local"
endpoint = "default"

[[engines]]
name = "gpu-box"
endpoint = "ssh://ci@gpu1.example.internal"
labels = { gpu = "H100", arch = "amd64" }

[[engines]]
name = "tls"
endpoint = "tcp://10.0.0.5:2376"
tls = { ca = "certs/ca.pem", cert = "certs/cert.pem", key = "certs/key.pem" }

[[engines]]
name = "no-build"
endpoint = "unix:///run/other.sock"
build_on = "local"
"""


def cfg(text: str, base: Path = Path("/srv/h")):
    return parse_config(text, base)


def test_no_engines_is_the_local_engine_alone() -> None:
    assert engines_from_config(cfg("")) == [LOCAL]
    assert LOCAL.name == "local" and LOCAL.is_default


def test_pool_in_file_order_with_labels_tls_and_builder() -> None:
    pool = engines_from_config(cfg(POOL))
    assert [e.name for e in pool] == ["local", "gpu-box", "tls", "no-build"]
    assert [e.kind for e in pool] == ["context", "ssh", "tcp", "unix"]
    assert dict(pool[1].labels) == {"gpu": "H100", "arch": "amd64"}
    assert pool[2].tls == TLSFiles(
        "/srv/h/certs/ca.pem", "/srv/h/certs/cert.pem", "/srv/h/certs/key.pem"
    )
    assert pool[3].builder == pool[0] and pool[0].builder is None


def test_engines_do_not_change_what_a_measurement_means() -> None:
    assert cfg(POOL).fingerprint() == cfg("").fingerprint()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            '[[engines]]\nname="a"\nendpoint="default"\n[[engines]]\nname="a"\nendpoint="x"\n',
            "repeated: a",
        ),
        ('[[engines]]\nname="a"\nendpoint="http://h:80"\n', "scheme http://"),
        ('[[engines]]\nname="a"\nendpoint="unix://run/d.sock"\n', "absolute path"),
        ('[[engines]]\nname="a"\nendpoint="tcp://"\n', "names no host"),
        ('[[engines]]\nname="a"\nendpoint="my context"\n', "not a context name"),
        ('[[engines]]\nname="a b"\nendpoint="default"\n', "engines.0.name"),
        (
            '[[engines]]\nname="a"\nendpoint="unix:///d.sock"\ntls={ca="c",cert="c",key="k"}\n',
            "tcp:// endpoints only",
        ),
        ('[[engines]]\nname="a"\nendpoint="default"\nbuild_on="zz"\n', "not another engine"),
        ('[[engines]]\nname="a"\nendpoint="default"\nbuild_on="a"\n', "not another engine"),
        (
            '[[engines]]\nname="a"\nendpoint="default"\nbuild_on="b"\n'
            '[[engines]]\nname="b"\nendpoint="unix:///b"\nbuild_on="a"\n',
            "does not build itself",
        ),
        ('[[engines]]\nname="a"\nendpoint="default"\nflavour="x"\n', "flavour"),
    ],
)
def test_bad_engine_entries_are_config_errors(text: str, said: str) -> None:
    with pytest.raises(HarnessError) as info:
        cfg(text)
    assert info.value.kind == "config"
    assert said in info.value.message


@given(
    st.one_of(
        st.from_regex(r"unix:///[a-z0-9/._-]{1,30}", fullmatch=True),
        st.from_regex(
            r"ssh://([a-z]{1,8}@)?[a-z][a-z0-9.-]{0,20}(:[1-9][0-9]{0,3})?", fullmatch=True
        ),
        st.from_regex(r"tcp://[a-z0-9][a-z0-9.-]{0,20}:[1-9][0-9]{0,4}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    )
)
def test_well_formed_endpoints_are_accepted(endpoint: str) -> None:
    assert check_endpoint(endpoint) == endpoint
    assert endpoint_kind(endpoint) in ("unix", "ssh", "tcp", "context")


@given(st.text(max_size=40))
def test_any_endpoint_text_is_accepted_or_refused_with_a_reason(text: str) -> None:
    try:
        assert check_endpoint(text) == text
    except ValueError as exc:
        assert str(exc)


def test_select_narrows_or_names_the_choices() -> None:
    pool = engines_from_config(cfg(POOL))
    assert select(pool, None) == pool
    assert select(pool, "gpu-box") == [pool[1]]
    with pytest.raises(HarnessError) as info:
        select(pool, "gpu-bx")
    assert info.value.kind == "config"
    assert (
        "'gpu-bx'" in info.value.message and "local, gpu-box, tls, no-build" in info.value.message
    )


def test_engines_are_keys_by_name_and_endpoint() -> None:
    a = Engine("a", "unix:///a.sock", {"gpu": "H100"})
    same = Engine("a", "unix:///a.sock", {"gpu": "A10"})
    assert a == same and {a: 1}[same] == 1
    assert a != Engine("a", "unix:///b.sock")
    assert Options().engines == (LOCAL,)
    with pytest.raises(ValueError, match="no engine"):
        Options(engines=())


def test_cli_env_points_the_docker_cli_at_the_engine(tmp_path: Path) -> None:
    base = {**os.environ, "DOCKER_CONTEXT": "elsewhere", "DOCKER_TLS_VERIFY": "1"}
    os_env = dict(os.environ)
    assert LOCAL.cli_env() == os_env
    unix = Engine("u", "unix:///tmp/u.sock").cli_env()
    assert unix["DOCKER_HOST"] == "unix:///tmp/u.sock"
    assert "DOCKER_CONTEXT" not in unix and "DOCKER_TLS_VERIFY" not in unix
    assert set(base) - {"DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_HOST"} <= set(unix)
    ctx = Engine("c", "gpu-ctx").cli_env()
    assert ctx["DOCKER_CONTEXT"] == "gpu-ctx" and "DOCKER_HOST" not in ctx
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text(name)
    tls = Engine(
        "t",
        "tcp://h:2376",
        tls=TLSFiles(*(str(tmp_path / n) for n in ("ca.pem", "cert.pem", "key.pem"))),
    )
    env = tls.cli_env()
    assert env["DOCKER_HOST"] == "tcp://h:2376" and env["DOCKER_TLS_VERIFY"] == "1"
    assert env["DOCKER_CERT_PATH"] == str(tmp_path)


def test_tls_files_with_other_names_get_a_folder_the_cli_reads(tmp_path: Path) -> None:
    names = ("my-ca.crt", "client.crt", "client.key")
    for name in names:
        (tmp_path / name).write_text(name)
    files = TLSFiles(*(str(tmp_path / n) for n in names))
    folder = Path(
        Engine(f"t-{tmp_path.name}", "tcp://h:2376", tls=files).cli_env()["DOCKER_CERT_PATH"]
    )
    assert [(folder / n).read_text() for n in ("ca.pem", "cert.pem", "key.pem")] == list(names)


INFO = {
    "ID": "ABCD:EFGH",
    "ServerVersion": "27.3.1",
    "OperatingSystem": "Ubuntu 22.04.4 LTS",
    "OSType": "linux",
    "Architecture": "x86_64",
    "KernelVersion": "6.5.0",
    "NCPU": 32,
    "MemTotal": 270_000_000_000,
    "Runtimes": {"runc": {}, "nvidia": {"path": "nvidia-container-runtime"}},
    "DefaultRuntime": "runc",
    "DiscoveredDevices": [
        {"Source": "cdi", "ID": "nvidia.com/gpu=0"},
        {"Source": "cdi", "ID": "nvidia.com/gpu=1"},
    ],
}


def test_facts_come_from_the_engines_docker_info() -> None:
    box = Engine("gpu-box", "ssh://ci@gpu1", {"gpu": "H100"})
    rec = facts_from_info(box, INFO)
    assert (rec.name, rec.endpoint_kind, rec.cpus, rec.arch) == ("gpu-box", "ssh", 32, "x86_64")
    assert rec.nvidia_runtime and rec.gpus == ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]
    assert rec.labels == {"gpu": "H100"} and rec.engine_id == "ABCD:EFGH"
    bare = facts_from_info(LOCAL, {})
    assert not bare.nvidia_runtime and bare.cpus == 0 and bare.endpoint == "default"


def test_store_folders_keep_engines_apart() -> None:
    local = facts_from_info(LOCAL, INFO)
    box = facts_from_info(Engine("gpu-box", "ssh://ci@gpu1"), INFO)
    assert store_folder("host-1234", local) == "host-1234"  # as before engines
    assert store_folder("host-1234", box).startswith("engine-gpu-box-")
    assert store_folder("host-1234", box) == store_folder("other", box)


def _result(sha: str, engine: EngineRecord | None, median: float) -> Result:
    samples = [median * (1 + 0.01 * (i % 3)) for i in range(10)]
    return Result(
        machine=Machine(id="m1"),
        commit=CommitRecord(sha=sha * 40),
        startup=StartupRecord(ok=True, ready_s=3.0),
        latency=LatencyRecord(ok=True, warm_p50_s=median, samples_s=samples),
        engine=engine,
    )


def test_a_record_without_an_engine_reads_as_the_local_engine() -> None:
    old = _result("a", None, 0.5)
    text = old.to_json().replace('"engine": null', '"unused": 0')
    back = Result.from_json(text)
    assert back.engine is None and back.measured_on.name == "local"
    new = _result("b", facts_from_info(LOCAL, INFO), 0.5)
    assert Result.from_json(new.to_json()).measured_on.engine_id == "ABCD:EFGH"


def test_latency_is_compared_only_between_samples_of_one_engine() -> None:
    local = facts_from_info(LOCAL, INFO)
    second = facts_from_info(Engine("second", "unix:///tmp/d2.sock"), {**INFO, "ID": "OTHER"})
    # an old local record and a new one: one engine, compared (10x slower is worse)
    same = score(_result("a", None, 0.1), _result("b", local, 1.0), cfg(""))
    rows = {r.metric: r for r in same.rows}
    assert same.same_engine and rows["warm latency p50"].verdict == "worse"
    # the same samples from two engines: not compared, and the card says why
    apart = score(_result("a", local, 0.1), _result("b", second, 1.0), cfg(""))
    rows = {r.metric: r for r in apart.rows}
    assert not apart.same_engine and apart.latency is None
    assert rows["warm latency p50"].verdict == "unknown"
    assert rows["warm latency p50"].detail == "measured on different engines (local vs second)"
    assert rows["ready time"].verdict == "unknown"
    assert apart.to_dict()["engines"] == ["local", "second"]


def test_worker_ports_are_reached_on_this_host_or_refused_for_tcp() -> None:
    with Engine("u", "unix:///tmp/u.sock").reach(32768) as address:
        assert address == ("127.0.0.1", 32768)
    with pytest.raises(HarnessError) as info, Engine("t", "tcp://h:2376").reach(32768):
        pass
    assert info.value.kind == "docker" and "ssh://" in info.value.hint
