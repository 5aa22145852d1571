"""Measure one commit end to end: build -> run -> time requests -> store (used by measure, compare
and bisect). Each failure is stored as a partial record and raised as a HarnessError carrying it.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from harness import __version__
from harness.atomic import write_atomic
from harness.cause import error_cause, telling_line, traceback_cause
from harness.coldstart import measure_cold
from harness.config import Config
from harness.container import RequestSample, RunningWorker, start_worker
from harness.enginefacts import engine_facts, facts_from_info, store_folder
from harness.engines import LOCAL, Engine
from harness.errors import HarnessError
from harness.gitrepo import CommitInfo, Repo
from harness.images import COMPRESSED_METHOD, build_image, compressed_size, layers
from harness.machine import machine_info
from harness.progress import Progress, quiet
from harness.results import (
    CommitRecord,
    EngineRecord,
    ImageRecord,
    LatencyRecord,
    Layer,
    Result,
    ResultStore,
    StartupRecord,
)
from harness.stats import percentile


def default_store(config: Config, engine: Engine = LOCAL) -> ResultStore:
    """<results_dir>/<machine id> for the local engine, <results_dir>/engine-<name>-<hash> for
    another (a result is reused only on the engine it was measured on)."""
    folder = machine_info().id if engine.is_default else store_folder("", engine_facts(engine))
    return ResultStore(config.path(config.measure.results_dir), folder)


def payloads_for(repo: Repo, sha: str, config: Config) -> list[dict[str, Any]]:
    """The request bodies to time: from the config, else the repo's test_input.json at `sha`."""
    if config.requests.payloads:
        return list(config.requests.payloads)
    raw = repo.read_file(sha, config.requests.file)
    if raw is None:
        raise HarnessError(
            f"no {config.requests.file} at {sha[:12]} and no [requests] payloads in the config",
            "config",
            "add a test_input.json to the worker repo or set [requests] payloads in harness.toml",
        )
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise HarnessError(
            f"{config.requests.file} at {sha[:12]} is not JSON ({exc})",
            "config",
            "fix the file or set [requests] payloads in harness.toml",
        ) from None
    if not isinstance(doc, dict) or "input" not in doc:
        raise HarnessError(
            f'{config.requests.file} at {sha[:12]} has no "input" key',
            "config",
            'RunPod test inputs look like {"input": {...}}',
        )
    return [doc]


def _engine_record(engine: Engine) -> EngineRecord:
    """The engine's facts; for the local engine, only its name when it does not answer (a
    record could be made without Docker before engines existed, and still can)."""
    try:
        return engine_facts(engine)
    except HarnessError:
        if not engine.is_default:
            raise
        return facts_from_info(engine, {})


def new_result(repo: Repo, commit: CommitInfo, config: Config, *, engine: Engine = LOCAL) -> Result:
    return Result(
        engine=_engine_record(engine),
        harness_version=__version__,
        config_fingerprint=config.fingerprint(),
        machine=machine_info(),
        commit=CommitRecord(
            sha=commit.sha,
            tree=commit.tree,
            subject=commit.subject,
            author=commit.author,
            date=commit.date,
            repo=repo.name,
        ),
    )


def _fail(result: Result, store: ResultStore | None, err: HarnessError) -> HarnessError:
    result.error = {
        "kind": err.kind,
        "message": err.message,
        "hint": err.hint,
        "exit_code": err.exit_code,
    }
    if err.cause:
        result.error["cause"] = err.cause
    if store is not None:
        store.save(result)
    err.partial = result
    return err


def build_into(
    result: Result,
    repo: Repo,
    config: Config,
    store: ResultStore | None,
    progress: Progress,
    *,
    engine: Engine = LOCAL,
) -> str:
    """Build (or reuse) the image on `engine` and fill result.image; returns the tag."""
    sha = result.commit.sha
    progress(f"building {sha[:12]}" + ("" if engine.is_default else f" on engine {engine.name}"))
    try:
        # build log lines stay out of the status line
        info = build_image(repo, sha, config, engine=engine)
    except HarnessError as err:
        if err.kind == "build":
            err.cause = err.cause or telling_line(err.log_tail or "")
            result.image = ImageRecord(
                built_ok=False, error=err.message, log_tail=err.log_tail, cause=err.cause
            )
            raise _fail(result, store, err) from None
        raise
    rec = ImageRecord(
        built_ok=True,
        tag=info.tag,
        id=info.id,
        cache_key=info.cache_key,
        size_bytes=info.size_bytes,
        built=info.built,
        build_s=round(info.build_s, 3),
        layers=[Layer(**row) for row in layers(info.tag, engine)],
        stand_ins=info.stand_ins,
    )
    if config.measure.compressed_size:
        progress(f"compressing layers of {info.tag}")
        rec.compressed_bytes = _compressed_with_cache(info.tag, config, engine)
        rec.compressed_method = COMPRESSED_METHOD
    result.image = rec
    return info.tag


