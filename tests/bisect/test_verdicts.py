"""The verdict cache without Docker: keys, the options in them, corrupt entries, and resume."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.bisect import run_bisect
from harness.classify import bound
from harness.config import parse_config
from harness.errors import HarnessError
from harness.gitrepo import Repo
from harness.judgement import CHECKS, Judgement, Options
from harness.latency_bisect import cache_params
from harness.noisysearch import NoisySearch
from harness.search import Verdict
from harness.verdicts import VerdictCache

SHA, REF = "a" * 40, "b" * 40


def judgement(**kw) -> Judgement:
    base = Judgement("size", SHA, REF, Verdict.BAD, "120 MB vs 100 MB (+20.0%)", {"ratio": 1.2})
    return replace(base, **kw)


# -- keys ---------------------------------------------------------------------------------------
key_parts = st.tuples(
    st.sampled_from([*CHECKS, "latency-confirm"]),
    st.text("0123456789abcdef", min_size=40, max_size=40),
    st.text("0123456789abcdef", min_size=40, max_size=40),
    st.dictionaries(st.text(max_size=5), st.integers() | st.floats(allow_nan=False), max_size=3),
    st.text(max_size=16),
)


@given(key_parts, key_parts)
def test_one_file_per_key(a, b) -> None:
    """Same check, sha, reference, options and config: same file; any part differs: another."""
    path_a = VerdictCache(Path("/c"), a[4]).path(*a[:4])
    path_b = VerdictCache(Path("/c"), b[4]).path(*b[:4])
    assert (path_a == path_b) == (a == b)
    assert path_a.parent == Path("/c") / a[0] and path_a.name.startswith(a[1][:12])


options = st.builds(
    Options,
    threshold=st.sampled_from([0.1, 0.2, 0.5]),
    size_threshold=st.sampled_from([0.05, 0.1]),
    samples=st.sampled_from([4, 6]),
    max_samples=st.sampled_from([24, 30]),
    confirm_samples=st.sampled_from([20, 30]),
    cold_rounds=st.sampled_from([3, 4]),
    max_cold_rounds=st.sampled_from([6, 8]),
    cold_floor_s=st.sampled_from([0.1, 0.25]),
    force=st.booleans(),
)
# The options that change what a verdict of each check means; nothing else may enter its key.
MEANING = {
    "build": (),
    "startup": (),
    "size": ("size_threshold",),
    "latency": ("threshold", "samples", "max_samples"),
    "cold": ("threshold", "cold_rounds", "max_cold_rounds", "cold_floor_s"),
}
CONFIRM = {"latency": ("confirm_samples",), "cold": ()}  # cold confirms with max_cold_rounds


# Another valid value for each option.
OTHER = {
    "threshold": 0.3,
    "size_threshold": 0.2,
    "samples": 4,
    "max_samples": 30,
    "confirm_samples": 20,
    "cold_rounds": 3,
    "max_cold_rounds": 8,
    "cold_floor_s": 0.1,
    "force": True,
}


@pytest.mark.parametrize("field", sorted(OTHER))
@pytest.mark.parametrize("check", CHECKS)
def test_an_option_enters_the_key_of_exactly_the_checks_it_changes(check, field) -> None:
    cache = VerdictCache(Path("/c"), "cfg")
    before, after = Options(), replace(Options(), **{field: OTHER[field]})
    changed = cache.path(check, SHA, REF, before.params(check)) != cache.path(
        check, SHA, REF, after.params(check)
    )
    assert changed is (field in MEANING[check])


@given(st.sampled_from(CHECKS), options, options)
def test_keys_are_equal_exactly_when_the_meaningful_options_are(check, a, b) -> None:
    cache = VerdictCache(Path("/c"), "cfg")
    same = all(getattr(a, f) == getattr(b, f) for f in MEANING[check])
    key_a = cache.path(check, SHA, REF, a.params(check))
    assert (key_a == cache.path(check, SHA, REF, b.params(check))) == same


@given(st.sampled_from(sorted(CONFIRM)), options, options)
def test_a_confirmation_has_its_own_key(check, a: Options, b: Options) -> None:
    cache = VerdictCache(Path("/c"), "cfg")
    same = all(getattr(a, f) == getattr(b, f) for f in MEANING[check] + CONFIRM[check])
    key_a = cache.path(f"{check}-confirm", SHA, REF, a.confirm_params(check))
    assert (key_a == cache.path(f"{check}-confirm", SHA, REF, b.confirm_params(check))) == same
    assert a.confirm_params(check) != a.params(check)


def test_threshold_changes_latency_keys_but_not_build_or_size(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path, "cfg")
    low, high = Options(threshold=0.1), Options(threshold=0.3)
    for check, changes in (("latency", True), ("cold", True), ("build", False), ("size", False)):
        differs = cache.path(check, SHA, REF, low.params(check)) != cache.path(
            check, SHA, REF, high.params(check)
        )
        assert differs is changes, check


# -- put, get, corrupt entries -----------------------------------------------------------------
def test_put_then_get_in_another_cache_object(tmp_path: Path) -> None:
    params = Options().params("size")
    stored = judgement(position=7, seconds=2.5)
    path = VerdictCache(tmp_path, "cfg").put(stored, params)
    assert json.loads(path.read_text()) == stored.to_json()  # the file format
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    again = VerdictCache(tmp_path, "cfg").get("size", SHA, REF, params)
    assert again == replace(stored, cached=True)
    assert VerdictCache(tmp_path, "other-config").get("size", SHA, REF, params) is None
    assert VerdictCache(tmp_path, "cfg").get("size", SHA, REF, {"size_threshold": 0.5}) is None


CORRUPT = [
    b"",
    b"{",
    b'{"check": "size"',
    b"[]",
    b"null",
    b"\xff\xfe not utf-8",
    json.dumps({**judgement().to_json(), "verdict": "maybe"}).encode(),
    json.dumps({**judgement().to_json(), "sha": 5}).encode(),
    json.dumps({**judgement().to_json(), "figures": []}).encode(),
    json.dumps({**judgement().to_json(), "cached": "no"}).encode(),
    json.dumps({**judgement().to_json(), "extra": 1}).encode(),
    json.dumps({k: v for k, v in judgement().to_json().items() if k != "reason"}).encode(),
    json.dumps(judgement(sha="c" * 40).to_json()).encode(),  # another commit's verdict
    b"[" * 100_000,  # deeper than the JSON parser recurses
]


@pytest.mark.parametrize("raw", CORRUPT, ids=range(len(CORRUPT)))
def test_a_corrupt_entry_is_absent(tmp_path: Path, raw: bytes) -> None:
    cache = VerdictCache(tmp_path, "cfg")
    params = Options().params("size")
    path = cache.path("size", SHA, REF, params)
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    assert cache.get("size", SHA, REF, params) is None


@given(st.binary(max_size=200))
def test_any_bytes_read_as_a_judgement_or_absent(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        cache = VerdictCache(Path(folder), "cfg")
        path = cache.path("build", SHA, REF, {})
        path.parent.mkdir(parents=True)
        path.write_bytes(raw)
        found = cache.get("build", SHA, REF, {})
    assert found is None or (found.sha, found.check) == (SHA, "build")


# -- resume: a bisect whose every verdict is cached needs no Docker ----------------------------
def _history(tmp_path: Path, n: int) -> tuple[Repo, list[str]]:
    path = tmp_path / "r"
    path.mkdir()
    env = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "Dockerfile").write_text("FROM scratch\nCOPY f.txt /\n")
    shas = []
    for i in range(n):
        (path / "f.txt").write_text(str(i))
        subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(path), *env, "commit", "-qm", f"c{i}"], check=True)
        shas.append(
            subprocess.run(
                ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True
            ).stdout.strip()
        )
    return Repo(path), shas


def _cache_latency_bisect(
    cache: VerdictCache, opts: Options, shas: list[str], first_bad: int
) -> None:
    """What an interrupted latency bisect leaves in the cache: the ends' comparison (with the
    ends' samples) and one record per visit, made here by running the search on sure evidence."""
    ends = {"status": "regression", "ratio": 1.5, "low": 1.3, "high": 1.7, "message": "ends"}
    pools = {"good": [0.2, 0.21, 0.19, 0.2], "bad": [0.3, 0.31, 0.29, 0.3]}
    record = Judgement(
        "latency", shas[-1], shas[0], Verdict.BAD, "ends", {"ends": ends, "pools": pools}
    )
    cache.put(record, cache_params(opts, shas[-1], "ends"))
    search = NoisySearch(len(shas), cap=bound(opts.error_rate) / 2, confidence=opts.confidence)
    while (i := search.next_probe()) is not None:
        visit = search.visits.get(i, 0) + 1
        llr = 2 * bound(opts.error_rate) * (1 if i >= first_bad else -1)
        verdict = Verdict.BAD if llr > 0 else Verdict.GOOD
        figures = {"llr": llr, "median_s": 0.3 if llr > 0 else 0.2, "samples": 5}
        visit_record = Judgement("latency", shas[i], shas[0], verdict, f"#{i}", figures)
        cache.put(visit_record, cache_params(opts, shas[-1], f"visit-{visit}"))
        search.record(i, llr)


