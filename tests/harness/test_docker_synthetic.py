"""Integration: the harness against synthetic runpod workers (real Docker, real runpod API)."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.container import start_worker
from harness.errors import EXIT_CODES, HarnessError
from harness.gitrepo import Repo
from harness.images import build_image, compressed_size
from harness.measure import default_store, measure_commit
from tests.synthetic import harness_config, make_worker_repo, remove_images

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]
runner = CliRunner()


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory):
    """One repo: ok -> code-only change -> slow requests. Unique content, so no stale cache hit."""
    root = tmp_path_factory.mktemp("synth")
    name = f"synth-{uuid.uuid4().hex[:8]}"
    repo = make_worker_repo(root, name=name, files={"session.txt": name})
    shas = {"ok": repo.head}
    shas["code"] = repo.commit("code-only change", files={"extra.py": "# not copied\n"})
    shas["slow"] = repo.commit("slow requests", request_delay_s=0.2)
    cfg = harness_config(repo, measure={"samples": 4})
    yield repo, shas, cfg
    remove_images(f"harness-test/{name}:")


def cli(repo, *args: str):
    r = runner.invoke(app, [*args, "--repo", str(repo.path), "--config", str(repo.config_path)])
    return r


def test_build_then_cache_hit(synth) -> None:
    repo, shas, cfg = synth
    r = Repo(repo.path)
    first = build_image(r, shas["ok"], cfg)
    again = build_image(r, shas["ok"], cfg)
    assert first.built and not again.built
    assert again.id == first.id and again.cache_key == first.cache_key
    assert first.tag == f"harness-test/{repo.path.name}:{shas['ok'][:12]}"
    code = build_image(r, shas["code"], cfg)  # new context tree: a new key, layers from cache
    assert code.cache_key != first.cache_key and code.built
    # the label carries the key
    label = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            "-f",
            '{{index .Config.Labels "harness.cache_key"}}',
            first.tag,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert label == first.cache_key


def test_compressed_size_is_smaller_and_positive(synth) -> None:
    repo, shas, cfg = synth
    info = build_image(Repo(repo.path), shas["ok"], cfg)
    cache: dict[str, int] = {}
    packed = compressed_size(info.tag, cache)
    assert 0 < packed < info.size_bytes
    assert len(cache) >= 3  # one entry per non-empty layer
    # a second pass is served from the cache and agrees with an uncached pass
    assert compressed_size(info.tag, cache) == packed == compressed_size(info.tag)


def test_measure_json_and_store(synth) -> None:
    repo, shas, cfg = synth
    r = cli(repo, "measure", shas["ok"], "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout[r.stdout.index("{") :])
    assert doc["schema_version"] == 1
    assert doc["commit"]["sha"] == shas["ok"]
    st, lat = doc["startup"], doc["latency"]
    assert st["ok"] and st["exit_code"] is None and st["phase"] == "ready"
    assert 0 < st["worker_ready_s"] <= st["ready_s"] < 60
    assert doc["image"]["size_bytes"] > 100_000_000 and doc["image"]["layers"]
    assert len(lat["samples_s"]) == 4 and lat["first_s"] > 0
    assert lat["warm_p50_s"] >= 0.02  # the handler sleeps 20 ms per request
    assert lat["worker_timings"] and "total_s" in lat["worker_timings"][0]
    assert doc["memory"]["peak_bytes"] > 10_000_000
    path = default_store(cfg).path(shas["ok"])
    assert json.loads(path.read_text())["measured_at"] == doc["measured_at"]
    # a second measure is the stored record, not a new measurement; --force measures again
    again = measure_commit(Repo(repo.path), shas["ok"], cfg)
    assert again.measured_at == doc["measured_at"]
    forced = measure_commit(Repo(repo.path), shas["ok"], cfg, force=True, samples=2)
    assert forced.measured_at != doc["measured_at"] and len(forced.latency.samples_s) == 2


def test_two_workers_side_by_side(synth) -> None:
    repo, shas, cfg = synth
    r = Repo(repo.path)
    a, b = build_image(r, shas["ok"], cfg), build_image(r, shas["slow"], cfg)
    with start_worker(a.tag, cfg) as wa, start_worker(b.tag, cfg) as wb:
        assert wa.ready and wb.ready and wa.host_port != wb.host_port
        samples = [(w.request({"input": {"text": "x"}})) for w in (wa, wb, wa, wb)]
    assert all(s.ok for s in samples)
    assert samples[1].seconds > samples[0].seconds  # 200 ms vs 20 ms handler sleep
    names = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"id={wa.container.id}"], capture_output=True, text=True
    ).stdout
    assert names.strip() == ""  # removed on exit


def test_compare_flags_slow_requests(synth) -> None:
    repo, shas, _ = synth
    r = cli(repo, "compare", shas["ok"], shas["slow"], "--markdown")
    assert r.exit_code == EXIT_CODES["regression"], r.output
    assert "| warm latency p50 |" in r.stdout and "**worse**" in r.stdout
    assert "interleaved" in r.stdout


def test_compare_code_only_change_is_not_worse(synth) -> None:
    repo, shas, _ = synth
    r = cli(repo, "compare", shas["ok"], shas["code"], "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout[r.stdout.index("{") :])
    assert not doc["worse"] and doc["interleaved"]


def test_baseline_record_and_compare_by_name(synth) -> None:
    repo, shas, cfg = synth
    r = cli(repo, "baseline", "record", shas["ok"], "--name", "synthetic")
    assert r.exit_code == 0, r.output
    path = cfg.path(cfg.measure.baselines_dir) / "synthetic.json"
    assert json.loads(path.read_text())["result"]["commit"]["sha"] == shas["ok"]
    r = cli(repo, "compare", "synthetic", shas["slow"], "--json")
    assert r.exit_code == EXIT_CODES["regression"], r.output
    rows = {row["metric"]: row for row in json.loads(r.stdout[r.stdout.index("{") :])["rows"]}
    assert rows["image size vs stored baseline"]["verdict"] == "same"
    assert rows["warm latency p50"]["verdict"] == "worse"


# --- bad input: each a one-line error, a distinct exit code, the partial result stored ---


def stored(cfg, sha: str) -> dict:
    return json.loads(default_store(cfg).path(sha).read_text())


def test_broken_dockerfile(synth) -> None:
    repo, _, cfg = synth
    sha = repo.commit("broken build", broken_dockerfile=True)
    try:
        r = cli(repo, "measure", sha)
        assert r.exit_code == EXIT_CODES["build"], r.output
        assert r.output.count("error:") == 1 and "docker build failed" in r.output
        doc = stored(cfg, sha)
        assert doc["image"]["built_ok"] is False
        assert "synthetic broken build" in doc["image"]["log_tail"]
        assert doc["error"]["kind"] == "build"
        # stored failure: not rebuilt, same exit code, says so
        r = cli(repo, "measure", sha)
        assert r.exit_code == EXIT_CODES["build"] and "(stored)" in r.output
    finally:
        repo.commit("fix build", broken_dockerfile=False)


def test_import_error_is_never_ready_with_the_phase(synth) -> None:
    repo, _, cfg = synth
    sha = repo.commit("bad import", import_error=True)
    try:
        r = cli(repo, "measure", sha, "--json")
        assert r.exit_code == EXIT_CODES["never_ready"], r.output
        assert "exited with code 14 in phase 'imports'" in r.output
        printed = json.loads(r.stdout[r.stdout.index("{") :])  # the partial record, valid JSON
        doc = stored(cfg, sha)
        assert printed == doc
        assert doc["startup"]["ok"] is False
        assert doc["startup"]["exit_code"] == 14 and doc["startup"]["phase"] == "imports"
        assert "not_installed" in doc["startup"]["log_tail"]
    finally:
        repo.commit("fix import", import_error=False)


def test_generic_exit_without_phase_lines_keeps_the_log_tail(synth) -> None:
    repo, _, cfg = synth
    sha = repo.commit("crash", exit_code=3)
    try:
        with pytest.raises(HarnessError) as info:
            measure_commit(Repo(repo.path), sha, cfg)
        assert info.value.kind == "never_ready"
        assert info.value.partial.startup.exit_code == 3
    finally:
        repo.commit("no crash", exit_code=0)


def test_never_ready_timeout(synth) -> None:
    repo, _, _ = synth
    sha = repo.commit("slow start", startup_sleep_s=60)
    try:
        cfg = harness_config(repo, run={"ready_timeout_s": 10})
        with pytest.raises(HarnessError) as info:
            measure_commit(Repo(repo.path), sha, cfg)
        err = info.value
        assert err.kind == "never_ready" and "not ready after 10 s" in err.message
        assert err.partial.startup.timed_out and err.partial.startup.phase == "imports"
    finally:
        harness_config(repo, measure={"samples": 4})
        repo.commit("fast start", startup_sleep_s=0.0)


def test_failing_request(synth) -> None:
    repo, _, cfg = synth
    sha = repo.commit("failing handler", fail_requests=True)
    try:
        r = cli(repo, "measure", sha)
        assert r.exit_code == EXIT_CODES["request"], r.output
        assert "came back FAILED" in r.output
        doc = stored(cfg, sha)
        assert doc["startup"]["ok"] is True and doc["latency"]["ok"] is False
        assert "synthetic failure" in doc["latency"]["error"]
    finally:
        repo.commit("handler fixed", fail_requests=False)


def test_missing_test_input_is_a_config_error(synth) -> None:
    repo, _, _ = synth
    (repo.path / "test_input.json").unlink()
    repo.git("commit", "-q", "-am", "no test input")
    try:
        r = cli(repo, "measure", "HEAD")
        assert r.exit_code == EXIT_CODES["config"], r.output
        assert "no test_input.json" in r.output
    finally:
        repo.commit("test input back")


def test_hard_size_limit_fails_compare(synth) -> None:
    repo, shas, _ = synth
    harness_config(repo, measure={"samples": 3}, limits={"image_hard_bytes": 100_000_000})
    try:
        r = cli(repo, "compare", shas["ok"], shas["code"])
        assert r.exit_code == EXIT_CODES["regression"], r.output
        assert "image size hard limit" in r.output
    finally:
        harness_config(repo, measure={"samples": 4})


def test_process_memory_and_phase_times(synth) -> None:
    """A worker holding 200 MiB: peak_rss_bytes sees it and stays within the cgroup's
    incl.-cache high-water mark; each phase line gets Docker's arrival time."""
    repo, _, _ = synth
    sha = repo.commit("holds 200 MiB during requests", alloc_mb=200)
    try:
        r = cli(repo, "measure", sha, "--json")
        assert r.exit_code == 0, r.output
        doc = json.loads(r.stdout[r.stdout.index("{") :])
        mem = doc["memory"]
        assert mem["peak_rss_bytes"] >= 200 << 20, mem
        assert mem["peak_rss_bytes"] <= mem["peak_bytes"] + (1 << 20), mem
        assert mem["memory_source"].startswith(("cgroup v1", "cgroup v2", "docker stats")), mem
        st = doc["startup"]
        assert [(p["phase"], p["status"]) for p in st["phase_times"]] == [
            ("imports", "ok"),
            ("ready", "ok"),
        ]
        at = [p["at_s"] for p in st["phase_times"]]
        assert 0 <= at[0] <= at[1], st["phase_times"]
        assert all(p["elapsed_s"] is not None for p in st["phase_times"])
        assert st["ready_gap_s"] is not None
        assert st["phases"][-1]["phase"] == "ready"  # the raw records are still there
        table = cli(repo, "measure", sha)  # the stored record, as a person reads it
        assert table.exit_code == 0, table.output
        assert "peak memory incl. page cache" in table.output
        assert "peak process memory" in table.output
        assert "start-up phases" in table.output and "ready gap" in table.output
    finally:
        repo.commit("no ballast", alloc_mb=0)
