"""Run one worker container, wait until its API answers, time /runsync requests, read memory.

Ready means `GET /openapi.json` answers 200 (the runpod local API has no /health). A start that
never gets ready is tried once more before it counts. Containers carry the labels `harness=worker`,
`harness.session=<this process>` and `harness.image=<tag>`, and are removed on the way out of
`start_worker` whatever happens (exceptions, Ctrl-C, SIGTERM turned into one). Ports are
published on 127.0.0.1 only, on an ephemeral host port, so two workers can run side by side
(sharing the same volume) and a caller can interleave requests A,B,A,B.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import CA_BUNDLE_TARGET, CA_BUNDLE_VARS, Config
from harness.engines import LOCAL, Engine
from harness.errors import HarnessError
from harness.gpus import device_requests
from harness.livelog import LiveLog
from harness.memsampler import ProcessMemoryPeak
from harness.phases import PhaseSummary, summarize
from harness.progress import Progress, quiet
from harness.runargv import container_argv
from harness.startup_times import parse_docker_time, phase_times, ready_gap_s, strip_stamps


@dataclass
class RequestSample:
    seconds: float
    ok: bool
    status: str  # runpod job status (COMPLETED, FAILED) or HTTP/transport error text
    output_timings: dict[str, Any] | None = None
    error: str = ""


def _http(url: str, body: bytes | None, timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"} if body else {}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class RunningWorker:
    container: Any
    config: Config
    started_at: float  # monotonic time just before `docker run`
    ready: bool = False
    ready_s: float | None = None
    exit_code: int | None = None
    timed_out: bool = False
    host_port: int | None = None
    phases: PhaseSummary = field(default_factory=PhaseSummary)
    log_tail: str = ""
    retried: dict[str, Any] | None = None  # the first, never-ready attempt when this is the 2nd
    ready_at: float | None = None  # epoch seconds the API first answered (harness clock)
    container_started: float | None = None  # epoch seconds of the container's State.StartedAt
    phase_times: list[dict[str, Any]] = field(default_factory=list)  # startup_times.phase_times
    process_memory: ProcessMemoryPeak | None = None  # sampled while the container runs
    progress: Progress = quiet  # gets each phase line while `wait_ready` waits (livelog)
    argv: list[str] = field(default_factory=list)  # what the container runs (harness.runargv)
    start_error: str = ""  # Docker's reason when the process could not be started at all
    engine: Engine = LOCAL  # where the container runs
    # (host, port) this machine reaches the API at (engine.reach: a tunnel for ssh:// engines)
    address: tuple[str, int] | None = None
    _reach: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)

    def attempt(self) -> dict[str, Any]:
        """This start's outcome, as recorded for a retry: exit code, phase, timed out."""
        return {"exit_code": self.exit_code, "phase": self.phase, "timed_out": self.timed_out}

    def retry_note(self) -> str:
        """' (retried once; first attempt: ...)' for a retried start, else ''."""
        if self.retried is None:
            return ""
        r = self.retried
        how = "not ready in time" if r["timed_out"] else f"exit code {r['exit_code']}"
        return f" (retried once; first attempt: {how}, phase {r['phase']})"

    @property
    def phase(self) -> str | None:
        return self.phases.phase

    @property
    def base_url(self) -> str:
        if self.address is None and self.host_port is not None:
            self.address = self._reach.enter_context(self.engine.reach(self.host_port))
        host, port = self.address or ("127.0.0.1", self.host_port)
        return f"http://{host}:{port}"

    def _port(self) -> int | None:
        ports = (self.container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        bound = ports.get(f"{self.config.run.port}/tcp") or []
        return int(bound[0]["HostPort"]) if bound else None

    def refresh_logs(self, tail: int = 60) -> None:
        """Re-read the container log: phase records, the last `tail` lines, and when each phase
        line arrived (Docker's log timestamps, relative to the container's StartedAt)."""
        with contextlib.suppress(Exception):
            stamped = self.container.logs(stdout=True, stderr=True, timestamps=True)
            stamped = stamped.decode(errors="replace")
            log = strip_stamps(stamped)
            self.phases = summarize(log)
            lines = log.splitlines()[-tail:]
            if self.start_error:  # nothing ran, so nothing logged: Docker's reason is the log
                lines.append(f"docker: {self.start_error}")
            self.log_tail = "\n".join(lines)
            if self.container_started is None:
                self.container.reload()  # attrs from `docker run` predate the start
                started = (self.container.attrs.get("State") or {}).get("StartedAt") or ""
                self.container_started = parse_docker_time(started)
            self.phase_times = phase_times(stamped, self.container_started)

    @property
    def ready_gap_s(self) -> float | None:
        """The worker's ready line (as Docker saw it) to the API answering (as we saw it)."""
        return ready_gap_s(self.phase_times, self.ready_at, self.container_started)

    def wait_ready(self, timeout_s: float) -> bool:
        """Poll until the API answers, the container exits, or `timeout_s` passes; meanwhile
        each new phase line of the log goes to `self.progress` (log read every 0.5 s)."""
        deadline = self.started_at + timeout_s
        live = LiveLog(self.container, self.progress)
        while time.monotonic() < deadline:
            live.poll()
            self.container.reload()
            state = self.container.attrs["State"]
            if state["Status"] in ("exited", "dead") or self.start_error:
                self.exit_code = int(state["ExitCode"])
                break
            self.host_port = self.host_port or self._port()
            if self.host_port:
                with contextlib.suppress(OSError):
                    code, _ = _http(f"{self.base_url}/openapi.json", None, 2.0)
                    if code == 200:
                        self.ready = True
                        self.ready_s = time.monotonic() - self.started_at
                        self.ready_at = time.time()
                        break
            time.sleep(0.1)
        else:
            self.timed_out = True
        live.poll(force=True)  # the lines of the last moments (a failure's cause, the ready line)
        self.refresh_logs()
        return self.ready

    def request(self, payload: dict[str, Any]) -> RequestSample:
        """One timed POST /runsync; ok only when the job status is COMPLETED."""
        body = json.dumps(payload).encode()
        t0 = time.perf_counter()
        try:
            code, raw = _http(f"{self.base_url}/runsync", body, self.config.run.request_timeout_s)
        except (OSError, TimeoutError) as exc:
            return RequestSample(time.perf_counter() - t0, False, "transport", None, str(exc))
        seconds = time.perf_counter() - t0
        try:
            doc = json.loads(raw)
        except ValueError:
            return RequestSample(seconds, False, f"http {code}", None, raw[:300].decode("latin1"))
        status = str(doc.get("status", f"http {code}")) if isinstance(doc, dict) else f"http {code}"
        output = doc.get("output") if isinstance(doc, dict) else None
        timings = output.get("timings") if isinstance(output, dict) else None
        error = "" if status == "COMPLETED" else str(doc.get("error") or doc.get("detail") or doc)
        return RequestSample(
            seconds,
            status == "COMPLETED",
            status,
            timings if isinstance(timings, dict) else None,
            error[:500],
        )

    def peak_memory_bytes(self) -> tuple[int | None, str]:
        """(peak bytes, how it was read): the cgroup high-water mark while it ran."""
        cid = self.container.id
        for path in (
            Path(f"/sys/fs/cgroup/memory/docker/{cid}/memory.max_usage_in_bytes"),
            Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.peak"),
            Path(f"/sys/fs/cgroup/docker/{cid}/memory.peak"),
        ):
            with contextlib.suppress(OSError, ValueError):
                return int(path.read_text().strip()), f"cgroup {path.name}"
        with contextlib.suppress(Exception):
            stats = self.container.stats(stream=False)
            peak = (stats.get("memory_stats") or {}).get("max_usage")
            if peak:
                return int(peak), "docker stats max_usage"
        return None, "unavailable (no cgroup peak counter readable)"

    def peak_process_bytes(self) -> tuple[int | None, str]:
        """(peak bytes, source) of the container's processes' memory without page cache: the
        largest sample so far (one more is taken now)."""
        sampler = self.process_memory
        if sampler is None:
            return None, "unavailable (not sampled)"
        sampler.sample()
        return sampler.peak, sampler.source


def _volumes(config: Config) -> dict[str, dict[str, str]]:
    out = {}
    for m in config.run.mounts:
        src = config.path(m.source)
        if not src.exists():
            if not m.create:
                raise HarnessError(
                    f"mount source {src} does not exist",
                    "config",
                    "create it, or fix [[run.mounts]] in harness.toml",
                )
            src.mkdir(parents=True, exist_ok=True)
        out[str(src)] = {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
    return out


def _ca_bundle(config: Config) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """run.ca_bundle as a read-only file mount and the variables that point at it."""
    if not config.run.ca_bundle:
        return {}, {}
    src = config.path(config.run.ca_bundle)
    if not src.is_file():
        raise HarnessError(
            f"run.ca_bundle {src} is not a file", "config", "point run.ca_bundle at a PEM bundle"
        )
    return {str(src): {"bind": CA_BUNDLE_TARGET, "mode": "ro"}}, dict.fromkeys(
        CA_BUNDLE_VARS, CA_BUNDLE_TARGET
    )


def container_kwargs(
    client: Any, image_tag: str, config: Config, name: str
) -> tuple[dict[str, Any], list[str]]:
    """docker-py `containers.run`/`create` arguments for a worker of `image_tag`, and the argv
    the container will run (harness.runargv). run.env wins over the CA variables."""
    image_config = client.images.get(image_tag).attrs.get("Config") or {}
    run = container_argv(
        image_config.get("Entrypoint"), image_config.get("Cmd"), config.run.args, config.run.command
    )
    ca_volume, ca_env = _ca_bundle(config)
    kwargs: dict[str, Any] = {
        "command": run.command,
        "name": name,
        "detach": True,
        "environment": {**ca_env, **config.run.env},
        "volumes": {**_volumes(config), **ca_volume},
        "network": config.run.network,
        "labels": {"harness": "worker", "harness.session": SESSION, "harness.image": image_tag},
    }
    if run.entrypoint is not None:
        kwargs["entrypoint"] = run.entrypoint
    if config.run.network != "none":
        kwargs["ports"] = {f"{config.run.port}/tcp": ("127.0.0.1", None)}
    if config.run.memory_limit:
        kwargs["mem_limit"] = config.run.memory_limit
    if config.run.gpus is not None:
        kwargs["device_requests"] = device_requests(config.run.gpus)
    return kwargs, run.argv


SESSION = uuid.uuid4().hex[:12]  # this process: its containers carry harness.session=SESSION


def remove_session_containers(engines: list[Engine] | None = None) -> int:
    """Remove every container this process started (found by its session label) on `engines`
    (default: every engine a worker was started on in this process); how many.

    The last resort on Ctrl-C/SIGTERM: `start_worker` removes its own on the way out already.
    """
    removed = 0
    for target in engines if engines is not None else list(_USED) or [LOCAL]:
        removed += _remove_session_on(target)
    return removed


_USED: dict[Engine, None] = {}  # engines this process started containers on, in order


def _remove_session_on(target: Engine) -> int:
    removed = 0
    with contextlib.suppress(Exception):
        client = target.client(timeout=30)
        for c in client.containers.list(all=True, filters={"label": f"harness.session={SESSION}"}):
            with contextlib.suppress(Exception):
                c.remove(force=True)
                removed += 1
    return removed


def _remove(client: Any, name: str, container: Any | None) -> None:
    """Remove our container: the object we hold, else (created before `run` returned, e.g. an
    interrupt mid-call) the container of that name, only when it carries our session label."""
    with contextlib.suppress(Exception):
        if container is None:
            found = client.containers.get(name)
            if found.labels.get("harness.session") != SESSION:
                return  # a name clash with someone else's container: not ours to remove
            container = found
        container.remove(force=True)


def _created(client: Any, name: str) -> Any | None:
    """Our container called `name` when Docker created it (it carries our session label)."""
    with contextlib.suppress(Exception):
        found = client.containers.get(name)
        if found.labels.get("harness.session") == SESSION:
            return found
    return None


@contextlib.contextmanager
def _run_container(
    image_tag: str, config: Config, name: str, progress: Progress = quiet, engine: Engine = LOCAL
) -> Iterator[RunningWorker]:
    """One container of `image_tag` on `engine`, removed on the way out whatever happens (even
    when the interrupt lands inside `docker run`)."""
    from docker.errors import APIError  # docker is imported lazily, as in harness.dockercli

    client = engine.client()
    _USED[engine] = None
    kwargs, argv = container_kwargs(client, image_tag, config, name)
    container = None
    worker: RunningWorker | None = None
    try:
        started = time.monotonic()
        start_error = ""
        try:
            container = client.containers.run(image_tag, **kwargs)
        except APIError as exc:
            # Created but not started (e.g. the command is not in the image): a start-up that
            # failed, judged like one that exited, with Docker's reason as its log.
            container = _created(client, name)
            if container is None:
                raise
            start_error = str(exc.explanation or exc)
        worker = RunningWorker(
            container, config, started, progress=progress, argv=argv, engine=engine
        )
        worker.start_error = start_error
        worker.process_memory = ProcessMemoryPeak(container).start()
        yield worker
    finally:
        if worker is not None:
            if worker.process_memory is not None:
                worker.process_memory.stop()
            worker.refresh_logs()
            worker._reach.close()
        _remove(client, name, container)


@contextlib.contextmanager
def start_worker(
    image_tag: str,
    config: Config,
    *,
    name: str | None = None,
    wait: bool = True,
    progress: Progress = quiet,
    engine: Engine = LOCAL,
) -> Iterator[RunningWorker]:
    """Run `image_tag` with the configured args/env/mounts; wait for ready; always remove it.

    With `wait`, a start that never gets ready (exited, or not ready in run.ready_timeout_s) is
    tried once more in a fresh container before it is handed back not ready; `worker.retried`
    then holds the first attempt (exit code, phase, timed out). A worker that got ready on the
    second try carries it too. `progress` gets each phase line of the log while it waits.
    """
    name = name or f"harness-{uuid.uuid4().hex[:10]}"
    with _run_container(image_tag, config, name, progress, engine) as worker:
        if wait:
            worker.wait_ready(config.run.ready_timeout_s)
        if worker.ready or not wait:
            yield worker
            return
        first = worker.attempt()
    with _run_container(image_tag, config, f"{name}-retry", progress, engine) as worker:
        worker.retried = first
        worker.wait_ready(config.run.ready_timeout_s)
        yield worker