@pytest.mark.parametrize("first_bad", [1, 5, 9])
def test_resume_answers_every_step_from_the_cache(tmp_path, monkeypatch, first_bad) -> None:
    """Verdicts stored by an earlier (interrupted) run: the same bisect measures nothing, and
    the engine is unreachable, so any step not answered from the cache would fail."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    repo, shas = _history(tmp_path, 10)
    config = parse_config(f'[measure]\nresults_dir = "{tmp_path / "results"}"\n', tmp_path)
    cache, opts = VerdictCache.for_config(config), Options()
    for i, sha in enumerate(shas):
        verdict = Verdict.BAD if i >= first_bad else Verdict.GOOD
        cache.put(Judgement("build", sha, shas[0], verdict, f"#{i}"), opts.params("build"))
    _cache_latency_bisect(cache, opts, shas, first_bad)

    run = run_bisect(repo, shas[0], shas[-1], config, checks=("build", "latency"), options=opts)
    assert run.measured == [] and run.built == []
    assert {r.check: r.first_bad for r in run.checks} == {
        "build": shas[first_bad],
        "latency": shas[first_bad],
    }
    assert all(p.cached for r in run.checks for p in r.probes)
    confirmation = run.checks[1].confirmation
    assert confirmation is not None and confirmation.verdict is Verdict.BAD
    assert confirmation.check == "latency-confirm" and "posterior" in confirmation.reason

    # force ignores the cache: now the first step needs the (unreachable) engine
    with pytest.raises(HarnessError) as info:
        run_bisect(repo, shas[0], shas[-1], config, checks=("build",), options=Options(force=True))
    assert info.value.kind == "docker"


def test_a_startup_bad_from_one_attempt_is_judged_again(tmp_path: Path) -> None:
    """Start-up BAD verdicts stored before never-ready starts were retried are not trusted;
    one that records its retry, and any GOOD one, are."""
    cache = VerdictCache(tmp_path, "fp")
    once = judgement(check="startup", reason="not ready: exit code 3", figures={"exit_code": 3})
    cache.put(once, {})
    assert cache.get("startup", SHA, REF, {}) is None
    first = {"exit_code": 3, "phase": "serve", "timed_out": False}
    twice = replace(once, figures={"exit_code": 3, "retried": first})
    cache.put(twice, {})
    assert cache.get("startup", SHA, REF, {}).figures["retried"] == first
    good = replace(once, verdict=Verdict.GOOD, reason="ready in 3 s", figures={"retried": None})
    cache.put(good, {})
    assert cache.get("startup", SHA, REF, {}).verdict == Verdict.GOOD


def test_puts_from_many_threads_leave_whole_records(tmp_path: Path) -> None:
    """The parallel bisect stores verdicts from several engines' probes at once: every record
    read back is one whole judgement that some thread wrote, and no temp file is left."""
    cache = VerdictCache(tmp_path, "fp")
    keys = [("size", f"{i:x}" * 40) for i in range(3)]
    heads = {f"thread {t} put {n} " for t in range(8) for n in range(40)}

    errors: list[BaseException] = []

    def writer(thread: int) -> None:
        for n in range(40):
            check, sha = keys[(thread + n) % len(keys)]
            reason = f"thread {thread} put {n} " + "x" * 4000  # big enough to interleave writes
            try:
                cache.put(judgement(check=check, sha=sha, reason=reason), {})
            except Exception as exc:  # a thread's failure must fail the test
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for check, sha in keys:
        got = cache.get(check, sha, REF, {})
        assert got is not None and got.sha == sha
        assert got.reason[: got.reason.index("x")] in heads
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