def _compressed_with_cache(tag: str, config: Config, engine: Engine = LOCAL) -> int:
    """compressed_size with the per-layer cache kept at <results_dir>/layer-gzip.json."""
    path = config.path(config.measure.results_dir) / "layer-gzip.json"
    try:
        cache = {str(k): int(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        cache = {}
    size = compressed_size(tag, cache, engine)
    with contextlib.suppress(OSError):  # only a cache: losing it costs time, not results
        write_atomic(path, json.dumps(cache))
    return size


def startup_into(result: Result, worker: RunningWorker) -> None:
    ph = worker.phases
    result.startup = StartupRecord(
        ok=worker.ready,
        exit_code=worker.exit_code,
        phase=worker.phase,
        ready_s=round(worker.ready_s, 3) if worker.ready_s is not None else None,
        worker_ready_s=ph.ready_s,
        timed_out=worker.timed_out,
        phases=ph.records,
        log_tail=None if worker.ready else worker.log_tail,
        retried=worker.retried,
        phase_times=worker.phase_times,
        ready_gap_s=worker.ready_gap_s,
        argv=worker.argv,
    )


def memory_into(result: Result, worker: RunningWorker) -> None:
    """Both peaks: the cgroup's (page cache included) and the processes' own."""
    mem = result.memory
    mem.peak_bytes, mem.method = worker.peak_memory_bytes()
    mem.peak_rss_bytes, mem.memory_source = worker.peak_process_bytes()


def never_ready_error(result: Result, worker: RunningWorker, config: Config) -> HarnessError:
    st = result.startup
    phases = worker.phases
    if worker.timed_out:
        what = f"not ready after {config.run.ready_timeout_s:.0f} s (run.ready_timeout_s)"
    else:
        what = f"exited with code {worker.exit_code}"
    where = f" in phase {st.phase!r}" if st.phase else ""
    cause = f": {phases.cause}" if phases.cause else ""
    telling = telling_line(worker.log_tail)
    message = f"container for {result.commit.sha[:12]} {what}{where}{cause}{worker.retry_note()}"
    if telling and not (phases.cause and phases.cause in telling):
        message += f" (log: {telling})"
    hint = phases.remedy or "read startup.log_tail in the stored result"
    st.error = message
    st.cause = telling
    return HarnessError(message, "never_ready", hint, log_tail=worker.log_tail, cause=telling)


def latency_summary(first: RequestSample | None, warm: list[RequestSample]) -> LatencyRecord:
    samples = [round(s.seconds, 6) for s in warm if s.ok]
    timings = [s.output_timings for s in ([first] if first else []) + warm if s.output_timings]
    failed = next((s for s in ([first] if first else []) + warm if not s.ok), None)
    return LatencyRecord(
        ok=failed is None and first is not None,
        first_s=round(first.seconds, 6) if first else None,
        warm_p50_s=percentile(samples, 50),
        warm_p95_s=percentile(samples, 95),
        warm_min_s=min(samples) if samples else None,
        samples_s=samples,
        worker_timings=timings,
        error=f"{failed.status}: {failed.error}" if failed else None,
    )


def request_error(result: Result, sample: RequestSample, log: str = "") -> HarnessError:
    """The failed request, told by the exception line of the worker's log (else of the error the
    API returned; the runpod SDK puts the handler's traceback there), else by the API's error."""
    cause = traceback_cause(log) or error_cause(sample.error) or error_cause(log)
    result.latency.cause = cause
    told = cause or sample.error[:200]
    return HarnessError(
        f"request to {result.commit.sha[:12]} came back {sample.status}: {told}",
        "request",
        "check the request payload ([requests] in harness.toml / test_input.json) "
        "and the worker's log (latency.error and startup.log_tail in the stored result)",
        log_tail=log,
        cause=cause,
    )


def _one_attempt(result: Result) -> bool:
    """A stored never-ready failure judged from a single start (stored before retries)."""
    kind = (result.error or {}).get("kind")
    return kind == "never_ready" and result.startup.retried is None


def measure_commit(
    repo: Repo,
    rev: str,
    config: Config,
    *,
    samples: int | None = None,
    store: ResultStore | None = None,
    force: bool = False,
    progress: Progress = quiet,
    cold_volume: bool = False,
    engine: Engine = LOCAL,
) -> Result:
    """The stored result for `rev` on `engine`, measuring it first when absent (or when `force`).
    `cold_volume`: first one start on a fresh, empty volume (result.cold_start; measured anew)."""
    commit = repo.resolve(rev)
    store = store or default_store(config, engine)
    if not force and not cold_volume:
        cached = store.load(commit.sha, config.fingerprint())
        if cached is not None and _one_attempt(cached):
            progress(f"{commit.short}: stored never-ready record predates retries; measuring")
            cached = None
        if cached is not None:
            progress(f"{commit.short}: stored result {store.path(commit.sha)}")
            if cached.error:
                e = cached.error
                raise HarnessError(
                    f"(stored) {e['message']}",
                    e["kind"],
                    f"{e['hint']} (--force re-measures)",
                    partial=cached,
                )
            return cached
    n = samples or config.measure.samples
    result = new_result(repo, commit, config, engine=engine)
    payloads = payloads_for(repo, commit.sha, config)
    tag = build_into(result, repo, config, store, progress, engine=engine)
    if cold_volume:
        result.cold_start = measure_cold(tag, config, progress, engine=engine)
    progress(f"starting {tag}")
    with start_worker(tag, config, progress=progress, engine=engine) as worker:
        startup_into(result, worker)
        if not worker.ready:
            raise _fail(result, store, never_ready_error(result, worker, config))
        progress(f"ready in {worker.ready_s:.1f} s; first request")
        first = worker.request(payloads[0])
        warm: list[RequestSample] = []
        if first.ok:
            for i in range(n):
                progress(f"warm request {i + 1}/{n}")
                sample = worker.request(payloads[(i + 1) % len(payloads)])
                warm.append(sample)
                if not sample.ok:
                    break
        result.latency = latency_summary(first, warm)
        memory_into(result, worker)
        bad = next((s for s in [first, *warm] if not s.ok), None)
        if bad is not None:
            worker.refresh_logs()
            result.startup.log_tail = worker.log_tail
            raise _fail(result, store, request_error(result, bad, worker.log_tail))
    store.save(result)
    return result


def measure_pair(
    repo: Repo,
    rev_a: str,
    rev_b: str,
    config: Config,
    *,
    samples: int | None = None,
    progress: Progress = quiet,
    engine: Engine = LOCAL,
    config_b: Config | None = None,
    cold_volume: bool = False,
) -> tuple[Result, Result]:
    """Measure A and B in the same run, warm requests interleaved A,B,A,B (not stored: an A/B
    run is a comparison, the per-commit store keeps standalone measurements). `config_b`: B's
    own config (e.g. another Dockerfile for the same commit); `cold_volume`: each side first
    starts once on a fresh, empty volume (A, then B), before the warm starts."""
    n = samples or config.measure.samples
    configs = (config, config_b or config)
    results, tags = [], []
    for rev, cfg in zip((rev_a, rev_b), configs, strict=True):
        commit = repo.resolve(rev)
        result = new_result(repo, commit, cfg, engine=engine)
        tags.append(build_into(result, repo, cfg, None, progress, engine=engine))
        results.append(result)
    if cold_volume:
        for result, tag, cfg in zip(results, tags, configs, strict=True):
            result.cold_start = measure_cold(tag, cfg, progress, engine=engine)
    with contextlib.ExitStack() as stack:
        workers = []
        for result, tag, cfg in zip(results, tags, configs, strict=True):
            progress(f"starting {tag}")
            worker = stack.enter_context(start_worker(tag, cfg, progress=progress, engine=engine))
            startup_into(result, worker)
            if not worker.ready:
                raise _fail(result, None, never_ready_error(result, worker, cfg))
            workers.append(worker)
        pays = [payloads_for(repo, r.commit.sha, c) for r, c in zip(results, configs, strict=True)]
        firsts = [w.request(p[0]) for w, p in zip(workers, pays, strict=True)]
        warm: list[list[RequestSample]] = [[], []]
        for i in range(n):
            progress(f"interleaved round {i + 1}/{n}")
            for side in (0, 1):
                if firsts[side].ok and all(s.ok for s in warm[side]):
                    warm[side].append(workers[side].request(pays[side][(i + 1) % len(pays[side])]))
        for side, (result, worker) in enumerate(zip(results, workers, strict=True)):
            result.latency = latency_summary(firsts[side], warm[side])
            result.latency.interleaved_with = results[1 - side].commit.sha
            memory_into(result, worker)
        for side, result in enumerate(results):
            bad = next((s for s in [firsts[side], *warm[side]] if not s.ok), None)
            if bad is not None:
                raise _fail(result, None, request_error(result, bad))
    return results[0], results[1]
